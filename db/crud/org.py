"""Regions, stores and guides."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.models import Guide, Region, Store


def list_regions(*, session: Session) -> list[Region]:
    """All regions, by id."""
    return list(session.exec(select(Region).order_by(col(Region.id))))


def list_stores(*, session: Session, region_id: str | None = None) -> list[Store]:
    """Stores, optionally of one region, by id."""
    stmt = select(Store).order_by(col(Store.id))
    if region_id is not None:
        stmt = stmt.where(Store.region_id == region_id)
    return list(session.exec(stmt))


def get_store(*, session: Session, store_id: str) -> Store | None:
    """The store ``store_id``, or ``None``."""
    return session.get(Store, store_id)


def list_guides(
    *, session: Session, store_id: str | None = None, active_only: bool = True
) -> list[Guide]:
    """Guides (store managers included), optionally of one store, by id."""
    stmt = select(Guide).order_by(col(Guide.id))
    if store_id is not None:
        stmt = stmt.where(Guide.store_id == store_id)
    if active_only:
        stmt = stmt.where(col(Guide.active).is_(True))
    return list(session.exec(stmt))


def get_guide(*, session: Session, guide_id: str) -> Guide | None:
    """The guide ``guide_id``, or ``None``."""
    return session.get(Guide, guide_id)


def get_store_manager(*, session: Session, store_id: str) -> Guide | None:
    """The active manager of ``store_id``: the store's ``manager_guide_id``, else any active
    guide of the store whose role is ``store_manager``."""
    store = session.get(Store, store_id)
    if store is None:
        return None
    if store.manager_guide_id:
        manager = session.get(Guide, store.manager_guide_id)
        if manager is not None and manager.active:
            return manager
    stmt = (
        select(Guide)
        .where(Guide.store_id == store_id, Guide.role == "store_manager")
        .where(col(Guide.active).is_(True))
        .order_by(col(Guide.id))
    )
    return session.exec(stmt).first()

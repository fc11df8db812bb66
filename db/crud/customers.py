"""Customer profiles: lookup, search and the set-semantics updates journeys make."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from db.crud._util import read_back
from db.crud.bindings import bind_guide
from db.errors import NotFoundError
from db.models import Customer, CustomerCreate, CustomerUpdate, utcnow


def get_customer(*, session: Session, customer_id: str) -> Customer | None:
    """The customer ``customer_id``, or ``None``."""
    return session.get(Customer, customer_id)


def get_customers(*, session: Session, customer_ids: Sequence[str]) -> list[Customer]:
    """The customers among ``customer_ids`` that exist, in the order asked for."""
    if not customer_ids:
        return []
    rows = session.exec(select(Customer).where(col(Customer.id).in_(list(customer_ids))))
    by_id = {c.id: c for c in rows}
    return [by_id[i] for i in customer_ids if i in by_id]


def search_customers(
    *,
    session: Session,
    query: str,
    store_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Customer]:
    """Customers whose id or phone starts with ``query`` or whose name contains it."""
    q = query.strip()
    stmt = select(Customer)
    if q:
        stmt = stmt.where(
            or_(
                col(Customer.id).startswith(q.upper()),
                col(Customer.phone).startswith(q),
                col(Customer.name).contains(q),
            )
        )
    if store_id is not None:
        stmt = stmt.where(Customer.store_id == store_id)
    stmt = stmt.order_by(col(Customer.id)).offset(offset).limit(limit)
    return list(session.exec(stmt))


def create_customer(*, session: Session, customer_create: CustomerCreate) -> Customer:
    """Insert a customer (and the start of their guide-binding history)."""
    customer = Customer.model_validate(customer_create)
    guide_id, customer.guide_id = customer.guide_id, None
    session.add(customer)
    if guide_id is not None:
        bind_guide(session=session, customer=customer, guide_id=guide_id, at=customer.created_at)
    session.commit()
    read_back(session, customer)
    return customer


def update_customer(
    *,
    session: Session,
    customer_id: str,
    customer_update: CustomerUpdate,
    at: datetime | None = None,
) -> Customer:
    """Apply the fields of ``customer_update`` that are set; a new ``guide_id`` is
    recorded in the binding history from ``at`` (default: now)."""
    customer = _require(session, customer_id)
    fields = customer_update.model_dump(exclude_unset=True)
    if "guide_id" in fields:
        bind_guide(
            session=session,
            customer=customer,
            guide_id=fields.pop("guide_id") or None,
            at=at or utcnow(),
        )
    customer.sqlmodel_update(fields)
    session.add(customer)
    session.commit()
    read_back(session, customer)
    return customer


def update_tags(
    *,
    session: Session,
    customer_id: str,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
    set_attributes: dict[str, Any] | None = None,
    commit: bool = True,
) -> Customer:
    """Add/remove tags and set attributes with set semantics, so repeating it changes nothing.

    Tags keep their order; a tag both added and removed ends up removed.
    """
    customer = _require(session, customer_id)
    removed = set(remove)
    tags = [t for t in customer.tags if t not in removed]
    for tag in add:
        if tag not in tags and tag not in removed:
            tags.append(tag)
    # New containers (not in-place edits): plain JSON columns only notice reassignment.
    customer.tags = tags
    if set_attributes:
        customer.attributes = {**customer.attributes, **set_attributes}
    session.add(customer)
    if commit:
        session.commit()
        read_back(session, customer)
    return customer


def _require(session: Session, customer_id: str) -> Customer:
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("customer", customer_id)
    return customer

"""Guide-binding history: which guide a customer was bound to when.

``customer.guide_id`` says who holds the customer today; ``customer_guide_binding`` keeps
every period, so an order (or a report over last month) is attributed to the guide of its
moment. Every change of ``customer.guide_id`` goes through :func:`bind_guide`.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from db.crud._util import aware
from db.models import Customer, CustomerGuideBinding


def bind_guide(*, session: Session, customer: Customer, guide_id: str | None, at: datetime) -> None:
    """Bind ``customer`` to ``guide_id`` (``None``: unbind) from ``at`` on; no commit.

    Closes the open period and opens a new one; nothing when the guide does not change.
    Sets ``customer.guide_id`` too, so the profile and the history never disagree.
    """
    open_rows = list(
        session.exec(
            select(CustomerGuideBinding).where(
                CustomerGuideBinding.customer_id == customer.id,
                col(CustomerGuideBinding.bound_to).is_(None),
            )
        )
    )
    if customer.guide_id == guide_id and (
        any(r.guide_id == guide_id for r in open_rows) or guide_id is None
    ):
        return
    if not open_rows and customer.guide_id is not None and not _has_history(session, customer):
        # A profile written around this function (a bulk import): its guide held the
        # customer since they were created.
        open_rows = [
            CustomerGuideBinding(
                customer_id=customer.id,
                guide_id=customer.guide_id,
                bound_from=aware(customer.created_at) or at,
            )
        ]
    for row in open_rows:
        row.bound_to = at
        session.add(row)
    if guide_id is not None:
        session.add(
            CustomerGuideBinding(
                customer_id=customer.id, guide_id=guide_id, bound_from=at, bound_to=None
            )
        )
    customer.guide_id = guide_id
    session.add(customer)


def guide_at(*, session: Session, customer_id: str, at: datetime) -> str | None:
    """The guide ``customer_id`` was bound to at ``at`` (``None``: nobody).

    A customer without any history row (written around :func:`bind_guide`) counts as bound
    to their profile's guide all along.
    """
    row = session.exec(
        select(CustomerGuideBinding)
        .where(
            CustomerGuideBinding.customer_id == customer_id,
            col(CustomerGuideBinding.bound_from) <= at,
            or_(
                col(CustomerGuideBinding.bound_to).is_(None),
                col(CustomerGuideBinding.bound_to) > at,
            ),
        )
        .order_by(col(CustomerGuideBinding.bound_from).desc())
        .limit(1)
    ).first()
    if row is not None:
        return row.guide_id
    customer = session.get(Customer, customer_id)
    if customer is None or customer.guide_id is None or _has_history(session, customer):
        return None
    return customer.guide_id


def _has_history(session: Session, customer: Customer) -> bool:
    found = session.exec(
        select(CustomerGuideBinding.id)
        .where(CustomerGuideBinding.customer_id == customer.id)
        .limit(1)
    ).first()
    return found is not None


def binding_history(*, session: Session, customer_id: str) -> list[CustomerGuideBinding]:
    """The customer's binding periods, oldest first."""
    return list(
        session.exec(
            select(CustomerGuideBinding)
            .where(CustomerGuideBinding.customer_id == customer_id)
            .order_by(col(CustomerGuideBinding.bound_from), col(CustomerGuideBinding.id))
        )
    )

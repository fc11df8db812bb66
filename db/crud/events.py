"""Behavioural events (purchase, browse, store_visit, ...), recorded exactly once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.crud._util import insert_once
from db.models import CustomerEvent, CustomerEventCreate


def record_event(*, session: Session, event: CustomerEventCreate) -> tuple[CustomerEvent, bool]:
    """Store ``event`` unless its ``event_id`` is known; ``(row, created)``.

    Producers retry, and journeys count events, so a duplicate must not count twice.
    """
    row = CustomerEvent.model_validate(event)
    return insert_once(session, row, column=CustomerEvent.event_id, key=event.event_id)


def count_events(
    *,
    session: Session,
    customer_id: str,
    event_type: str,
    since: datetime,
    until: datetime,
) -> int:
    """How many ``event_type`` events ``customer_id`` had with ``since <= occurred_at <= until``."""
    stmt = select(func.count()).where(
        CustomerEvent.customer_id == customer_id,
        CustomerEvent.type == event_type,
        col(CustomerEvent.occurred_at) >= since,
        col(CustomerEvent.occurred_at) <= until,
    )
    return int(session.exec(stmt).one())


def list_events(
    *,
    session: Session,
    customer_id: str,
    event_type: str | None = None,
    limit: int = 50,
) -> list[CustomerEvent]:
    """The customer's latest events, newest first."""
    stmt = select(CustomerEvent).where(CustomerEvent.customer_id == customer_id)
    if event_type is not None:
        stmt = stmt.where(CustomerEvent.type == event_type)
    stmt = stmt.order_by(col(CustomerEvent.occurred_at).desc()).limit(limit)
    return list(session.exec(stmt))


def get_event(*, session: Session, event_id: str) -> CustomerEvent | None:
    """The stored event with the producer's ``event_id``, or ``None``."""
    return session.exec(select(CustomerEvent).where(CustomerEvent.event_id == event_id)).first()


def add_event(*, session: Session, event: CustomerEventCreate) -> CustomerEvent:
    """Stage ``event`` in the caller's transaction (not committed: intake commits the event
    and its pending delivery together). The unique ``event_id`` index settles races."""
    row = CustomerEvent.model_validate(event)
    session.add(row)
    session.flush()
    return row

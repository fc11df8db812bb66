"""Pending event deliveries (see :mod:`db.models.deliveries`): claim, finish, retry later."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from db.models import EventDelivery, utcnow

#: how long one process owns a delivery before anyone else may retry it
LEASE = timedelta(seconds=60)


def add_delivery(
    *, session: Session, event_id: str, customer_id: str, now: datetime | None = None
) -> EventDelivery:
    """Queue ``event_id`` for delivery, leased to the caller; not committed (the event's
    own transaction commits both or neither)."""
    now = now or utcnow()
    row = EventDelivery(
        event_id=event_id, customer_id=customer_id, created_at=now, lease_until=now + LEASE
    )
    session.add(row)
    return row


def claim_delivery(
    *, session: Session, event_id: str, now: datetime | None = None, force: bool = False
) -> bool:
    """Take the lease of ``event_id``'s pending delivery when nobody holds it (``force``:
    even when someone does — a producer's retry is served at once; delivering twice is
    harmless); not committed. False when it is delivered already (no row) or, without
    ``force``, another process is on it."""
    now = now or utcnow()
    stmt = update(EventDelivery).where(col(EventDelivery.event_id) == event_id)
    if not force:
        stmt = stmt.where(
            or_(col(EventDelivery.lease_until).is_(None), col(EventDelivery.lease_until) < now)
        )
    result = session.execute(stmt.values(lease_until=now + LEASE))
    return bool(getattr(result, "rowcount", 0))


def claim_due_deliveries(
    *, session: Session, limit: int = 100, now: datetime | None = None
) -> list[str]:
    """Lease up to ``limit`` pending deliveries nobody holds, oldest first; committed.
    → their event ids."""
    now = now or utcnow()
    due = list(
        session.exec(
            select(EventDelivery.event_id)
            .where(
                or_(col(EventDelivery.lease_until).is_(None), col(EventDelivery.lease_until) < now)
            )
            .order_by(col(EventDelivery.created_at))
            .limit(limit)
        )
    )
    claimed = [
        event_id for event_id in due if claim_delivery(session=session, event_id=event_id, now=now)
    ]
    session.commit()
    return claimed


def finish_delivery(*, session: Session, event_id: str) -> None:
    """The event reached everything it had to: forget the pending row; committed."""
    session.execute(delete(EventDelivery).where(col(EventDelivery.event_id) == event_id))
    session.commit()


def retry_delivery_later(
    *, session: Session, event_id: str, error: str, now: datetime | None = None
) -> None:
    """Delivery failed (Temporal unreachable…): count the attempt and back off (10 s,
    doubling, at most 5 minutes) before the reconciler tries again; committed."""
    now = now or utcnow()
    row = session.get(EventDelivery, event_id)
    if row is not None:
        row.attempts += 1
        row.last_error = error[:500]
        row.lease_until = now + min(
            timedelta(seconds=10 * 2 ** min(row.attempts - 1, 5)), timedelta(minutes=5)
        )
        session.add(row)
    session.commit()


def pending_deliveries(*, session: Session, limit: int = 100) -> list[EventDelivery]:
    """Deliveries not finished yet, oldest first (for the operators' view and tests)."""
    stmt = select(EventDelivery).order_by(col(EventDelivery.created_at)).limit(limit)
    return list(session.exec(stmt))

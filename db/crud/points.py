"""The points ledger: exactly-once earning per idempotency key, and the balance as of a moment.

Balance rule (documented for marketers in docs/architecture.md): the sum of all spends plus
the earns that have not expired at ``as_of``, never below zero. Spending first uses the
points that expire soonest, so an expiry only takes points that were never spent — this is
what the ``max(0, …)`` approximates without per-lot bookkeeping.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from db.crud._util import find_by, read_back
from db.errors import NotFoundError
from db.models import Customer
from db.models.points import PointsEntry
from db.session import begin_write


def live_points_filter(as_of: datetime) -> ColumnElement[bool]:
    """The ledger rows that count at ``as_of``: spends, and earns not yet expired."""
    return (col(PointsEntry.created_at) <= as_of) & or_(
        col(PointsEntry.expires_at).is_(None), col(PointsEntry.expires_at) > as_of
    )


def points_balance(*, session: Session, customer_id: str, as_of: datetime) -> int:
    """The customer's points at ``as_of`` (0 for an unknown customer)."""
    stmt = select(func.coalesce(func.sum(col(PointsEntry.delta)), 0)).where(
        col(PointsEntry.customer_id) == customer_id, live_points_filter(as_of)
    )
    return max(0, int(session.execute(stmt).scalar_one()))


def points_balances(
    *, session: Session, customer_ids: list[str], as_of: datetime
) -> dict[str, int]:
    """:func:`points_balance` of many customers in one query (absent: 0)."""
    if not customer_ids:
        return {}
    stmt = (
        select(col(PointsEntry.customer_id), func.sum(col(PointsEntry.delta)))
        .where(col(PointsEntry.customer_id).in_(customer_ids), live_points_filter(as_of))
        .group_by(col(PointsEntry.customer_id))
    )
    return {cid: max(0, int(total or 0)) for cid, total in session.execute(stmt).all()}


def award_points(
    *,
    session: Session,
    customer_id: str,
    points: int,
    idempotency_key: str,
    created_at: datetime,
    expires_at: datetime | None = None,
    reason: str = "journey",
    journey_id: str | None = None,
    node_id: str | None = None,
    workflow_id: str | None = None,
) -> tuple[PointsEntry, bool]:
    """Add ``points`` (> 0 earns, < 0 spends) to the ledger once per ``idempotency_key``;
    ``(entry, created)``. A repeated key returns the first entry unchanged, also when two
    workers race (the unique index decides). Raises :class:`NotFoundError` for an unknown
    customer and ``ValueError`` for 0 points."""
    if points == 0:
        raise ValueError("points must not be 0")
    begin_write(session)
    existing = find_by(session, PointsEntry, PointsEntry.idempotency_key, idempotency_key)
    if existing is not None:
        session.rollback()
        return existing, False
    if session.get(Customer, customer_id) is None:
        session.rollback()
        raise NotFoundError("customer", customer_id)
    entry = PointsEntry(
        customer_id=customer_id,
        delta=points,
        reason=reason,
        idempotency_key=idempotency_key,
        journey_id=journey_id,
        node_id=node_id,
        workflow_id=workflow_id,
        created_at=created_at,
        expires_at=expires_at,
    )
    session.add(entry)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = find_by(session, PointsEntry, PointsEntry.idempotency_key, idempotency_key)
        if winner is None:
            raise
        return winner, False
    read_back(session, entry)
    return entry, True


def list_points(*, session: Session, customer_id: str, limit: int = 50) -> list[PointsEntry]:
    """The customer's ledger, newest first."""
    stmt = (
        select(PointsEntry)
        .where(col(PointsEntry.customer_id) == customer_id)
        .order_by(col(PointsEntry.created_at).desc(), col(PointsEntry.id).desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())

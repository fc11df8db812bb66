"""Persistence of what-if backtests (``journey_backtest``).

A queued or running backtest holds a lease its process renews (:func:`renew_lease`, with
each progress step); every later write is conditional on the backtest still being queued
or running, so once :func:`interrupt_orphaned` gave up on one (its lease lapsed: the
process is gone) nothing its old job might still write brings it back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from db.models import utcnow
from db.models.backtests import JourneyBacktest


def create_backtest(
    *,
    session: Session,
    journey_id: str,
    baseline_version: int,
    candidate: str,
    candidate_version: int | None,
    candidate_document: dict[str, Any],
    source: str,
    segment_id: str | None,
    period_start: datetime,
    period_end: datetime,
    total: int,
    by: str,
    lease_until: datetime | None = None,
) -> JourneyBacktest:
    """A queued backtest (flushed: its id is known), leased until ``lease_until`` (its job
    renews the lease once it runs)."""
    row = JourneyBacktest(
        journey_id=journey_id,
        baseline_version=baseline_version,
        candidate=candidate,
        candidate_version=candidate_version,
        candidate_document=candidate_document,
        source=source,
        segment_id=segment_id,
        period_start=period_start,
        period_end=period_end,
        total=total,
        created_by=by,
        lease_until=lease_until,
    )
    session.add(row)
    session.flush()
    return row


def get_backtest(*, session: Session, journey_id: str, backtest_id: int) -> JourneyBacktest | None:
    """Backtest ``backtest_id`` of ``journey_id``, or ``None``."""
    row = session.get(JourneyBacktest, backtest_id)
    return row if row is not None and row.journey_id == journey_id else None


def latest_backtest(*, session: Session, journey_id: str) -> JourneyBacktest | None:
    """The journey's newest backtest, or ``None``."""
    stmt = (
        select(JourneyBacktest)
        .where(col(JourneyBacktest.journey_id) == journey_id)
        .order_by(col(JourneyBacktest.id).desc())
        .limit(1)
    )
    return session.exec(stmt).first()


#: the states a backtest's own job still writes to
LIVE = ("queued", "running")


def set_progress(
    *,
    session: Session,
    backtest_id: int,
    status: str,
    done: int,
    lease_until: datetime | None = None,
) -> bool:
    """Move a live backtest's status and its count of customers done (``lease_until``:
    renew its lease too); not committed. False when it is no longer live (finished, or
    given up on as interrupted)."""
    values: dict[str, Any] = {"status": status, "done": done}
    if lease_until is not None:
        values["lease_until"] = lease_until
    return _update_live(session, backtest_id, values)


def renew_lease(*, session: Session, backtest_id: int, until: datetime) -> bool:
    """Extend a live backtest's lease to ``until``; not committed. False: not live."""
    return _update_live(session, backtest_id, {"lease_until": until})


def finish_backtest(
    *, session: Session, backtest_id: int, result: dict[str, Any] | None, error: str = ""
) -> bool:
    """Store a live backtest's report (``done``) or its error (``failed``); not committed.
    False when it was not live any more (nothing is written)."""
    row = session.get(JourneyBacktest, backtest_id)
    if row is None:
        return False
    values: dict[str, Any] = {
        "status": "failed" if error else "done",
        "error": error[:2000],
        "finished_at": utcnow(),
        "lease_until": None,
    }
    if result is not None:
        values.update(result=result, done=row.total)
    return _update_live(session, backtest_id, values)


def _update_live(session: Session, backtest_id: int, values: dict[str, Any]) -> bool:
    stmt = (
        update(JourneyBacktest)
        .where(col(JourneyBacktest.id) == backtest_id, col(JourneyBacktest.status).in_(LIVE))
        .values(**values)
    )
    return bool(getattr(session.execute(stmt), "rowcount", 0))


def _lapsed(now: datetime) -> Any:
    until = col(JourneyBacktest.lease_until)
    return or_(until.is_(None), until < now)


def orphaned_backtests(*, session: Session, now: datetime) -> list[int]:
    """Ids of live backtests whose lease lapsed (or that never had one)."""
    stmt = select(JourneyBacktest.id).where(col(JourneyBacktest.status).in_(LIVE), _lapsed(now))
    return [int(i or 0) for i in session.exec(stmt)]


def interrupt_orphaned(
    *, session: Session, now: datetime, reason: str, ids: list[int] | None = None
) -> list[int]:
    """Mark every live backtest whose lease lapsed (or that never had one; of ``ids`` when
    given) failed with ``reason``; not committed. → their ids. Conditional per row: a
    backtest its job renewed meanwhile is left alone."""
    lapsed = _lapsed(now)
    if ids is None:
        ids = orphaned_backtests(session=session, now=now)
    done: list[int] = []
    for backtest_id in ids:
        stmt = (
            update(JourneyBacktest)
            .where(
                col(JourneyBacktest.id) == backtest_id,
                col(JourneyBacktest.status).in_(LIVE),
                lapsed,
            )
            .values(status="failed", error=reason, finished_at=now, lease_until=None)
        )
        if getattr(session.execute(stmt), "rowcount", 0):
            done.append(backtest_id)
    return done

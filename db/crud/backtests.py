"""Persistence of what-if backtests (``journey_backtest``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
) -> JourneyBacktest:
    """A queued backtest (flushed: its id is known)."""
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


def set_progress(*, session: Session, backtest_id: int, status: str, done: int) -> None:
    """Move a backtest's status and its count of customers done."""
    row = session.get(JourneyBacktest, backtest_id)
    if row is not None:
        row.status, row.done = status, done
        session.add(row)


def finish_backtest(
    *, session: Session, backtest_id: int, result: dict[str, Any] | None, error: str = ""
) -> None:
    """Store a backtest's report (``done``) or its error (``failed``)."""
    row = session.get(JourneyBacktest, backtest_id)
    if row is None:
        return
    row.status = "failed" if error else "done"
    row.error = error[:2000]
    if result is not None:
        row.result = result
        row.done = row.total
    row.finished_at = utcnow()
    session.add(row)

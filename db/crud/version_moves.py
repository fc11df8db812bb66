"""Persistence of move passes (``journey_version_move``) and the runs they move."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import JourneyRun
from db.models._base import utcnow
from db.models.version_moves import MOVE_STATUSES, JourneyVersionMove


def waiting_by_node(*, session: Session, journey_id: str, version: int) -> dict[str, int]:
    """How many running customers of ``version`` are at each node (their last recorded
    node: where they wait, or the step they are in)."""
    stmt = (
        select(JourneyRun.current_node, func.count())
        .where(
            JourneyRun.journey_id == journey_id,
            JourneyRun.journey_version == version,
            JourneyRun.status == "running",
        )
        .group_by(col(JourneyRun.current_node))
    )
    return {node or "": int(n) for node, n in session.exec(stmt)}


def runs_to_move(
    *,
    session: Session,
    journey_id: str,
    version: int,
    nodes: Sequence[str],
    after_id: int,
    limit: int,
) -> list[tuple[int, str]]:
    """``(run row id, workflow id)`` of running customers of ``version`` at ``nodes``, by
    row id after ``after_id`` (a pass's cursor)."""
    stmt = (
        select(JourneyRun.id, JourneyRun.workflow_id)
        .where(
            JourneyRun.journey_id == journey_id,
            JourneyRun.journey_version == version,
            JourneyRun.status == "running",
            col(JourneyRun.current_node).in_(list(nodes)),
            col(JourneyRun.id) > after_id,
        )
        .order_by(col(JourneyRun.id))
        .limit(limit)
    )
    return [(int(i or 0), w) for i, w in session.exec(stmt)]


def create_move(
    *,
    session: Session,
    journey_id: str,
    from_version: int,
    to_version: int,
    node_map: dict[str, str],
    total: int,
    by: str,
) -> JourneyVersionMove:
    row = JourneyVersionMove(
        journey_id=journey_id,
        from_version=from_version,
        to_version=to_version,
        node_map=dict(node_map),
        total=total,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return row


def get_move(*, session: Session, move_id: int) -> JourneyVersionMove | None:
    return session.get(JourneyVersionMove, move_id)


def list_moves(*, session: Session, journey_id: str, limit: int = 20) -> list[JourneyVersionMove]:
    """A journey's move passes, newest first."""
    stmt = (
        select(JourneyVersionMove)
        .where(JourneyVersionMove.journey_id == journey_id)
        .order_by(col(JourneyVersionMove.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def set_progress(
    *,
    session: Session,
    move_id: int,
    cursor: int,
    moved: int,
    skipped: int,
    status: str = "running",
    error: str = "",
    at: datetime | None = None,
) -> None:
    """Store a pass's progress (after each page: a resumed pass starts after ``cursor``)."""
    if status not in MOVE_STATUSES:
        raise ValueError(f"move status {status!r} is not one of {MOVE_STATUSES}")
    row = session.get(JourneyVersionMove, move_id)
    if row is None:
        return
    row.cursor, row.moved, row.skipped, row.status = cursor, moved, skipped, status
    row.error = error[:2000]
    if status != "running":
        row.finished_at = at or utcnow()
    session.add(row)

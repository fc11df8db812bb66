"""Persistence of move passes (``journey_version_move``) and the runs they move.

A running pass is leased to the process running it (``lease_owner``, ``lease_until``):
:func:`claim_move` takes a free or lapsed lease with one conditional ``UPDATE`` (of two
processes asking at once exactly one changes the row), and :func:`set_progress` with the
owner stores a page's progress and renews the lease only while the caller still holds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
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
    owner: str = "",
    lease_until: datetime | None = None,
) -> JourneyVersionMove:
    """A running pass, leased to ``owner`` until ``lease_until`` (its creator starts it)."""
    row = JourneyVersionMove(
        journey_id=journey_id,
        from_version=from_version,
        to_version=to_version,
        node_map=dict(node_map),
        total=total,
        created_by=by,
        lease_owner=owner,
        lease_until=lease_until,
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


def _lease_free(now: datetime) -> Any:
    until = col(JourneyVersionMove.lease_until)
    return or_(until.is_(None), until < now)


def orphaned_moves(*, session: Session, now: datetime, limit: int = 20) -> list[int]:
    """Ids of running passes whose lease lapsed (their process stopped), oldest first."""
    stmt = (
        select(JourneyVersionMove.id)
        .where(JourneyVersionMove.status == "running", _lease_free(now))
        .order_by(col(JourneyVersionMove.id))
        .limit(limit)
    )
    return [int(i or 0) for i in session.exec(stmt)]


def claim_move(
    *,
    session: Session,
    move_id: int,
    owner: str,
    now: datetime,
    lease: timedelta,
    failed_too: bool = False,
) -> bool:
    """Lease pass ``move_id`` to ``owner`` when it is running (``failed_too``: or failed —
    marked running again) and nobody holds its lease; not committed. One conditional
    ``UPDATE``: of two processes claiming at once, one gets True."""
    statuses = ("running", "failed") if failed_too else ("running",)
    stmt = (
        update(JourneyVersionMove)
        .where(
            col(JourneyVersionMove.id) == move_id,
            col(JourneyVersionMove.status).in_(statuses),
            _lease_free(now),
        )
        .values(
            status="running",
            error="",
            finished_at=None,
            lease_owner=owner,
            lease_until=now + lease,
        )
    )
    return bool(getattr(session.execute(stmt), "rowcount", 0))


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
    owner: str | None = None,
    lease_until: datetime | None = None,
) -> bool:
    """Store a pass's progress (after each page: a resumed pass starts after ``cursor``);
    not committed. With ``owner``, only while ``owner`` holds the lease (False: it lost
    it, another process goes on); ``lease_until`` renews it. A pass that ends (done,
    failed) gives its lease up."""
    if status not in MOVE_STATUSES:
        raise ValueError(f"move status {status!r} is not one of {MOVE_STATUSES}")
    values: dict[str, Any] = {
        "cursor": cursor,
        "moved": moved,
        "skipped": skipped,
        "status": status,
        "error": error[:2000],
    }
    if status != "running":
        values.update(finished_at=at or utcnow(), lease_owner="", lease_until=None)
    elif lease_until is not None:
        values["lease_until"] = lease_until
    stmt = update(JourneyVersionMove).where(col(JourneyVersionMove.id) == move_id)
    if owner is not None:
        stmt = stmt.where(col(JourneyVersionMove.lease_owner) == owner)
    return bool(getattr(session.execute(stmt.values(**values)), "rowcount", 0))

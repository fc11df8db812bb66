"""Segments, segment enrollments (progress) and entry limits; plus the bulk run-row work a
segment enrollment does on ``journey_run`` (claiming many customers per page at once).

Definitions are stored as given: validate them first (``audiences.parse_definition``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.crud._util import read_back
from db.errors import InvalidStatusError, NotFoundError
from db.models import (
    ENROLLMENT_STATUSES,
    JourneyEntryLimits,
    JourneyRun,
    Segment,
    SegmentCreate,
    SegmentEnrollment,
    utcnow,
)

# --------------------------------------------------------------------------- segments


class SegmentExistsError(Exception):
    """A segment with ``segment_id`` exists already."""

    def __init__(self, segment_id: str) -> None:
        super().__init__(f"segment {segment_id!r} exists already; pick another id")
        self.segment_id = segment_id


def create_segment(*, session: Session, segment_create: SegmentCreate, by: str = "") -> Segment:
    """Insert a segment; :class:`SegmentExistsError` if the id is taken."""
    if session.get(Segment, segment_create.id) is not None:
        raise SegmentExistsError(segment_create.id)
    segment = Segment.model_validate(segment_create, update={"created_by": by, "updated_by": by})
    session.add(segment)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise SegmentExistsError(segment_create.id) from exc
    read_back(session, segment)
    return segment


def get_segment(*, session: Session, segment_id: str) -> Segment | None:
    """The segment, or ``None``."""
    return session.get(Segment, segment_id)


def list_segments(*, session: Session, search: str | None = None) -> list[Segment]:
    """Segments by name; ``search`` matches id or name."""
    stmt = select(Segment)
    if search:
        like = f"%{search}%"
        stmt = stmt.where(col(Segment.id).like(like) | col(Segment.name).like(like))
    return list(session.exec(stmt.order_by(col(Segment.name))))


def update_segment(
    *,
    session: Session,
    segment_id: str,
    by: str = "",
    name: str | None = None,
    description: str | None = None,
    definition: dict[str, Any] | None = None,
) -> Segment:
    """Change name / description / definition (``None`` keeps a field)."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFoundError("segment", segment_id)
    if name is not None:
        segment.name = name
    if description is not None:
        segment.description = description
    if definition is not None:
        segment.definition = definition
        segment.last_count = None
    segment.updated_by = by
    segment.updated_at = utcnow()
    session.add(segment)
    session.commit()
    read_back(session, segment)
    return segment


def delete_segment(*, session: Session, segment_id: str) -> None:
    """Remove a segment (callers check it is unused first)."""
    segment = session.get(Segment, segment_id)
    if segment is None:
        raise NotFoundError("segment", segment_id)
    session.delete(segment)
    session.commit()


def record_segment_count(
    *,
    session: Session,
    segment_id: str,
    count: int,
    at: datetime | None = None,
    if_updated_at: datetime | None = None,
) -> bool:
    """Remember the audience size of the latest count; with ``if_updated_at``, only if the
    segment was not saved again since (a count of rules that changed meanwhile is dropped).
    → whether it was recorded."""
    stmt = update(Segment).where(col(Segment.id) == segment_id)
    if if_updated_at is not None:
        stmt = stmt.where(col(Segment.updated_at) == if_updated_at)
    result = session.execute(stmt.values(last_count=count, last_counted_at=at or utcnow()))
    session.commit()
    return bool(getattr(result, "rowcount", 0))


# --------------------------------------------------------------------------- enrollments


def get_or_create_enrollment(
    *,
    session: Session,
    journey_id: str,
    journey_version: int,
    segment_id: str,
    workflow_id: str,
    first_run_id: str,
    trigger: str,
    as_of: datetime,
    total: int,
) -> SegmentEnrollment:
    """The enrollment row of one enrollment workflow, created on first call (idempotent)."""
    stmt = select(SegmentEnrollment).where(
        SegmentEnrollment.workflow_id == workflow_id,
        SegmentEnrollment.first_run_id == first_run_id,
    )
    found = session.exec(stmt).first()
    if found is not None:
        return found
    row = SegmentEnrollment(
        journey_id=journey_id,
        journey_version=journey_version,
        segment_id=segment_id,
        workflow_id=workflow_id,
        first_run_id=first_run_id,
        trigger=trigger,
        as_of=as_of,
        total=total,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        found = session.exec(stmt).first()
        if found is None:
            raise
        return found
    read_back(session, row)
    return row


def get_enrollment(*, session: Session, enrollment_id: int) -> SegmentEnrollment | None:
    """One enrollment, or ``None``."""
    return session.get(SegmentEnrollment, enrollment_id)


def list_enrollments(
    *, session: Session, journey_id: str, limit: int = 20
) -> list[SegmentEnrollment]:
    """A journey's enrollments, newest first."""
    stmt = (
        select(SegmentEnrollment)
        .where(SegmentEnrollment.journey_id == journey_id)
        .order_by(col(SegmentEnrollment.id).desc())
        .limit(limit)
    )
    return list(session.exec(stmt))


def set_enrollment_progress(
    *,
    session: Session,
    enrollment_id: int,
    entered: int,
    skipped: int,
    cursor: str,
    status: str = "running",
    message: str | None = None,
) -> None:
    """Write absolute counters (so a retried page never double-counts)."""
    if status not in ENROLLMENT_STATUSES:
        raise InvalidStatusError("enrollment status", status, ENROLLMENT_STATUSES)
    now = utcnow()
    values: dict[str, Any] = {
        "entered": entered,
        "skipped": skipped,
        "cursor": cursor,
        "status": status,
        "updated_at": now,
    }
    if status != "running":
        values["finished_at"] = now
    if message is not None:
        values["message"] = message[:255]
    session.execute(
        update(SegmentEnrollment).where(col(SegmentEnrollment.id) == enrollment_id).values(values)
    )
    session.commit()


# --------------------------------------------------------------------------- entry limits


def get_entry_limits(*, session: Session, journey_id: str) -> JourneyEntryLimits | None:
    """The journey's entry limits, or ``None`` (unlimited)."""
    return session.get(JourneyEntryLimits, journey_id)


def set_entry_limits(
    *, session: Session, journey_id: str, max_per_run: int | None, max_per_hour: int | None
) -> JourneyEntryLimits:
    """Create or replace the journey's entry limits."""
    row = session.get(JourneyEntryLimits, journey_id) or JourneyEntryLimits(journey_id=journey_id)
    row.max_per_run = max_per_run
    row.max_per_hour = max_per_hour
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    read_back(session, row)
    return row


# --------------------------------------------------------------------------- bulk runs


def runs_of_enrollment(
    *, session: Session, enrollment_key: str, customer_ids: Sequence[str]
) -> dict[str, JourneyRun]:
    """Rows this enrollment already created for ``customer_ids`` (customer id → row)."""
    if not customer_ids:
        return {}
    stmt = select(JourneyRun).where(
        JourneyRun.enrollment_id == enrollment_key,
        col(JourneyRun.customer_id).in_(list(customer_ids)),
    )
    return {r.customer_id: r for r in session.exec(stmt)}


def latest_runs(*, session: Session, workflow_ids: Sequence[str]) -> dict[str, JourneyRun]:
    """The latest row of each of ``workflow_ids`` that has one (workflow id → row)."""
    if not workflow_ids:
        return {}
    newest = (
        sa_select(func.max(JourneyRun.id))
        .where(col(JourneyRun.workflow_id).in_(list(workflow_ids)))
        .group_by(col(JourneyRun.workflow_id))
    )
    stmt = select(JourneyRun).where(col(JourneyRun.id).in_(newest))
    return {r.workflow_id: r for r in session.exec(stmt)}


def claim_runs(
    *, session: Session, rows: Iterable[dict[str, Any]], enrollment_key: str
) -> list[JourneyRun]:
    """Insert ``running`` rows (dicts of JourneyRun fields) in one transaction.

    A customer whose workflow id got a running row meanwhile (an event entry won the race)
    is skipped: on a unique-index conflict the batch falls back to one insert per row.
    """
    prepared = [
        JourneyRun(**{**r, "status": "running", "enrollment_id": enrollment_key}) for r in rows
    ]
    if not prepared:
        return []
    session.add_all(prepared)
    try:
        session.commit()
        return prepared
    except IntegrityError:
        session.rollback()
    claimed = []
    for r in rows:
        run = JourneyRun(**{**r, "status": "running", "enrollment_id": enrollment_key})
        session.add(run)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            continue
        claimed.append(run)
    return claimed


def set_run_ids(*, session: Session, run_ids: dict[int, str]) -> None:
    """Record the Temporal run id of each started run row (row id → run id)."""
    if not run_ids:
        return
    session.execute(
        update(JourneyRun),
        [{"id": row_id, "run_id": run_id} for row_id, run_id in run_ids.items()],
    )
    session.commit()


def fail_runs(*, session: Session, row_ids: Sequence[int], reason: str) -> None:
    """Mark claimed rows whose workflow could not be started as failed."""
    if not row_ids:
        return
    session.execute(
        update(JourneyRun)
        .where(col(JourneyRun.id).in_(list(row_ids)), col(JourneyRun.status) == "running")
        .values(status="failed", exit_reason=reason[:255], exited_at=utcnow())
    )
    session.commit()

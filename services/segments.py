"""Segment use cases: save (validated), preview (count + sample), where used, and segment
entry of journeys — checked before publish, started or scheduled after it, paused with it.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session
from temporalio.client import Client

from audiences import (
    SampleRow,
    SegmentValidationError,
    compile_segment,
    count,
    parse_definition,
    sample,
)
from audiences.builtin import builtin_segment, ensure_segment
from db import crud
from db.errors import NotFoundError
from db.models import JourneyVersion, Segment, SegmentCreate, SegmentEnrollment, utcnow
from engine.compiler import Code, Diagnostic
from engine.compiler.diagnostics import Severity
from engine.ir import SegmentEntry
from services import schedules
from services.enrollment import compiled_of
from services.temporal import TemporalGateway
from workflows.enrollment import EnrollmentInput, SegmentEnrollmentWorkflow

SAMPLE_SIZE = 10
log = logging.getLogger(__name__)


class SegmentInUseError(Exception):
    """The segment is the entry of journeys, so it cannot be deleted."""

    def __init__(self, segment_id: str, journeys: list[str]) -> None:
        super().__init__(
            f"segment {segment_id!r} is used by journeys {', '.join(journeys)}; "
            "change their entry first"
        )
        self.segment_id = segment_id
        self.journeys = journeys


def _diagnostic(code: Code, message: str, severity: Severity, hint: str = "") -> Diagnostic:
    return Diagnostic(code, message, node_ids=("entry",), hint=hint, severity=severity)


# --------------------------------------------------------------------------- segments


def save_segment(
    *,
    session: Session,
    segment_id: str,
    name: str,
    definition: Any,
    by: str,
    description: str = "",
    create: bool,
) -> Segment:
    """Validate ``definition`` (:class:`SegmentValidationError` naming each bad rule) and
    create the segment, or update it when ``create`` is False."""
    parsed = parse_definition(definition)
    stored = parsed.model_dump(mode="json", exclude_none=True)
    if create:
        return crud.create_segment(
            session=session,
            segment_create=SegmentCreate(
                id=segment_id, name=name, description=description, definition=stored
            ),
            by=by,
        )
    return crud.update_segment(
        session=session,
        segment_id=segment_id,
        by=by,
        name=name,
        description=description,
        definition=stored,
    )


@dataclass(frozen=True)
class Preview:
    """Audience size and a sample, as of ``as_of``; ``elapsed_ms`` is the count's time."""

    count: int
    sample: list[SampleRow]
    as_of: datetime
    elapsed_ms: float


def preview(
    *, session: Session, definition: Any, now: datetime | None = None, limit: int = SAMPLE_SIZE
) -> Preview:
    """Count and sample ``definition`` (validated first: may raise SegmentValidationError)."""
    now = now or utcnow()
    compiled = compile_segment(parse_definition(definition), now=now)
    started = time.perf_counter()
    total = count(session, compiled)
    elapsed = (time.perf_counter() - started) * 1000
    return Preview(total, sample(session, compiled, limit=limit), now, elapsed)


@dataclass(frozen=True)
class Usage:
    """A journey that enters by the segment (in its draft and/or its live version)."""

    journey_id: str
    name: str
    status: str
    in_draft: bool
    live_version: int | None
    schedule: str


def _segment_trigger(document: Any) -> dict[str, Any] | None:
    """The segment trigger of a journey document (draft JSON), if its entry has one."""
    if not isinstance(document, dict):
        return None
    for node in document.get("nodes") or []:
        if isinstance(node, dict) and node.get("kind") == "entry":
            trigger = (node.get("config") or {}).get("trigger") or {}
            if isinstance(trigger, dict) and trigger.get("type") == "segment":
                return trigger
    return None


def where_used(*, session: Session, segment_id: str) -> list[Usage]:
    """Journeys whose draft or live version enters by ``segment_id``."""
    found = []
    for journey in crud.list_journeys(session=session):
        draft = _segment_trigger(journey.draft_document)
        in_draft = bool(draft and draft.get("segment_id") == segment_id)
        live: SegmentEntry | None = None
        if journey.live_version is not None:
            version = crud.get_version(
                session=session, journey_id=journey.id, version=journey.live_version
            )
            trigger = compiled_of(version).entry.trigger if version else None
            if isinstance(trigger, SegmentEntry) and trigger.segment_id == segment_id:
                live = trigger
        if in_draft or live:
            schedule = live.schedule if live else str((draft or {}).get("schedule", "once"))
            live_no = journey.live_version if live else None
            found.append(
                Usage(journey.id, journey.name, journey.status, in_draft, live_no, schedule)
            )
    return found


def delete_segment(*, session: Session, segment_id: str) -> None:
    """Delete an unused segment (:class:`SegmentInUseError` otherwise)."""
    used = where_used(session=session, segment_id=segment_id)
    if used:
        raise SegmentInUseError(segment_id, [u.journey_id for u in used])
    crud.delete_segment(session=session, segment_id=segment_id)


# --------------------------------------------------------------------------- segment entry


def check_segment_entry(*, session: Session, document: Any) -> list[Diagnostic]:
    """Errors that must stop a publish: the entry names a segment that does not exist (a
    built-in one, see :mod:`audiences.builtin`, is created instead)."""
    trigger = _segment_trigger(document)
    if trigger is None:
        return []
    segment_id = str(trigger.get("segment_id") or "")
    if crud.get_segment(session=session, segment_id=segment_id) is not None:
        return []
    builtin = builtin_segment(segment_id)
    if builtin is not None:  # a template's audience (dormant_90d, …): save it now
        ensure_segment(session=session, segment=builtin)
        return []
    known = [s.id for s in crud.list_segments(session=session)]
    from engine.compiler.diagnostics import did_you_mean

    return [
        _diagnostic(
            Code.UNKNOWN_SEGMENT,
            f"The entry uses segment '{segment_id}', which does not exist; "
            + (did_you_mean(segment_id, known) or "save the segment first."),
            Severity.ERROR,
            hint="Build it under Segments, or pick an existing one.",
        )
    ]


async def after_publish(
    *, session: Session, temporal: TemporalGateway | None, version: JourneyVersion
) -> list[Diagnostic]:
    """Start (once) or schedule (daily / weekly) the new version's segment entry; a
    journey that no longer enters by schedule loses its schedule. → warnings."""
    journey = compiled_of(version)
    trigger = journey.entry.trigger
    warnings: list[Diagnostic] = []
    if isinstance(trigger, SegmentEntry):
        segment = crud.get_segment(session=session, segment_id=trigger.segment_id)
        if segment is not None:
            size = preview(session=session, definition=segment.definition, limit=0).count
            crud.record_segment_count(session=session, segment_id=segment.id, count=size)
            if size == 0:
                warnings.append(
                    _diagnostic(
                        Code.EMPTY_AUDIENCE,
                        f"Segment '{segment.name}' matches no customers right now; the journey "
                        "is live but nobody enters until the segment has members.",
                        Severity.WARNING,
                        hint="Check the segment's rules in the builder.",
                    )
                )
    if temporal is None:
        if isinstance(trigger, SegmentEntry):
            warnings.append(_not_started("Temporal is not configured"))
        return warnings
    try:
        client = await temporal.client()
        if isinstance(trigger, SegmentEntry) and trigger.schedule != "once":
            await schedules.upsert_schedule(
                client,
                journey_id=journey.journey_id,
                trigger=trigger,
                timezone=journey.timezone,
                task_queue=temporal.task_queue,
                activity_task_queue=temporal.enrollment_queue,
            )
            return warnings
        await schedules.delete_schedule(client, journey_id=journey.journey_id)
        if isinstance(trigger, SegmentEntry):
            await start_enrollment(
                client=client,
                task_queue=temporal.task_queue,
                activity_task_queue=temporal.enrollment_queue,
                journey_id=journey.journey_id,
                version=version.version,
                trigger="publish",
            )
    except Exception as exc:  # noqa: BLE001 - the version is live; say why nobody entered yet
        warnings.append(_not_started(str(exc)))
    return warnings


def _not_started(reason: str) -> Diagnostic:
    return _diagnostic(
        Code.ENROLLMENT_NOT_STARTED,
        f"Published, but the segment entry could not be started: {reason}",
        Severity.WARNING,
        hint="Start it from the journey's enrollment page once Temporal is reachable.",
    )


async def start_enrollment(
    *,
    client: Client,
    task_queue: str,
    activity_task_queue: str | None,
    journey_id: str,
    version: int | None = None,
    trigger: str = "manual",
    page_size: int = 500,
    concurrency: int = 32,
) -> str:
    """Start one enrollment pass of the journey's segment; → its workflow id.

    The pass runs on ``task_queue`` (the journey worker), its page activities on
    ``activity_task_queue`` (the enrollment worker; None = ``task_queue``).
    """
    suffix = f"v{version}" if trigger == "publish" and version else uuid.uuid4().hex[:8]
    workflow_id = f"{schedules.enrollment_workflow_id(journey_id)}-{trigger}-{suffix}"
    await client.start_workflow(
        SegmentEnrollmentWorkflow.run,
        EnrollmentInput(
            journey_id=journey_id,
            version=version,
            trigger=trigger,
            page_size=page_size,
            concurrency=concurrency,
            activity_task_queue=activity_task_queue,
        ),
        id=workflow_id,
        task_queue=task_queue,
    )
    return workflow_id


async def on_pause(
    *, session: Session, temporal: TemporalGateway | None, journey_id: str, paused: bool
) -> None:
    """Pause / unpause the journey's schedule; on resume, wake enrollments that paused."""
    if temporal is None:
        return
    try:
        client = await temporal.client()
        await schedules.pause_schedule(client, journey_id=journey_id, paused=paused)
    except Exception as exc:  # noqa: BLE001 - pages check the journey's status themselves
        log.warning(
            "could not %s the schedule of %s: %s", "pause" if paused else "unpause", journey_id, exc
        )
        return
    if paused:
        return
    for row in crud.list_enrollments(session=session, journey_id=journey_id):
        if row.status == "running":
            try:
                await client.get_workflow_handle(row.workflow_id).signal(
                    SegmentEnrollmentWorkflow.resume
                )
            except Exception:  # noqa: BLE001 - already finished: nothing to wake
                continue


def latest_enrollment(*, session: Session, journey_id: str) -> SegmentEnrollment | None:
    """The journey's most recent enrollment pass."""
    rows = crud.list_enrollments(session=session, journey_id=journey_id, limit=1)
    return rows[0] if rows else None


def require_segment(session: Session, segment_id: str) -> Segment:
    """The segment, or :class:`NotFoundError`."""
    segment = crud.get_segment(session=session, segment_id=segment_id)
    if segment is None:
        raise NotFoundError("segment", segment_id)
    return segment


__all__ = [
    "Preview",
    "SegmentInUseError",
    "SegmentValidationError",
    "Usage",
    "after_publish",
    "check_segment_entry",
    "delete_segment",
    "latest_enrollment",
    "on_pause",
    "preview",
    "require_segment",
    "save_segment",
    "start_enrollment",
    "where_used",
]

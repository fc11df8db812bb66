"""Segment use cases: save (validated), preview (count + sample), where used, and segment
entry of journeys — checked before publish, started or scheduled after it, paused with it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError

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
from db.session import end_transaction, in_thread
from engine.compiler import Code, Diagnostic
from engine.compiler.diagnostics import Severity
from engine.ir import CompiledJourney, SegmentEntry
from services import audit, schedules
from services.enrollment import compiled_of
from services.temporal import TemporalGateway
from workflows.enrollment import EnrollmentInput, SegmentEnrollmentWorkflow

SAMPLE_SIZE = 10
#: The largest entry limit (per pass, per hour): above any chain's customer count, and within
#: the 32-bit INTEGER columns that store it.
MAX_ENTRY_LIMIT = 10_000_000
log = logging.getLogger(__name__)


class SegmentInUseError(Exception):
    """Journeys enter by the segment or branch on it, so it cannot be deleted."""

    def __init__(self, segment_id: str, journeys: list[str]) -> None:
        super().__init__(
            f"segment {segment_id!r} is used by journeys {', '.join(journeys)}; "
            "change their entry or branch conditions first"
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
    before = None if create else crud.get_segment(session=session, segment_id=segment_id)
    audit.record(
        session,
        actor=by,
        action="create" if create else "update",
        object_type="segment",
        object_id=segment_id,
        before=_segment_values(before) if before is not None else None,
        after={"name": name, "description": description, "definition": stored},
        summary=name,
    )
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
    """A journey that uses the segment (in its draft and/or its live version): as its
    entry (``schedule`` once / daily / weekly) and/or in branch conditions."""

    journey_id: str
    name: str
    status: str
    in_draft: bool
    live_version: int | None
    schedule: str  # of the entry; "" when only branches use it
    as_entry: bool = True
    in_branches: bool = False


def draft_segment_trigger(document: Any) -> dict[str, Any] | None:
    """The segment trigger of a journey document (draft JSON), if its entry has one."""
    if not isinstance(document, dict):
        return None
    for node in document.get("nodes") or []:
        if isinstance(node, dict) and node.get("kind") == "entry":
            trigger = (node.get("config") or {}).get("trigger") or {}
            if isinstance(trigger, dict) and trigger.get("type") == "segment":
                return trigger
    return None


def _branch_segments(document: Any) -> set[str]:
    """Segment ids the branch conditions of a journey document (draft JSON) test."""
    found: set[str] = set()
    nodes = document.get("nodes") if isinstance(document, dict) else None
    for node in nodes or []:
        if not isinstance(node, dict) or node.get("kind") != "branch":
            continue
        rules = (node.get("config") or {}).get("rules") or []
        for rule in (r for r in rules if isinstance(r, dict)):
            for cond in rule.get("conditions") or []:
                if isinstance(cond, dict) and cond.get("type") == "segment":
                    found.add(str(cond.get("segment_id")))
    return found


def usage_by_segment(*, session: Session) -> dict[str, list[Usage]]:
    """Every segment in use → the journeys (any status, archived too) whose draft or live
    version enters by it or tests it in a branch. One pass: each live version is read once,
    however many segments there are."""
    found: dict[str, list[Usage]] = {}
    for journey in crud.all_journeys(session=session):
        draft = draft_segment_trigger(journey.draft_document)
        draft_entry = str(draft.get("segment_id")) if draft else None
        draft_branches = _branch_segments(journey.draft_document)
        live: SegmentEntry | None = None
        live_branches: frozenset[str] = frozenset()
        if journey.live_version is not None:
            version = crud.get_version(
                session=session, journey_id=journey.id, version=journey.live_version
            )
            compiled = compiled_of(version) if version else None
            if compiled is not None:
                trigger = compiled.entry.trigger
                live = trigger if isinstance(trigger, SegmentEntry) else None
                live_branches = frozenset(compiled.branch_segments())
        live_entry = live.segment_id if live else None
        entries = {i for i in (draft_entry, live_entry) if i is not None}
        for segment_id in sorted(entries | draft_branches | live_branches):
            in_draft_entry = draft_entry == segment_id
            in_live_entry = live_entry == segment_id
            as_entry = in_draft_entry or in_live_entry
            schedule = ""
            if in_live_entry and live is not None:
                schedule = live.schedule
            elif in_draft_entry:
                schedule = str((draft or {}).get("schedule", "once"))
            in_live_branches = segment_id in live_branches
            found.setdefault(segment_id, []).append(
                Usage(
                    journey.id,
                    journey.name,
                    journey.status,
                    in_draft=in_draft_entry or segment_id in draft_branches,
                    live_version=journey.live_version
                    if in_live_entry or in_live_branches
                    else None,
                    schedule=schedule,
                    as_entry=as_entry,
                    in_branches=segment_id in draft_branches or in_live_branches,
                )
            )
    return found


def where_used(*, session: Session, segment_id: str) -> list[Usage]:
    """Journeys whose draft or live version enters by ``segment_id`` or tests it in a
    branch (see :func:`usage_by_segment`)."""
    return usage_by_segment(session=session).get(segment_id, [])


def delete_segment(*, session: Session, segment_id: str, by: str = "") -> None:
    """Delete an unused segment (:class:`SegmentInUseError` otherwise)."""
    used = where_used(session=session, segment_id=segment_id)
    if used:
        raise SegmentInUseError(segment_id, [u.journey_id for u in used])
    before = crud.get_segment(session=session, segment_id=segment_id)
    audit.record(
        session,
        actor=by,
        action="delete",
        object_type="segment",
        object_id=segment_id,
        before=_segment_values(before) if before is not None else None,
        summary=before.name if before is not None else segment_id,
    )
    crud.delete_segment(session=session, segment_id=segment_id)


def _segment_values(segment: Segment) -> dict[str, Any]:
    return {
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
    }


# --------------------------------------------------------------------------- segment entry


class KnownSegments(Collection[str]):
    """The segments a journey may name (what the compiler checks references against): the
    saved ones, and the built-in audiences (``dormant_120d`` …) publishing saves on first
    use. Iterates the saved ids (for "did you mean")."""

    def __init__(self, *, session: Session) -> None:
        self._saved = {s.id for s in crud.list_segments(session=session)}

    def __contains__(self, segment_id: object) -> bool:
        return isinstance(segment_id, str) and (
            segment_id in self._saved or builtin_segment(segment_id) is not None
        )

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._saved))

    def __len__(self) -> int:
        return len(self._saved)


def save_builtin_segments(*, session: Session, journey: CompiledJourney) -> list[str]:
    """Save the built-in segments (a template's audience: ``dormant_90d`` …) that the
    journey's entry or branches name and that are not saved yet; → their ids."""
    trigger = journey.entry.trigger
    named = [trigger.segment_id] if isinstance(trigger, SegmentEntry) else []
    saved = []
    for segment_id in dict.fromkeys([*named, *journey.branch_segments()]):
        builtin = builtin_segment(segment_id)
        if builtin is not None and ensure_segment(session=session, segment=builtin):
            saved.append(segment_id)
    return saved


async def after_publish(
    *, session: Session, temporal: TemporalGateway | None, version: JourneyVersion
) -> list[Diagnostic]:
    """Start (once) or schedule (daily / weekly) the new version's segment entry; a
    journey that no longer enters by schedule loses its schedule. → warnings."""
    journey = compiled_of(version)
    trigger = journey.entry.trigger
    warnings = await in_thread(_audience_warnings, session, trigger)
    if temporal is None:
        if isinstance(trigger, SegmentEntry):
            warnings.append(_not_started("Temporal is not configured"))
        return warnings
    window = await in_thread(_window, session, journey.journey_id)
    try:
        await schedule_entry(
            await temporal.client(),
            journey=journey,
            version=version.version,
            window=window,
            task_queue=temporal.enrollment_queue,
            start_once=True,
        )
    except Exception as exc:  # noqa: BLE001 - the version is live; say why nobody entered yet
        warnings.append(_not_started(str(exc)))
    return warnings


def _window(session: Session, journey_id: str) -> tuple[datetime | None, datetime | None]:
    row = crud.get_journey(session=session, journey_id=journey_id)
    end_transaction(session)
    return (row.starts_at, row.ends_at) if row is not None else (None, None)


async def schedule_entry(
    client: Client,
    *,
    journey: CompiledJourney,
    version: int,
    window: tuple[datetime | None, datetime | None],
    task_queue: str,
    start_once: bool,
) -> list[str]:
    """The Temporal schedules of the live version's segment entry within the campaign's
    window (issue 17): a daily / weekly entry ticks from its start to its end (Temporal's
    spec bounds); a once-only entry whose campaign starts later gets a one-shot
    ``campaign-open-…`` schedule at the start, else it starts now (``start_once``: at
    publish) unless the campaign has ended. Schedules the entry no longer needs are
    removed. → the schedule ids in place."""
    starts_at, ends_at = window
    journey_id = journey.journey_id
    trigger = journey.entry.trigger
    if isinstance(trigger, SegmentEntry) and trigger.schedule != "once":
        await schedules.delete_campaign_open(client, journey_id=journey_id)
        return [
            await schedules.upsert_schedule(
                client,
                journey_id=journey_id,
                trigger=trigger,
                timezone=journey.timezone,
                task_queue=task_queue,
                start_at=starts_at,
                end_at=ends_at,
            )
        ]
    await schedules.delete_schedule(client, journey_id=journey_id)
    now = utcnow()
    if isinstance(trigger, SegmentEntry) and starts_at is not None and starts_at > now:
        return [
            await schedules.upsert_campaign_open(
                client, journey_id=journey_id, starts_at=starts_at, task_queue=task_queue
            )
        ]
    await schedules.delete_campaign_open(client, journey_id=journey_id)
    ended = ends_at is not None and ends_at <= now
    if isinstance(trigger, SegmentEntry) and start_once and not ended:
        await start_enrollment(
            client=client,
            task_queue=task_queue,
            journey_id=journey_id,
            version=version,
            trigger="publish",
        )
    return []


def _audience_warnings(session: Session, trigger: object) -> list[Diagnostic]:
    """Counts the segment entry's audience now (kept as the segment's last count); a warning
    when nobody would enter. Database work: run it in a worker thread."""
    warnings: list[Diagnostic] = []
    if not isinstance(trigger, SegmentEntry):
        return warnings
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
    end_transaction(session)
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
    journey_id: str,
    version: int | None = None,
    trigger: str = "manual",
    page_size: int = 500,
    concurrency: int = 32,
) -> str:
    """Start one enrollment pass of the journey's segment on ``task_queue`` (the enrollment
    queue: ``TemporalGateway.enrollment_queue``); → its workflow id."""
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
    running = await in_thread(_running_passes, session, journey_id)
    await _signal_passes(client, running, SegmentEnrollmentWorkflow.resume)


async def on_archive(*, session: Session, temporal: TemporalGateway | None, journey_id: str) -> int:
    """Cancel the journey's enrollment passes still running (a paused pass waits for a resume
    that an archived journey will not get); its schedule stays paused for a restore.
    → how many passes were told."""
    running = await in_thread(_running_passes, session, journey_id)
    if temporal is None or not running:
        return 0
    return await _signal_passes(await temporal.client(), running, SegmentEnrollmentWorkflow.cancel)


def _running_passes(session: Session, journey_id: str) -> list[str]:
    """Workflow ids of the journey's passes still running; ends the read transaction, as
    the caller signals them next."""
    running = [
        row.workflow_id
        for row in crud.list_enrollments(session=session, journey_id=journey_id)
        if row.status == "running"
    ]
    end_transaction(session)
    return running


async def _signal_passes(
    client: Client, workflow_ids: list[str], signal: Callable[[SegmentEnrollmentWorkflow], None]
) -> int:
    """Send ``signal`` to each pass; → how many took it (a pass that finished meanwhile has
    nothing to do)."""
    told = 0
    for workflow_id in workflow_ids:
        try:
            await client.get_workflow_handle(workflow_id).signal(signal)
        except RPCError:
            continue
        told += 1
    return told


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
    "on_archive",
    "KnownSegments",
    "save_builtin_segments",
    "delete_segment",
    "draft_segment_trigger",
    "latest_enrollment",
    "on_pause",
    "preview",
    "require_segment",
    "save_segment",
    "start_enrollment",
    "usage_by_segment",
    "where_used",
]

"""Journey use cases: validate a draft, publish a version, pause/resume, enroll, stop a run."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.crud import contact_policy as policy_crud
from db.errors import NotFoundError
from db.models import Journey, JourneyVersion
from db.session import end_transaction, in_thread
from engine.compiler import CompileResult, Diagnostic, compile_document
from services import segments
from services.enrollment import EnrollResult
from services.enrollment import enroll_customers as _enroll
from services.temporal import TemporalGateway, TemporalUnavailableError
from workflows import JourneyWorkflow, workflow_id_for

#: Signals to many running workflows go out this many at a time.
log = logging.getLogger(__name__)

SIGNAL_CONCURRENCY = 32
VISIBILITY_TIMEOUT = timedelta(seconds=10)


class JourneyNotLiveError(Exception):
    def __init__(self, journey_id: str, status: str) -> None:
        super().__init__(
            f"Journey '{journey_id}' is {status}; customers can only enter a live journey. "
            "Publish it (or resume it) first."
        )
        self.journey_id = journey_id
        self.status = status


class JourneyStateError(Exception):
    """The journey's status does not allow ``action`` (archive, restore, publish)."""

    def __init__(self, journey_id: str, status: str, action: str) -> None:
        super().__init__(f"Journey '{journey_id}' is {status}; it cannot {action} now.")
        self.journey_id = journey_id
        self.status = status
        self.action = action


#: Statuses each action starts from (pause and resume: see :func:`set_paused`).
ARCHIVABLE = ("draft", "paused")


def _require(session: Session, journey_id: str) -> Journey:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise NotFoundError("journey", journey_id)
    return journey


@dataclass
class PublishOutcome:
    version: JourneyVersion | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.version is not None


def coupon_template_ids(session: Session) -> set[str]:
    return {t.id for t in crud.list_coupon_templates(session=session)}


def validate_draft(
    *, session: Session, document: Any, journey_id: str = "draft", version: int = 0
) -> CompileResult:
    """Compile ``document`` against this database's coupon templates and segments, and
    its policy row (an action that may run at any hour is a warning without quiet hours;
    an award_points step may give at most the chain's points per step)."""
    policy = policy_crud.get_policy_row(session=session)
    return compile_document(
        document,
        journey_id=journey_id,
        version=version,
        coupon_templates=coupon_template_ids(session),
        segments=segments.KnownSegments(session=session),
        quiet_hours=bool(policy.quiet_start and policy.quiet_end),
        max_points_per_step=policy.max_points_per_step,
    )


class ApprovalRequiredError(Exception):
    """The chain's setting: a version goes live only once an approver signs it off."""

    def __init__(self, journey_id: str) -> None:
        super().__init__(
            f"Publishing journey '{journey_id}' requires approval: submit it for approval "
            "instead (an HQ lead or an admin other than you approves it)."
        )
        self.journey_id = journey_id


def publish(
    *,
    session: Session,
    journey_id: str,
    by: str,
    document: Any = None,
    approved: bool = False,
) -> PublishOutcome:
    """Compile the draft (or ``document``: an approved submission as it was submitted) and
    store it as the next immutable version, made live.

    When the chain's policy says publishing requires approval, only an approval
    (``approved``, from :mod:`services.approvals`) publishes; anything else raises
    :class:`ApprovalRequiredError`."""
    journey = _require(session, journey_id)
    if journey.status == "archived":
        raise JourneyStateError(journey_id, journey.status, "publish")
    if not approved and policy_crud.get_policy_row(session=session).publish_requires_approval:
        raise ApprovalRequiredError(journey_id)
    versions = crud.list_versions(session=session, journey_id=journey_id)
    next_version = (versions[0].version if versions else 0) + 1
    result = validate_draft(
        session=session,
        document=journey.draft_document if document is None else document,
        journey_id=journey_id,
        version=next_version,
    )
    if result.journey is None or result.document is None:
        return PublishOutcome(None, result.diagnostics)
    segments.save_builtin_segments(session=session, journey=result.journey)
    version = crud.publish_version(
        session=session,
        journey_id=journey_id,
        document=result.document.model_dump(mode="json"),
        compiled=result.journey.to_dict(),
        content_hash=result.journey.content_hash,
        by=by,
    )
    return PublishOutcome(version, result.diagnostics)


async def publish_journey(
    *, session: Session, temporal: TemporalGateway | None, journey_id: str, by: str
) -> PublishOutcome:
    """Publish; a segment entry is then started (once) or scheduled (daily / weekly)."""
    outcome = await in_thread(publish, session=session, journey_id=journey_id, by=by)
    if outcome.version is not None:
        outcome.diagnostics += await segments.after_publish(
            session=session, temporal=temporal, version=outcome.version
        )
    return outcome


def live_version(session: Session, journey_id: str) -> JourneyVersion:
    journey = _require(session, journey_id)
    if journey.status != "live" or journey.live_version is None:
        raise JourneyNotLiveError(journey_id, journey.status)
    version = crud.get_version(session=session, journey_id=journey_id, version=journey.live_version)
    if version is None:  # pragma: no cover - live_version always points at a version
        raise NotFoundError("journey version", f"{journey_id} v{journey.live_version}")
    return version


async def enroll_customers(
    *, session: Session, temporal: TemporalGateway, journey_id: str, customer_ids: list[str]
) -> EnrollResult:
    version = await in_thread(live_version, session, journey_id)
    return await _enroll(
        session=session,
        client=await temporal.client(),
        task_queue=temporal.task_queue,
        version=version,
        customer_ids=customer_ids,
    )


async def signal_runs(client: Client, workflow_ids: list[str], signal: str, *args: Any) -> int:
    """Signal many workflows with bounded concurrency; → how many were reached."""
    sem = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(wid: str) -> bool:
        async with sem:
            try:
                await client.get_workflow_handle(wid).signal(signal, *args)
            except RPCError:  # finished meanwhile: nothing to tell it
                return False
            return True

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))


async def set_paused(
    *, session: Session, temporal: TemporalGateway | None, journey_id: str, paused: bool, by: str
) -> int:
    """Pause: no new entries, running customers hold before their next step. Resume undoes
    both. → how many running customers were told.

    The status is checked, then Temporal reached, then the status changed: while Temporal
    is down and customers are running this raises
    :class:`~services.temporal.TemporalUnavailableError` with the journey as it was (the
    caller tries again), never a status its running customers were not told about. With
    nobody running, the status changes without Temporal."""

    def set_status(write: bool) -> list[str]:
        journey = _require(session, journey_id)
        wanted_from = "live" if paused else "paused"
        if journey.status != wanted_from:
            raise JourneyNotLiveError(journey_id, journey.status)
        if not write:
            return _running_workflows(session, journey_id)
        crud.set_status(
            session=session, journey_id=journey_id, status="paused" if paused else "live", by=by
        )
        return []

    client = await _client_for(temporal, await in_thread(set_status, False))
    await in_thread(set_status, True)
    await segments.on_pause(
        session=session, temporal=temporal, journey_id=journey_id, paused=paused
    )
    running = await in_thread(_running_workflows, session, journey_id)
    if client is None:
        return 0
    running = await with_visible_runs(client, journey_id, running)
    signal = JourneyWorkflow.pause if paused else JourneyWorkflow.resume
    return await signal_runs(client, running, signal.__name__)


async def with_visible_runs(client: Client, journey_id: str, known: list[str]) -> list[str]:
    """``known`` (the database's running runs of the journey) plus the journey's workflows
    Temporal still runs although the database calls them ended.

    That happens when a run's first workflow task recorded the exit (local activities run
    at least once) and then timed out, and the retried task took another path (a pause
    signal had arrived meanwhile): pause, resume and archive must still reach such a run.
    Asked of Temporal's visibility; a server without it (the time-skipping test server)
    leaves ``known`` as it is.
    """
    prefix = workflow_id_for(journey_id, "")
    query = (
        "WorkflowType = 'JourneyWorkflow' AND ExecutionStatus = 'Running' "
        f"AND WorkflowId STARTS_WITH '{prefix}'"
    )
    found = dict.fromkeys(known)
    try:
        async for execution in client.list_workflows(
            query, page_size=1000, rpc_timeout=VISIBILITY_TIMEOUT
        ):
            found.setdefault(execution.id)
    except RPCError as exc:
        log.info("visibility not available, using the database's runs only: %s", exc)
    return list(found)


async def _client_for(temporal: TemporalGateway | None, running: list[str]) -> Client | None:
    """The client to tell ``running`` with; None when there is no Temporal, or it is away
    and nobody is running to be told (raises ``TemporalUnavailableError`` when somebody
    is)."""
    if temporal is None:
        return None
    try:
        return await temporal.client()
    except TemporalUnavailableError:
        if running:
            raise
        return None


def _running_workflows(session: Session, journey_id: str) -> list[str]:
    """Workflow ids of the journey's running customers; ends the read transaction (the
    caller signals them next)."""
    runs = crud.list_runs(session=session, journey_id=journey_id, status="running", limit=100_000)
    end_transaction(session)
    return [r.workflow_id for r in runs]


ARCHIVE_REASON = "journey archived"


async def archive_journey(
    *, session: Session, temporal: TemporalGateway | None, journey_id: str, by: str
) -> int:
    """Archive a draft or paused journey: it leaves the journey list and takes no one in; its
    customers still running (held by the pause) are stopped and its enrollment passes
    cancelled. A live journey must be paused first, so archiving never cuts a running journey
    off by surprise. → how many runs were stopped.

    Like :func:`set_paused`, Temporal is reached before anything changes when customers are
    running (a draft nobody ever entered archives without it)."""

    def set_archived(write: bool) -> list[str]:
        journey = _require(session, journey_id)
        if journey.status not in ARCHIVABLE:
            raise JourneyStateError(journey_id, journey.status, "archive")
        if not write:
            return _running_workflows(session, journey_id)
        crud.set_status(session=session, journey_id=journey_id, status="archived", by=by)
        return _running_workflows(session, journey_id)

    client = await _client_for(temporal, await in_thread(set_archived, False))
    running = await in_thread(set_archived, True)
    await segments.on_archive(session=session, temporal=temporal, journey_id=journey_id)
    if client is None:
        return 0
    running = await with_visible_runs(client, journey_id, running)
    return await signal_runs(client, running, JourneyWorkflow.stop.__name__, ARCHIVE_REASON)


def restore_journey(*, session: Session, journey_id: str, by: str) -> Journey:
    """Bring an archived journey back: paused if it was ever published (resume it to take
    customers in again), else a draft."""
    journey = _require(session, journey_id)
    if journey.status != "archived":
        raise JourneyStateError(journey_id, journey.status, "restore")
    status = "paused" if journey.live_version is not None else "draft"
    return crud.set_status(session=session, journey_id=journey_id, status=status, by=by)


async def stop_run(
    *, session: Session, temporal: TemporalGateway, workflow_id: str, reason: str
) -> None:

    def running() -> bool:
        found = crud.get_running_run(session=session, workflow_id=workflow_id) is not None
        end_transaction(session)
        return found

    if not await in_thread(running):
        raise NotFoundError("running journey run", workflow_id)
    client = await temporal.client()
    try:
        await client.get_workflow_handle(workflow_id).signal(JourneyWorkflow.stop, reason)
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise TemporalUnavailableError(f"Temporal did not take the stop: {exc}") from exc
        # the row said running, but its workflow is gone: the row follows Temporal
        await in_thread(
            crud.mark_run,
            session=session,
            workflow_id=workflow_id,
            status="stopped",
            exit_reason=f"{reason} (its workflow had already ended)",
        )

"""Entering customers into a published journey version: re-entry rules, then one workflow.

The workflow id is deterministic per journey and customer (``workflows.workflow_id_for``),
so Temporal itself refuses a second concurrent run of the same customer in the same
journey; the runs table keeps the history the re-entry policy reads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.enrollment import reentry_block
from activities.facts import load_facts
from db import crud
from db.errors import RunAlreadyRunningError
from db.models import JourneyVersion
from db.session import begin_write, end_transaction
from engine.effects import FactsRequest
from engine.ir import CompiledJourney, ReentryPolicy
from engine.runtime import CustomerEventIn
from workflows import JourneyInput, JourneyWorkflow, workflow_id_for


@dataclass
class EntryOutcome:
    customer_id: str
    started: bool
    workflow_id: str
    reason: str = ""  # why not, when not started


@dataclass
class EnrollResult:
    journey_id: str
    version: int
    started: int = 0
    skipped: list[EntryOutcome] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "version": self.version,
            "started": self.started,
            "skipped": [asdict(s) for s in self.skipped],
        }


_COMPILED: dict[tuple[str, int, str], CompiledJourney] = {}


def compiled_of(version: JourneyVersion) -> CompiledJourney:
    """The IR of a published version. Versions are immutable, so each is decoded once per
    process (keyed by id, number and content hash)."""
    key = (version.journey_id, version.version, version.content_hash)
    journey = _COMPILED.get(key)
    if journey is None:
        journey = CompiledJourney.from_dict(version.compiled)
        if len(_COMPILED) > 512:
            _COMPILED.clear()
        _COMPILED[key] = journey
    return journey


def _reentry_block(
    session: Session, journey: CompiledJourney, workflow_id: str, now: datetime
) -> str | None:
    """Why this customer may not enter now, or None (the one rule, shared with the segment
    enrollment's batch path in :func:`activities.enrollment.reentry_block`)."""
    latest = crud.get_latest_run(session=session, workflow_id=workflow_id)
    return reentry_block(latest, journey, now)


async def enter(
    *,
    session: Session,
    client: Client,
    task_queue: str,
    version: JourneyVersion,
    customer_id: str,
    entry_event: CustomerEventIn | None = None,
    now: datetime | None = None,
) -> EntryOutcome:
    """Start ``customer_id``'s run of ``version`` unless the re-entry policy forbids it.

    With an ``entry_event`` the start is a signal-with-start: if the run exists after all
    (a race with another request), the event is delivered to it instead of being lost.
    """
    journey = compiled_of(version)
    workflow_id = workflow_id_for(journey.journey_id, customer_id)
    now = now or datetime.now(UTC)
    blocked = _reentry_block(session, journey, workflow_id, now)
    if blocked:
        return EntryOutcome(customer_id, False, workflow_id, blocked)
    facts = load_facts(session, FactsRequest(customer_id, now.isoformat()))
    if not facts.found:
        return EntryOutcome(customer_id, False, workflow_id, "unknown customer")
    # the reads above and the insert below are separate transactions: the insert takes the
    # write lock up front (SQLite) and the unique running-run index settles any race
    end_transaction(session)
    begin_write(session)
    try:
        run = crud.create_run(
            session=session,
            workflow_id=workflow_id,
            journey_id=journey.journey_id,
            journey_version=journey.version,
            customer_id=customer_id,
            current_node=journey.entry_node_id,
            entered_at=now,
        )
    except RunAlreadyRunningError:
        return EntryOutcome(customer_id, False, workflow_id, "already in the journey")
    reuse = (
        WorkflowIDReusePolicy.REJECT_DUPLICATE
        if journey.entry.reentry is ReentryPolicy.NEVER
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE
    )
    inp = JourneyInput.new(
        journey=version.compiled,
        customer_id=customer_id,
        enrollment_id=f"e{run.id}",
        entry_event=entry_event,
        facts=facts,
    )
    end_transaction(session)
    try:
        if entry_event is not None:
            await client.start_workflow(
                JourneyWorkflow.run,
                inp,
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=reuse,
                start_signal="customer_event",
                start_signal_args=[entry_event],
            )
        else:
            await client.start_workflow(
                JourneyWorkflow.run,
                inp,
                id=workflow_id,
                task_queue=task_queue,
                id_reuse_policy=reuse,
                id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            )
    except WorkflowAlreadyStartedError:
        crud.mark_run(
            session=session,
            workflow_id=workflow_id,
            status="failed",
            exit_reason="a run with this id already exists in Temporal",
        )
        return EntryOutcome(customer_id, False, workflow_id, "already in the journey")
    except Exception:
        crud.mark_run(
            session=session,
            workflow_id=workflow_id,
            status="failed",
            exit_reason="could not start the workflow",
        )
        raise
    return EntryOutcome(customer_id, True, workflow_id)


async def enroll_customers(
    *,
    session: Session,
    client: Client,
    task_queue: str,
    version: JourneyVersion,
    customer_ids: list[str],
) -> EnrollResult:
    """Manual/API enrollment of several customers into the live version."""
    result = EnrollResult(version.journey_id, version.version)
    for customer_id in dict.fromkeys(customer_ids):
        outcome = await enter(
            session=session,
            client=client,
            task_queue=task_queue,
            version=version,
            customer_id=customer_id,
        )
        if outcome.started:
            result.started += 1
        else:
            result.skipped.append(outcome)
    return result

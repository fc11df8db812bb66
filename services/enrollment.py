"""Entering customers into a published journey version: re-entry rules, then one workflow.

The event path and the enroll API come through :func:`enter`; the start itself is
:func:`workflows.starter.start_journey_run`, the one segment enrollment passes use too. The
workflow id is deterministic per journey and customer (``workflows.workflow_id_for``),
so Temporal itself refuses a second concurrent run of the same customer in the same
journey; the runs table keeps the history the re-entry policy reads.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from activities.enrollment import reentry_block
from activities.facts import load_facts
from db import crud
from db.crud import priority_groups as groups
from db.crud.journeys import entry_window_closed
from db.errors import RunAlreadyRunningError
from db.models import JourneyRun, JourneyVersion
from db.session import begin_write, end_transaction, in_thread
from engine.effects import FactsRequest
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn
from workflows.contract import JourneyInput, workflow_id_for
from workflows.starter import (
    RPC_TIMEOUT,
    compiled_journey,
    journey_input,
    start_journey_run,
    stop_journey_run,
)

__all__ = [
    "RPC_TIMEOUT",
    "EnrollResult",
    "EntryOutcome",
    "compiled_of",
    "enroll_customers",
    "enter",
]


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


def compiled_of(version: JourneyVersion) -> CompiledJourney:
    """The IR of a published version, parsed once per process (the starter's cache)."""
    return compiled_journey(version.compiled)


@dataclass
class _Claim:
    """A run row claimed for a start, and the workflow input to start it with."""

    row_id: int
    inp: JourneyInput
    #: the lower-priority run of the journey's group this entry took the seat from
    preempted: groups.Preempted | None = None


def _claim_entry(
    session: Session,
    version: JourneyVersion,
    customer_id: str,
    now: datetime,
    entry_event: CustomerEventIn | None,
) -> _Claim | str:
    """Re-entry rules, the customer's profile and the run row, in the database (a worker
    thread). → the claim, or why the customer does not enter."""
    journey = compiled_of(version)
    workflow_id = workflow_id_for(journey.journey_id, customer_id)
    try:
        row = crud.get_journey(session=session, journey_id=journey.journey_id)
        closed = entry_window_closed(row, now) if row is not None else None
        if closed:
            return closed
        latest = crud.get_latest_run(session=session, workflow_id=workflow_id)
        unconfirmed = (
            latest
            if entry_event is not None
            and latest is not None
            and latest.status == "running"
            and latest.run_id is None
            else None
        )
        # an entry event claimed this row before and may have died before its start: the
        # signal-with-start is safe to repeat, so it is (re)started, not refused as a re-entry
        blocked = None if unconfirmed else reentry_block(latest, journey, now)
        if blocked:
            return blocked
        facts = load_facts(session, FactsRequest(customer_id, now.isoformat()))
        if not facts.found:
            return "unknown customer"
    finally:
        # the reads above and the insert below are separate transactions: the insert
        # takes the write lock up front (SQLite) and the unique running-run index settles
        # any race
        end_transaction(session)
    if unconfirmed is not None:
        assert unconfirmed.id is not None
        return _Claim(
            unconfirmed.id,
            journey_input(
                compiled=version.compiled,
                customer_id=customer_id,
                row_id=unconfirmed.id,
                facts=facts,
                entry_event=entry_event,
            ),
        )
    begin_write(session)
    admission = groups.ADMITTED
    try:
        # the group seat and the run row commit together (create_run commits): two entries
        # into two journeys of one group serialise on the seat (db.crud.priority_groups)
        admission = groups.admit(
            session=session,
            journey_id=journey.journey_id,
            customer_id=customer_id,
            workflow_id=workflow_id,
        )
        if not admission.ok:
            session.rollback()
            return admission.reason
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
        admission = groups.ADMITTED
        session.rollback()  # nor the seat: the running row keeps what it had
        unconfirmed = _unconfirmed_claim(session, workflow_id) if entry_event else None
        if unconfirmed is None:
            return "already in the journey"
        run = unconfirmed
    finally:
        end_transaction(session)
    assert run.id is not None
    inp = journey_input(
        compiled=version.compiled,
        customer_id=customer_id,
        row_id=run.id,
        facts=facts,
        entry_event=entry_event,
    )
    return _Claim(run.id, inp, admission.preempted)


def _unconfirmed_claim(session: Session, workflow_id: str) -> JourneyRun | None:
    """The running row of ``workflow_id`` when no start of it was confirmed (no run id): an
    earlier delivery of an entry event claimed it and may have died before starting it.
    Signal-with-start is safe to repeat, so the event path starts it (again)."""
    session.rollback()
    run = crud.get_running_run(session=session, workflow_id=workflow_id)
    return run if run is not None and run.run_id is None else None


def _forget_run(session: Session, row_id: int) -> None:
    """A claimed run whose workflow never started is no entry (re-entry rules ignore it);
    a run it preempted (not stopped yet: the stop follows the start) gets its seat back."""
    begin_write(session)
    run = session.get(JourneyRun, row_id)
    if run is not None:
        groups.give_back_seat(
            session=session,
            journey_id=run.journey_id,
            customer_id=run.customer_id,
            workflow_id=run.workflow_id,
        )
    crud.delete_run(session=session, row_id=row_id)


async def stop_preempted(*, session: Session, client: Client, preempted: groups.Preempted) -> None:
    """Stop the lower-priority run a newcomer took the seat from, after the newcomer
    started: through its ``stop`` signal (the workflow records ``stopped`` with the reason);
    a workflow Temporal no longer has gets its row marked here."""
    if await stop_journey_run(
        client=client, workflow_id=preempted.workflow_id, reason=preempted.reason
    ):
        return

    def mark() -> None:
        begin_write(session)
        try:
            if crud.get_running_run(session=session, workflow_id=preempted.workflow_id):
                crud.mark_run(
                    session=session,
                    workflow_id=preempted.workflow_id,
                    status="stopped",
                    exit_reason=f"{preempted.reason} (its workflow had already ended)",
                )
        finally:
            end_transaction(session)

    await in_thread(mark)


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

    The database work runs in a worker thread, never on the event loop; no transaction is
    open while Temporal is called. A start that fails removes its run row again, so it never
    counts as an entry; Temporal errors propagate (the caller retries: event deliveries stay
    pending). With an ``entry_event`` the start is a signal-with-start (see
    :func:`workflows.starter.start_journey_run`).
    """
    journey = compiled_of(version)
    workflow_id = workflow_id_for(journey.journey_id, customer_id)
    now = now or datetime.now(UTC)
    claim = await in_thread(_claim_entry, session, version, customer_id, now, entry_event)
    if isinstance(claim, str):
        return EntryOutcome(customer_id, False, workflow_id, claim)
    try:
        run_id = await start_journey_run(
            client=client,
            task_queue=task_queue,
            journey=journey,
            row_id=claim.row_id,
            inp=claim.inp,
        )
    except WorkflowAlreadyStartedError:
        await in_thread(_forget_run, session, claim.row_id)
        return EntryOutcome(customer_id, False, workflow_id, "already in the journey")
    except BaseException:
        await asyncio.shield(in_thread(_forget_run, session, claim.row_id))
        raise
    await in_thread(crud.set_run_ids, session=session, run_ids={claim.row_id: run_id})
    if claim.preempted is not None:
        await stop_preempted(session=session, client=client, preempted=claim.preempted)
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

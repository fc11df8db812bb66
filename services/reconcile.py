"""The reconciler: what a crash or an outage left half-done is finished here.

Four kinds of leftovers:

* **pending event deliveries** (:class:`db.models.EventDelivery`) whose lease has lapsed —
  Temporal was away, or the process that owned them died mid-request. Each is delivered
  again with :func:`services.events.deliver_event` (safe to repeat).
* **unconfirmed runs**: running rows without a Temporal run id, claimed a while ago. The
  workflow is looked up by id; the row's id in its memo says whether it is this row's run.
  A row whose workflow never started is removed (it is no entry, and the event that caused
  it, if any, is still pending and starts it again); one that started gets its run id; one
  whose workflow already closed without recording its end is closed like the workflow.
* **runs that ended without saying so**: a row still "running" whose workflow closed
  (:func:`close_ended_runs`, from Temporal's visibility of closed runs).
* **owed task outcomes**: a guide completed a task, but its run was never told (Temporal
  away, the process died after the commit): the outcome is signalled now.
* **background jobs whose process stopped** (a restart): a version move pass still running
  whose lease lapsed is claimed (one process wins, :func:`services.version_moves.claim_orphaned`)
  and resumed from its cursor; a backtest whose lease lapsed is marked failed as interrupted
  (:func:`services.backtest.interrupt_orphaned`: the page offers to run it again).

Each round also counts the newest rows into the journey results store
(:func:`services.results_store.catch_up`), so a report rarely has much left to count.

:class:`Reconciler` runs :func:`reconcile_once` every few seconds in each web process
(leases keep two processes off the same delivery); ``journeys reconcile`` runs it once.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.models import JourneyRun, utcnow
from db.session import in_thread, writer
from services import backtest, lifecycle, results_store, version_moves
from services.events import DeliveryFailedError, deliver_event
from services.tasks import tell_journey
from services.temporal import TemporalGateway, TemporalUnavailableError
from workflows.contract import MEMO_RUN_ROW

log = logging.getLogger(__name__)

#: a claimed run younger than this may still be starting: leave it to its request
START_GRACE = timedelta(minutes=2)
#: a completed task younger than this is still being told by its request
OUTCOME_GRACE = timedelta(seconds=30)
#: Source rows per table a round counts into the results store per write transaction
#: (short ones: web requests wait for SQLite's write lock meanwhile).
RESULTS_STEP_ROWS = 2000
#: How often a web process moves customers whose time ran out into lifecycle decline.
SWEEP_EVERY = timedelta(hours=1)

_CLOSED = {
    WorkflowExecutionStatus.COMPLETED: (
        "exited",
        "the workflow completed without recording its end",
    ),
    WorkflowExecutionStatus.FAILED: ("failed", "the workflow failed"),
    WorkflowExecutionStatus.TIMED_OUT: ("failed", "the workflow timed out"),
    WorkflowExecutionStatus.TERMINATED: ("stopped", "the workflow was terminated"),
    WorkflowExecutionStatus.CANCELED: ("stopped", "the workflow was cancelled"),
}


@dataclass
class ReconcileResult:
    delivered: int = 0
    still_pending: int = 0
    runs_confirmed: int = 0
    runs_removed: int = 0
    runs_closed: int = 0
    outcomes_told: int = 0
    stage_changes: int = 0
    moves_resumed: int = 0
    backtests_interrupted: int = 0
    closed_until: datetime | None = None


async def reconcile_once(
    *,
    engine: Engine,
    client: Client,
    task_queue: str,
    batch: int = 100,
    now: datetime | None = None,
    closed_since: datetime | None = None,
    lifecycle_sweep: bool = False,
    moves_in_background: bool = False,
    interrupt_backtests: bool = True,
) -> ReconcileResult:
    """One round: deliver what is due, settle unconfirmed runs, tell owed outcomes; with
    ``closed_since``, also close rows whose workflow closed since then
    (``result.closed_until`` is where the next round takes up); with ``lifecycle_sweep``,
    first move customers whose time ran out into decline (their ``lifecycle_stage_changed``
    events are delivered in this round). Move passes whose process stopped are resumed —
    on this event loop in the background with ``moves_in_background`` (the web app), else
    to their end before the round returns (``journeys reconcile``); with
    ``interrupt_backtests``, backtests whose process stopped are marked interrupted."""
    result = ReconcileResult()
    now = now or utcnow()
    if interrupt_backtests:
        result.backtests_interrupted = len(
            await in_thread(backtest.interrupt_orphaned, engine=engine, now=now)
        )
    result.moves_resumed = await resume_orphaned_moves(
        engine=engine, client=client, now=now, in_background=moves_in_background
    )
    if lifecycle_sweep:
        with Session(writer(engine), expire_on_commit=False) as session:
            result.stage_changes = len(await in_thread(lifecycle.sweep, session=session, now=now))
    if closed_since is not None:
        result.runs_closed, result.closed_until = await close_ended_runs(
            engine=engine, client=client, since=closed_since
        )
    with Session(writer(engine), expire_on_commit=False) as session:
        due = await in_thread(crud.claim_due_deliveries, session=session, limit=batch, now=now)
        for event_id in due:
            try:
                await deliver_event(
                    session=session, client=client, task_queue=task_queue, event_id=event_id
                )
            except DeliveryFailedError as exc:
                result.still_pending += 1
                log.warning("%s", exc)
                continue
            result.delivered += 1
        rows = await in_thread(
            crud.unconfirmed_runs, session=session, older_than=now - START_GRACE, limit=batch
        )
        for row in rows:
            await _settle(session, client, row, result)
        owed = await in_thread(
            crud.untold_outcomes, session=session, older_than=now - OUTCOME_GRACE, limit=batch
        )
        for task in owed:
            try:
                await tell_journey(client, task)
            except RPCError as exc:
                log.warning("outcome of task %s still owed: %s", task.id, exc)
                continue
            await in_thread(crud.mark_journey_told, session=session, task_ids=[task.id])
            result.outcomes_told += 1
    return result


async def resume_orphaned_moves(
    *, engine: Engine, client: Client, now: datetime, in_background: bool
) -> int:
    """Claim the move passes whose process stopped and go on with each from its cursor
    (see :mod:`services.version_moves`); → how many this process took."""
    claimed = await in_thread(version_moves.claim_orphaned, engine=engine, now=now)
    for move_id, owner in claimed:
        log.info("move pass %s lost its process: resumed here", move_id)
        if in_background:
            version_moves.start_in_background(
                engine=engine, client=client, move_id=move_id, owner=owner
            )
            continue
        try:
            await version_moves.run_move(engine=engine, client=client, move_id=move_id, owner=owner)
        except Exception:  # noqa: BLE001 - stored on the pass (failed: its Resume button)
            log.exception("resumed move pass %s failed", move_id)
    return len(claimed)


async def close_ended_runs(
    *, engine: Engine, client: Client, since: datetime, limit: int = 5000
) -> tuple[int, datetime]:
    """Rows still "running" whose workflow closed after ``since`` without recording its
    end (runs of an older release that followed a port leading nowhere, or a crash before
    the last report) are closed like their workflow. Asked of Temporal's visibility, closed
    runs only, so it costs nothing per waiting customer; without visibility (the
    time-skipping test server) it does nothing. → (rows closed, the new ``since``)."""
    query = (
        "WorkflowType = 'JourneyWorkflow' AND ExecutionStatus != 'Running' "
        f"AND CloseTime > '{since.isoformat()}'"
    )
    closed: dict[str, tuple[str, WorkflowExecutionStatus | None, datetime | None]] = {}
    newest = since
    try:
        async for ex in client.list_workflows(query, page_size=1000, limit=limit):
            closed[ex.id] = (ex.run_id, ex.status, ex.close_time)
            if ex.close_time is not None and ex.close_time > newest:
                newest = ex.close_time
    except RPCError as exc:
        log.debug("no visibility for closed runs: %s", exc)
        return 0, since
    if not closed:
        return 0, newest

    def close(session: Session) -> int:
        rows = crud.latest_runs(session=session, workflow_ids=list(closed))
        count = 0
        for workflow_id, row in rows.items():
            run_id, wf_status, close_time = closed[workflow_id]
            if row.status != "running" or row.run_id not in (None, run_id):
                continue
            status, reason = _CLOSED.get(
                wf_status or WorkflowExecutionStatus.COMPLETED,
                ("failed", f"the workflow is {wf_status}"),
            )
            crud.mark_run(
                session=session,
                workflow_id=workflow_id,
                status=status,
                exit_reason=reason,
                at=close_time,
            )
            count += 1
        return count

    with Session(writer(engine), expire_on_commit=False) as session:
        return await in_thread(close, session), newest


async def _settle(session: Session, client: Client, row: JourneyRun, out: ReconcileResult) -> None:
    assert row.id is not None
    try:
        desc = await client.get_workflow_handle(row.workflow_id).describe()
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        await in_thread(crud.delete_run, session=session, row_id=row.id)
        out.runs_removed += 1
        log.info("run row %s of %s never started: removed", row.id, row.workflow_id)
        return
    owner = await desc.memo_value(MEMO_RUN_ROW, None)
    if owner is not None and owner != row.id:
        # the workflow under this id is another row's run: this claim never started
        await in_thread(crud.delete_run, session=session, row_id=row.id)
        out.runs_removed += 1
        return
    if desc.status is WorkflowExecutionStatus.RUNNING or desc.status is None:
        await in_thread(crud.set_run_ids, session=session, run_ids={row.id: desc.run_id})
        out.runs_confirmed += 1
        return
    status, reason = _CLOSED.get(desc.status, ("failed", f"the workflow is {desc.status}"))
    await in_thread(crud.set_run_ids, session=session, run_ids={row.id: desc.run_id})
    await in_thread(
        crud.mark_run,
        session=session,
        workflow_id=row.workflow_id,
        status=status,
        exit_reason=reason,
        at=desc.close_time,
    )
    out.runs_closed += 1


class Reconciler:
    """Runs :func:`reconcile_once` every ``interval`` seconds until cancelled; a round that
    fails (Temporal away) is logged and tried again next time."""

    def __init__(
        self,
        *,
        engine: Engine,
        gateway: TemporalGateway,
        interval: float,
        timezone: str | None = None,
        claim_rule: results_store.ClaimRule | None = None,
    ) -> None:
        self.engine = engine
        self.gateway = gateway
        self.interval = interval
        #: with a time zone, each round also brings the journey results store up to date
        #: (its order claims by ``claim_rule``, the chain's attribution rule)
        self.timezone = timezone
        self.claim_rule = claim_rule or results_store.ClaimRule()
        #: closed runs are looked at from here on (a day back at start-up)
        self.closed_since = utcnow() - timedelta(days=1)
        #: lifecycle declines are swept at start-up and then every SWEEP_EVERY
        self.next_sweep = utcnow()

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                # Temporal or not: a backtest cut off by a restart never spins for ever
                interrupted = await in_thread(backtest.interrupt_orphaned, engine=self.engine)
                if interrupted:
                    log.info("reconciler: backtests %s were interrupted", interrupted)
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                log.exception("reconciler: looking for interrupted backtests failed")
            if self.timezone is not None:
                try:
                    await in_thread(
                        results_store.catch_up,
                        engine=self.engine,
                        timezone=self.timezone,
                        rule=self.claim_rule,
                        step_rows=RESULTS_STEP_ROWS,
                    )
                except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                    log.exception("reconciler: refreshing the journey results failed")
            try:
                client = await self.gateway.client()
                sweep = utcnow() >= self.next_sweep
                result = await reconcile_once(
                    engine=self.engine,
                    client=client,
                    task_queue=self.gateway.task_queue,
                    closed_since=self.closed_since,
                    lifecycle_sweep=sweep,
                    moves_in_background=True,
                    interrupt_backtests=False,  # done above
                )
                self.closed_since = result.closed_until or self.closed_since
                if sweep:
                    self.next_sweep = utcnow() + SWEEP_EVERY
            except (TemporalUnavailableError, RPCError) as exc:
                log.warning("reconciler: Temporal unavailable, retrying later: %s", exc)
                continue
            except Exception:  # noqa: BLE001 - the loop must outlive one bad round
                log.exception("reconciler round failed")
                continue
            if (
                result.delivered
                or result.runs_removed
                or result.runs_closed
                or result.outcomes_told
                or result.stage_changes
                or result.moves_resumed
            ):
                log.info("reconciler: %s", result)

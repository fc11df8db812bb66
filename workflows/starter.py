"""The one way a journey run is started: the event path and the enroll API
(``services.enrollment``) and segment enrollment passes (``activities.enrollment``) all
call :func:`start_journey_run`.

The caller has claimed a ``journey_run`` row first (its id is ``row_id``) and owns what a
failed start means for that row; this module owns the Temporal side, the same for every
caller:

* the workflow id is :func:`~workflows.contract.workflow_id_for` (journey, customer), so
  Temporal refuses a second concurrent run of one customer in one journey;
* the id reuse policy follows the journey's re-entry rule (``never``: a closed run's id is
  not reused either);
* the row id rides in the memo (:data:`~workflows.contract.MEMO_RUN_ROW`), so a retried
  start or the reconciler can tell whether the workflow it finds is that row's;
* every call has an RPC deadline, so a caller never hangs on a cluster that is away;
* with an entry event the start is a signal-with-start: a run that exists after all (a
  race, or a retried delivery of the same event) gets the event instead, and the workflow
  drops an event id it has seen, so a repeat is harmless.

Client code (not workflow code): temporalio's client, engine/ and the contract only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError, RPCStatusCode

from engine.effects import CustomerFacts
from engine.ir import CompiledJourney, ReentryPolicy
from engine.runtime import CustomerEventIn
from workflows import journey_cache
from workflows.contract import (
    JOURNEY_WORKFLOW,
    MEMO_RUN_ROW,
    JourneyInput,
    JourneyResult,
    workflow_id_for,
)

#: A Temporal call that takes longer than this fails (the caller retries), instead of
#: holding a web request or an enrollment page while the cluster is away.
RPC_TIMEOUT = timedelta(seconds=10)


def compiled_journey(compiled: dict[str, Any]) -> CompiledJourney:
    """The IR of a published version's ``compiled`` dict, parsed once per process.

    Versions are immutable and content-addressed: this is the cache runs started here read
    too (``workflows.journey_cache``), so a starter never keeps a second copy.
    """
    ref = journey_cache.remember(compiled)
    journey = journey_cache.lookup(ref)
    # evicted between the two calls only under heavy churn of > MAX_VERSIONS versions
    return journey if journey is not None else CompiledJourney.from_dict(compiled)


def journey_input(
    *,
    compiled: dict[str, Any],
    customer_id: str,
    row_id: int,
    facts: CustomerFacts | None = None,
    entry_event: CustomerEventIn | None = None,
) -> JourneyInput:
    """The input of the run claimed by row ``row_id`` (its enrollment id is ``e<row_id>``)."""
    return JourneyInput.new(
        journey=compiled,
        customer_id=customer_id,
        enrollment_id=f"e{row_id}",
        entry_event=entry_event,
        facts=facts,
    )


async def start_journey_run(
    *,
    client: Client,
    task_queue: str,
    journey: CompiledJourney,
    row_id: int,
    inp: JourneyInput,
    rpc_timeout: timedelta = RPC_TIMEOUT,
) -> str:
    """Start the run claimed by row ``row_id``; → its Temporal run id.

    ``inp.entry_event`` set: a signal-with-start (see the module docstring). Raises
    ``WorkflowAlreadyStartedError`` when the id is taken (re-entry ``never``, or a running
    workflow without a running row), ``RPCError`` when Temporal fails or times out.
    """
    workflow_id = workflow_id_for(journey.journey_id, inp.customer_id)
    reuse = (
        WorkflowIDReusePolicy.REJECT_DUPLICATE
        if journey.entry.reentry is ReentryPolicy.NEVER
        else WorkflowIDReusePolicy.ALLOW_DUPLICATE
    )
    if inp.entry_event is not None:
        handle = await client.start_workflow(
            JOURNEY_WORKFLOW,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            result_type=JourneyResult,
            id_reuse_policy=reuse,
            start_signal="customer_event",
            start_signal_args=[inp.entry_event],
            memo={MEMO_RUN_ROW: row_id},
            rpc_timeout=rpc_timeout,
        )
    else:
        handle = await client.start_workflow(
            JOURNEY_WORKFLOW,
            inp,
            id=workflow_id,
            task_queue=task_queue,
            result_type=JourneyResult,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            memo={MEMO_RUN_ROW: row_id},
            rpc_timeout=rpc_timeout,
        )
    return handle.result_run_id or handle.run_id or ""


async def stop_journey_run(
    *, client: Client, workflow_id: str, reason: str, rpc_timeout: timedelta = RPC_TIMEOUT
) -> bool:
    """Ask a running journey to stop with ``reason`` (its ``stop`` signal, the path pause,
    archive and a stop from the run view take): the workflow ends the run and records it
    ``stopped`` with that exit reason, so the run row and Temporal agree. → ``False`` when
    Temporal has no running workflow of that id (the caller marks its row itself);
    ``RPCError`` on other failures."""
    try:
        await client.get_workflow_handle(workflow_id).signal(
            "stop", reason, rpc_timeout=rpc_timeout
        )
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True

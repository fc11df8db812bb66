"""``workflows.starter.start_journey_run``, the one journey starter (event path, enroll API,
enrollment pages): deterministic id, the re-entry rule's reuse policy, the run row in the
memo, an RPC deadline, signal-with-start for an entry event."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.testing import WorkflowEnvironment

from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn
from tests.workflows.harness import ENTRY, EXIT, compile_ok, doc, journey_worker, wait_at
from workflows.contract import MEMO_RUN_ROW, workflow_id_for
from workflows.starter import RPC_TIMEOUT, compiled_journey, journey_input, start_journey_run


def _waiting_journey(policy: str) -> CompiledJourney:
    """entry → wait 3 days → exit, with re-entry ``policy``."""
    entry = {**ENTRY, "config": {"reentry": {"policy": policy}}}
    wait = {
        "id": "w",
        "kind": "wait",
        "config": {"until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}},
    }
    return compile_ok(
        doc([entry, wait, EXIT], [("entry", "next", "w"), ("w", "next", "done")]),
        journey_id=f"j-start-{uuid.uuid4().hex[:8]}",
    )


async def _parked(handle: WorkflowHandle[Any, Any]) -> None:
    """Wait on the history (not the clock) until the run's wait timer is recorded: its
    workflow task is done, so ending the run leaves no task behind (a task left behind
    stops the test server's clock for the tests after it)."""
    await wait_at(handle, "w")
    for _ in range(250):
        history = await handle.fetch_history()
        if any(e.event_type == EventType.EVENT_TYPE_TIMER_STARTED for e in history.events):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the run never started its wait timer")


async def _start(
    client: Client, queue: str, journey: CompiledJourney, row_id: int, **kw: Any
) -> str:
    return await start_journey_run(
        client=client,
        task_queue=queue,
        journey=journey,
        row_id=row_id,
        inp=journey_input(compiled=journey.to_dict(), customer_id="C1", row_id=row_id, **kw),
    )


async def test_a_run_gets_its_deterministic_id_and_its_row_in_the_memo(
    env: WorkflowEnvironment,
) -> None:
    journey = _waiting_journey("after_exit")
    async with journey_worker(env) as (queue, _):
        run_id = await _start(env.client, queue, journey, row_id=41)
        handle = env.client.get_workflow_handle(workflow_id_for(journey.journey_id, "C1"))
        try:
            desc = await handle.describe()
            assert desc.run_id == run_id
            assert await desc.memo_value(MEMO_RUN_ROW) == 41
            await _parked(handle)
            # the same customer again while the run is running: the id is taken
            with pytest.raises(WorkflowAlreadyStartedError):
                await _start(env.client, queue, journey, row_id=42)
        finally:
            await handle.terminate()


async def test_a_closed_runs_id_is_reused_when_re_entry_allows_it(
    env: WorkflowEnvironment,
) -> None:
    journey = _waiting_journey("after_exit")
    async with journey_worker(env) as (queue, _):
        first = await _start(env.client, queue, journey, row_id=1)
        handle = env.client.get_workflow_handle(workflow_id_for(journey.journey_id, "C1"))
        await _parked(handle)
        await handle.terminate()
        second = await _start(env.client, queue, journey, row_id=2)
        latest = env.client.get_workflow_handle(handle.id)
        try:
            assert second != first
            assert await (await latest.describe()).memo_value(MEMO_RUN_ROW) == 2
            await _parked(latest)
        finally:
            await latest.terminate()


class _Handle:
    result_run_id = "run-1"
    run_id = "run-1"


class _RecordingClient:
    """What the starter asks Temporal for (a refused start on the time-skipping server
    would leave its clock locked for the tests after it)."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    async def start_workflow(self, *args: Any, **kwargs: Any) -> _Handle:
        self.calls.append((args, kwargs))
        return _Handle()


@pytest.mark.parametrize(
    ("policy", "reuse"),
    [
        ("never", WorkflowIDReusePolicy.REJECT_DUPLICATE),
        ("after_exit", WorkflowIDReusePolicy.ALLOW_DUPLICATE),
        ("cooldown", WorkflowIDReusePolicy.ALLOW_DUPLICATE),
    ],
)
@pytest.mark.parametrize("with_event", [False, True], ids=["start", "signal-with-start"])
async def test_the_start_request(
    policy: str, reuse: WorkflowIDReusePolicy, with_event: bool
) -> None:
    entry = {
        "reentry": {"policy": policy, **({"cooldown_days": 3} if policy == "cooldown" else {})}
    }
    journey = compile_ok(
        doc([{**ENTRY, "config": entry}, EXIT], [("entry", "next", "done")]), journey_id="j-rq"
    )
    event = CustomerEventIn("ev-1", "purchase", "2026-03-01T10:00:00+08:00") if with_event else None
    client = _RecordingClient()
    run_id = await _start(client, "q", journey, row_id=9, entry_event=event)  # type: ignore[arg-type]
    assert run_id == "run-1"
    [(args, kwargs)] = client.calls
    assert args[0] == "JourneyWorkflow"
    assert args[1].customer_id == "C1" and args[1].enrollment_id == "e9"
    assert kwargs["id"] == "journey-j-rq-C1"
    assert kwargs["task_queue"] == "q"
    assert kwargs["id_reuse_policy"] is reuse
    assert kwargs["memo"] == {MEMO_RUN_ROW: 9}
    assert kwargs["rpc_timeout"] == RPC_TIMEOUT
    if with_event:
        assert kwargs["start_signal"] == "customer_event"
        assert kwargs["start_signal_args"] == [event]
        assert "id_conflict_policy" not in kwargs  # a running run gets the event instead
    else:
        assert "start_signal" not in kwargs
        assert kwargs["id_conflict_policy"] is WorkflowIDConflictPolicy.FAIL


async def test_an_entry_event_start_is_safe_to_repeat(env: WorkflowEnvironment) -> None:
    """Signal-with-start: a repeated delivery reaches the run it started, no error."""
    journey = _waiting_journey("never")
    event = CustomerEventIn("ev-1", "purchase", "2026-03-01T10:00:00+08:00")
    async with journey_worker(env) as (queue, _):
        first = await _start(env.client, queue, journey, row_id=7, entry_event=event)
        again = await _start(env.client, queue, journey, row_id=7, entry_event=event)
        handle = env.client.get_workflow_handle(workflow_id_for(journey.journey_id, "C1"))
        try:
            assert again == first
            await _parked(handle)
        finally:
            await handle.terminate()


def test_compiled_journey_is_parsed_once_per_version() -> None:
    journey = _waiting_journey("never")
    compiled = journey.to_dict()
    assert compiled_journey(compiled) is compiled_journey(dict(compiled))
    assert compiled_journey(compiled) == journey

"""Moving waiting customers to a newer version (issue 17 item 3) on the time-skipping
server: the run continues at the mapped node of the new version, what it did before stays
done (one coupon), a wait moved in place keeps counting from the arrival, an unmapped node
keeps the customer on the old version, and the moved run replays."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from engine.compiler import compile_document
from engine.ir import CompiledJourney
from tests.workflows.harness import COUPONS, ENTRY, EXIT, compile_ok, doc, start, wait_at
from tests.workflows.harness import journey_worker as worker
from workflows import JourneyWorkflow, journey_cache
from workflows.contract import MoveToVersion
from workflows.journey_cache import JourneyRef

V1 = doc(
    [
        ENTRY,
        {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {
            "id": "w",
            "kind": "wait",
            "config": {"until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}},
        },
        {"id": "m", "kind": "send_message", "config": {"content": "v1 {{ ctx.c.code }}"}},
        EXIT,
    ],
    [("entry", "next", "c"), ("c", "next", "w"), ("w", "next", "m"), ("m", "next", "done")],
)

V2 = doc(
    [
        ENTRY,
        {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {
            "id": "w",
            "kind": "wait",
            "config": {"until": {"type": "duration", "duration": {"amount": 5, "unit": "days"}}},
        },
        {"id": "m2", "kind": "send_message", "config": {"content": "v2 {{ ctx.c.code }}"}},
        EXIT,
    ],
    [("entry", "next", "c"), ("c", "next", "w"), ("w", "next", "m2"), ("m2", "next", "done")],
)


def v2() -> CompiledJourney:
    result = compile_document(V2, journey_id="j-test", version=2, coupon_templates=set(COUPONS))
    assert result.journey is not None
    journey_cache.remember(result.journey.to_dict())
    return result.journey


def _ref(j: CompiledJourney) -> JourneyRef:
    return JourneyRef(j.journey_id, j.version, j.content_hash)


async def _move(
    handle: WorkflowHandle[Any, Any], to: CompiledJourney, nodes: dict[str, str]
) -> None:
    await handle.signal(
        JourneyWorkflow.move_version,
        MoveToVersion(_ref(to), "mv-1", 1, nodes, by="alice"),
    )


async def test_a_waiting_customer_continues_on_the_new_version(env: WorkflowEnvironment) -> None:
    new = v2()
    async with worker(env) as (queue, acts):
        handle = await start(env, queue, compile_ok(V1))
        await wait_at(handle, "w")
        arrived = await env.get_current_time()
        await env.sleep(timedelta(days=1))
        await _move(handle, new, {"w": "w"})
        ref = await handle.query(JourneyWorkflow.journey_ref)
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
        world = acts.world("C1")
    assert ref["version"] == 2 or result.last_node == "done"
    assert [(t.node_id, t.kind) for t in state.trace] == [
        ("entry", "entry"),
        ("c", "send_coupon"),
        ("w", "wait"),
        ("w", "move"),
        ("w", "wait"),
        ("m2", "send_message"),
        ("done", "exit"),
    ]
    move = state.trace[3]
    assert move.summary == "moved from v1 node w to v2 node w by alice"
    assert move.inputs["from_version"] == 1 and move.inputs["to_version"] == 2
    # the coupon issued on v1 is not issued again, and v2's message reads it
    assert len(world.coupons) == 1
    assert [m.rendered for m in world.messages] == [f"v2 {world.coupons[0].code}"]
    # the wait moved in place counts its 5 days from the arrival on v1
    until = datetime.fromisoformat(state.trace[4].result["until"])
    assert abs(until - (arrived + timedelta(days=5))) < timedelta(minutes=1)
    # the run's records follow it: the last ones name v2
    assert {r.journey_version for r in world.records[-2:]} == {2}
    assert any(r.journey_version == 1 and r.current_node == "w" for r in world.records)


async def test_a_customer_lands_on_the_node_the_marketer_picked(env: WorkflowEnvironment) -> None:
    new = v2()
    async with worker(env) as (queue, acts):
        handle = await start(env, queue, compile_ok(V1))
        await wait_at(handle, "w")
        await _move(handle, new, {"w": "m2"})
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
        world = acts.world("C1")
    assert [t.node_id for t in state.trace][-3:] == ["m2", "m2", "done"]
    assert state.trace[-3].kind == "move"
    assert len(world.coupons) == 1 and [m.rendered[:2] for m in world.messages] == ["v2"]


async def test_an_unmapped_node_stays_on_the_old_version(env: WorkflowEnvironment) -> None:
    new = v2()
    async with worker(env) as (queue, acts):
        handle = await start(env, queue, compile_ok(V1))
        await wait_at(handle, "w")
        await _move(handle, new, {"c": "c"})  # "w": stay on v1
        await env.sleep(timedelta(days=3, minutes=1))
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
        ref = await handle.query(JourneyWorkflow.journey_ref)
        world = acts.world("C1")
    assert result.last_node == "done" and ref["version"] == 1
    notes = [t for t in state.trace if t.kind == "move"]
    assert len(notes) == 1 and notes[0].error == "NotMoved"
    assert [m.rendered[:2] for m in world.messages] == ["v1"]
    assert {r.journey_version for r in world.records} == {1}


async def test_the_moved_run_replays(env: WorkflowEnvironment) -> None:
    new = v2()
    async with worker(env) as (queue, _acts):
        handle = await start(env, queue, compile_ok(V1))
        await wait_at(handle, "w")
        await _move(handle, new, {"w": "w"})
        await handle.result()
        history = await handle.fetch_history()
    await Replayer(workflows=[JourneyWorkflow]).replay_workflow(history)
    patches = [
        p.data
        for e in history.events
        if e.marker_recorded_event_attributes.marker_name == "core_patch"
        for d in e.marker_recorded_event_attributes.details.values()
        for p in d.payloads
    ]
    # the move was taken under its marker
    assert any(b"journey-move-version" in data for data in patches)

"""A retired release (engine.runtime.RETIRED_PATCHES) is never taken by a new run and stays
on for a run whose input carries it: journey-local-db-effects ran the coupon as a local
activity, and a run started while it was current keeps doing so (its history replays)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from temporalio.testing import WorkflowEnvironment

from activities.sandbox import SandboxActivities
from engine.runtime import LOCAL_DB_EFFECTS, PATCHES, RETIRED_PATCHES
from tests.workflows.harness import ENTRY, EXIT, compile_ok, default_world, doc, journey_worker
from workflows import JourneyInput, JourneyWorkflow

JOURNEY = doc(
    [ENTRY, {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}}, EXIT],
    [("entry", "next", "c"), ("c", "next", "done")],
)


async def _coupon_runs_as(env: WorkflowEnvironment, semantics: tuple[str, ...]) -> Any:
    journey = compile_ok(JOURNEY)
    acts = SandboxActivities(default_world)
    async with journey_worker(env, acts) as (queue, _):
        inp = replace(
            JourneyInput.new(journey=journey.to_dict(), customer_id="C1"), semantics=semantics
        )
        handle = await env.client.start_workflow(
            JourneyWorkflow.run, inp, id=f"retired-{len(semantics)}", task_queue=queue
        )
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.exit_reason == "exit"
    assert len(acts.world("C1").coupons) == 1
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    local = [
        e
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
        and e.marker_recorded_event_attributes.marker_name == "core_local_activity"
    ]
    return scheduled, len(local)


async def test_new_runs_do_not_take_a_retired_release(env: WorkflowEnvironment) -> None:
    assert LOCAL_DB_EFFECTS in RETIRED_PATCHES and LOCAL_DB_EFFECTS not in PATCHES
    fresh = JourneyInput.new(journey=compile_ok(JOURNEY).to_dict(), customer_id="C1")
    assert fresh.semantics == PATCHES
    assert await _coupon_runs_as(env, PATCHES) == (["issue_coupon"], 0)


async def test_a_run_that_carries_a_retired_release_keeps_it(env: WorkflowEnvironment) -> None:
    assert await _coupon_runs_as(env, (*PATCHES, LOCAL_DB_EFFECTS)) == ([], 1)

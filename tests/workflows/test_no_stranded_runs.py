"""No run strands, on Temporal (time-skipping): a failed guide task, failed task notices and
a pause racing a recorded exit all end the run with its end recorded (the sandbox world's
records stand in for the database row), and the new histories replay."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from activities.sandbox import SandboxActivities
from engine.effects import IssueCouponRequest
from engine.runtime import PATCHES
from engine.simulation import SandboxWorld
from tests.workflows.harness import (
    ENTRY,
    EXIT,
    compile_ok,
    default_world,
    doc,
    journey_worker,
    path,
    start,
)
from workflows import JourneyInput, JourneyWorkflow


def _task_journey(**config: Any) -> Any:
    cfg = {"instructions": "请电话回访 {{ customer.name }}", "outcomes": ["interested"], **config}
    return compile_ok(
        doc(
            [
                ENTRY,
                {"id": "t", "kind": "assign_guide_task", "label": "导购回访", "config": cfg},
                {"id": "yes", "kind": "exit", "config": {"goal_reached": True}},
                {"id": "lost", "kind": "exit"},
            ],
            [("entry", "next", "t"), ("t", "interested", "yes"), ("t", "expired", "lost")],
        )
    )


def _failing(**failures: str) -> Any:
    def make(customer_id: str) -> SandboxWorld:
        world = default_world(customer_id)
        world.failures.update(failures)
        return world

    return make


async def _ended(handle: WorkflowHandle[Any, Any], acts: SandboxActivities) -> Any:
    result = await handle.result()
    row = acts.world("C1").records[-1]
    assert (row.status, row.exit_reason, row.goal_reached) == (
        result.status,
        result.exit_reason,
        result.goal_reached,
    )
    await Replayer(workflows=[JourneyWorkflow]).replay_workflow(await handle.fetch_history())
    return result


async def test_a_task_that_cannot_be_created_ends_recorded(env: WorkflowEnvironment) -> None:
    """Issue 12: the instructions fail to render under the default on_failure; the run used
    to complete with its row still "running". Now it follows ``expired`` to its exit."""
    async with journey_worker(env, make_world=_failing(create_task="TemplateRenderFailed")) as (
        queue,
        acts,
    ):
        handle = await start(env, queue, _task_journey())
        result = await _ended(handle, acts)
        state = await handle.query(JourneyWorkflow.state)
    assert (result.status, result.exit_reason) == ("exited", "exit")
    assert path(state) == [("entry", "next"), ("t", "expired"), ("lost", None)]
    assert state.trace[1].error == "TemplateRenderFailed"


async def test_failed_task_notices_do_not_hold_the_run(env: WorkflowEnvironment) -> None:
    """A reminder, escalation and expiry that fail for good used to fail the workflow task
    for ever; now each is noted on the visit and the task expires on time."""
    async with journey_worker(env, make_world=_failing(task_notice="TaskNotFound")) as (
        queue,
        acts,
    ):
        handle = await start(env, queue, _task_journey())
        result = await _ended(handle, acts)
        state = await handle.query(JourneyWorkflow.state)
    assert path(state)[1] == ("t", "expired") and result.exit_reason == "exit"
    assert set(state.trace[1].inputs["notices_failed"]) == {"reminder", "escalation", "expired"}


async def test_a_pause_after_the_exit_was_recorded_lets_the_customer_leave(
    env: WorkflowEnvironment,
) -> None:
    """The coupon records the run's end with itself (its next step is the exit); a pause
    that arrives before the workflow sees the coupon used to hold a run the database
    already called exited. (The coupon is an activity: the signal lands while it runs, and
    its result is in the history whatever the workflow task does.)"""
    await _pause_while_the_coupon_is_issued(env, PATCHES)


async def _pause_while_the_coupon_is_issued(
    env: WorkflowEnvironment, semantics: tuple[str, ...]
) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                EXIT,
            ],
            [("entry", "next", "c"), ("c", "next", "done")],
        )
    )
    acts = SandboxActivities(default_world)
    issuing, paused = asyncio.Event(), asyncio.Event()

    @activity.defn(name="issue_coupon")
    async def slow_issue_coupon(req: IssueCouponRequest) -> Any:
        issued = await acts.issue_coupon(req)  # records the end (then_record)
        issuing.set()
        await paused.wait()
        return issued

    others = [a for a in acts.all() if getattr(a, "__name__", "") != "issue_coupon"]
    async with journey_worker(env, acts, extra_activities=[slow_issue_coupon, *others]) as (
        queue,
        _,
    ):
        inp = JourneyInput.new(journey=journey.to_dict(), customer_id="C1")
        handle = await env.client.start_workflow(
            JourneyWorkflow.run,
            replace(inp, semantics=semantics),
            id=f"journey-{journey.journey_id}-C1-pause",
            task_queue=queue,
        )
        await asyncio.wait_for(issuing.wait(), timeout=30)
        await handle.signal(JourneyWorkflow.pause)
        paused.set()
        result = await asyncio.wait_for(_ended(handle, acts), timeout=60)
    assert (result.status, result.exit_reason) == ("exited", "exit")
    assert [r.status for r in acts.world("C1").records] == ["exited"]

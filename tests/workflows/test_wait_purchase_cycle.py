"""``wait_purchase_cycle`` on Temporal (time-skipping): the customer's own cycle, the
fallback for fewer than two purchases (from the one purchase, or from arrival), the time of
day in the customer's zone, and a moment already past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from tests.workflows.harness import (
    ENTRY,
    EXIT,
    compile_ok,
    default_world,
    doc,
    journey_worker,
    start,
)
from workflows import JourneyWorkflow


def _journey(config: dict[str, Any]) -> Any:
    return compile_ok(
        doc(
            [ENTRY, {"id": "w", "kind": "wait_purchase_cycle", "config": config}, EXIT],
            [("entry", "next", "w"), ("w", "next", "done")],
        )
    )


async def _run(env: WorkflowEnvironment, config: dict[str, Any], **facts: Any) -> Any:
    world = lambda c: default_world(c, timezone="Asia/Shanghai", **facts)  # noqa: E731
    async with journey_worker(env, make_world=world) as (queue, _):
        handle = await start(env, queue, _journey(config))
        await handle.result()
        return await handle.query(JourneyWorkflow.state)


async def _now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


async def test_waits_ninety_percent_of_the_own_cycle_since_the_last_purchase(
    env: WorkflowEnvironment,
) -> None:
    now = await _now(env)
    last = now - timedelta(days=10)
    state = await _run(
        env,
        {"percent": 90},
        last_purchase_at=last.isoformat(),
        purchase_interval_median_days=45.0,
    )
    w = state.trace[1]
    assert (w.inputs["rule"], w.inputs["cycle_days"], w.port) == ("cycle", 45.0, "next")
    until = datetime.fromisoformat(w.result["until"])
    assert until == last + timedelta(days=40.5)
    assert datetime.fromisoformat(state.trace[-1].at) >= until
    assert state.status == "exited"


async def test_one_purchase_waits_the_fallback_from_that_purchase_at_the_time_of_day(
    env: WorkflowEnvironment,
) -> None:
    now = await _now(env)
    last = now - timedelta(days=2)
    state = await _run(
        env,
        {"percent": 90, "fallback": {"amount": 14, "unit": "days"}, "at_time": "10:00"},
        last_purchase_at=last.isoformat(),
        purchase_interval_median_days=None,
    )
    w = state.trace[1]
    assert (w.inputs["rule"], w.inputs["reason"]) == ("fallback", "one_purchase")
    until = datetime.fromisoformat(w.result["until"])
    local = until.astimezone(ZoneInfo("Asia/Shanghai"))
    expected_day = (last + timedelta(days=14)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert (local.date(), local.hour, local.minute) == (expected_day, 10, 0)
    assert datetime.fromisoformat(state.trace[-1].at) >= until


async def test_no_purchase_waits_the_fallback_from_arrival(env: WorkflowEnvironment) -> None:
    now = await _now(env)
    state = await _run(env, {"fallback": {"amount": 7, "unit": "days"}}, last_purchase_at=None)
    w = state.trace[1]
    assert (w.inputs["rule"], w.inputs["reason"]) == ("fallback", "no_purchase")
    until = datetime.fromisoformat(w.result["until"])
    assert timedelta(days=7) <= until - now < timedelta(days=7, minutes=5)
    assert datetime.fromisoformat(state.trace[-1].at) >= until


async def test_a_moment_already_past_continues_at_once(env: WorkflowEnvironment) -> None:
    now = await _now(env)
    state = await _run(
        env,
        {"percent": 90},
        last_purchase_at=(now - timedelta(days=120)).isoformat(),
        purchase_interval_median_days=45.0,
    )
    w = state.trace[1]
    assert w.result["past"] is True and w.port == "next"
    assert datetime.fromisoformat(state.trace[-1].at) - now < timedelta(minutes=5)

"""Journey semantics on Temporal (time-skipping): every node kind and every port."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities.sandbox import SandboxActivities
from engine.effects import CreateTaskRequest, IssueCouponRequest, TaskCreated
from engine.runtime import CustomerEventIn, TaskOutcome
from tests.workflows.harness import (
    ENTRY,
    EXIT,
    GOAL,
    compile_ok,
    default_world,
    doc,
    journey_worker,
    path,
    start,
    wait_at,
)
from workflows import JourneyWorkflow


async def _now(env: WorkflowEnvironment) -> datetime:
    return (await env.get_current_time()).astimezone(UTC)


async def test_no_wait_path_branch_coupon_message(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "vip",
                                "label": "重要客户",
                                "conditions": [
                                    {"type": "rfm_class", "classes": ["重要价值", "重要挽留"]}
                                ],
                            }
                        ]
                    },
                },
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {
                    "id": "m",
                    "kind": "send_message",
                    "config": {
                        "channel": "wecom",
                        "content": "{{ customer.name }}, 券 {{ ctx.c.code }}",
                    },
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "b"),
                ("b", "vip", "c"),
                ("b", "else", "goal"),
                ("c", "next", "m"),
                ("m", "next", "done"),
            ],
        )
    )
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey)
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert result.status == "exited" and not result.goal_reached
    assert path(state) == [
        ("entry", "next"),
        ("b", "vip"),
        ("c", "next"),
        ("m", "next"),
        ("done", None),
    ]
    world = acts.world("C1")
    assert len(world.coupons) == 1
    assert world.messages[0].rendered == f"李女士, 券 {world.coupons[0].code}"
    assert state.trace[1].inputs == {"rfm_class": "重要挽留"}
    assert [r.status for r in world.records] == ["exited"]


async def test_else_port_when_no_rule_matches(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [{"id": "r1", "conditions": [{"type": "tag", "tag": "孕期"}]}]
                    },
                },
                EXIT,
                GOAL,
            ],
            [("entry", "next", "b"), ("b", "r1", "goal"), ("b", "else", "done")],
        )
    )
    async with journey_worker(env) as (queue, _):
        handle = await start(env, queue, journey)
        await handle.result()
        assert path(await handle.query(JourneyWorkflow.state))[1] == ("b", "else")


async def test_wait_thirty_days_then_window(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 30, "unit": "days"}},
                        "window": {"start": "10:00", "end": "20:00"},
                    },
                },
                EXIT,
            ],
            [("entry", "next", "w"), ("w", "next", "done")],
        )
    )
    async with journey_worker(env) as (queue, _):
        t0 = await _now(env)
        handle = await start(env, queue, journey)
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    waited_until = datetime.fromisoformat(state.trace[1].result["until"])
    assert timedelta(days=30) <= waited_until - t0 < timedelta(days=31)
    local = waited_until.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert 10 <= local.hour < 20
    assert datetime.fromisoformat(state.trace[-1].at) >= waited_until


async def test_wait_until_coupon_expiry_minus_three_days(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {
                            "type": "context",
                            "node_id": "c",
                            "field": "expires_at",
                            "offset": {"amount": 3, "unit": "days"},
                            "direction": "before",
                        }
                    },
                },
                EXIT,
            ],
            [("entry", "next", "c"), ("c", "next", "w"), ("w", "next", "done")],
        )
    )
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey)
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    expires = datetime.fromisoformat(acts.world("C1").coupons[0].expires_at)
    assert datetime.fromisoformat(state.trace[2].result["until"]) == expires - timedelta(days=3)
    assert datetime.fromisoformat(state.trace[-1].at) >= expires - timedelta(days=3)


def _event_journey(timeout_days: int = 3) -> Any:
    return compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                    },
                },
                {
                    "id": "wfe",
                    "kind": "wait_for_event",
                    "config": {
                        "event_type": "purchase",
                        "filters": [{"field": "amount", "op": "gte", "value": 100}],
                        "timeout": {"amount": timeout_days, "unit": "days"},
                    },
                },
                EXIT,
                GOAL,
            ],
            [
                ("entry", "next", "w"),
                ("w", "next", "wfe"),
                ("wfe", "matched", "goal"),
                ("wfe", "timeout", "done"),
            ],
        )
    )


async def test_wait_for_event_matched(env: WorkflowEnvironment) -> None:
    journey = _event_journey()
    async with journey_worker(env) as (queue, _):
        handle = await start(env, queue, journey)
        await wait_at(handle, "w")
        await env.sleep(timedelta(days=1, minutes=1))  # skips time; no wall-clock wait
        await wait_at(handle, "wfe")
        now = await _now(env)
        await handle.signal(
            JourneyWorkflow.customer_event,
            CustomerEventIn("ev-small", "purchase", now.isoformat(), {"amount": 50}),
        )
        await handle.signal(
            JourneyWorkflow.customer_event,
            CustomerEventIn("ev-big", "purchase", now.isoformat(), {"amount": 300}),
        )
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert result.goal_reached
    assert ("wfe", "matched") in path(state)
    assert state.context["wfe"]["event_id"] == "ev-big"


async def test_wait_for_event_timeout(env: WorkflowEnvironment) -> None:
    async with journey_worker(env) as (queue, _):
        handle = await start(env, queue, _event_journey())
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert not result.goal_reached
    assert ("wfe", "timeout") in path(state)


async def test_event_buffer_race(env: WorkflowEnvironment) -> None:
    """An event whose signal arrives *before* the customer reaches the wait still counts if
    it happened after the wait began; one that happened before it does not."""
    async with journey_worker(env) as (queue, _):
        early = await start(env, queue, _event_journey(), customer_id="C-early")
        late = await start(env, queue, _event_journey(), customer_id="C-late")
        await wait_at(early, "w")
        await wait_at(late, "w")
        now = await _now(env)
        # happened now, i.e. before wait_for_event begins (day 1): must not match
        await early.signal(
            JourneyWorkflow.customer_event,
            CustomerEventIn("ev-1", "purchase", now.isoformat(), {"amount": 500}),
        )
        # signalled now but happened on day 1.5 (after the wait begins): must match
        await late.signal(
            JourneyWorkflow.customer_event,
            CustomerEventIn(
                "ev-2", "purchase", (now + timedelta(days=1, hours=12)).isoformat(), {"amount": 500}
            ),
        )
        early_result, late_result = await early.result(), await late.result()
    assert not early_result.goal_reached
    assert late_result.goal_reached


async def test_split_is_deterministic_and_weighted(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "s",
                    "kind": "split",
                    "config": {
                        "variants": [
                            {"id": "a", "weight": 50},
                            {"id": "b", "weight": 40},
                            {"id": "hold", "weight": 10, "holdout": True},
                        ]
                    },
                },
                EXIT,
                GOAL,
                {"id": "x3", "kind": "exit"},
            ],
            [("entry", "next", "s"), ("s", "a", "done"), ("s", "b", "goal"), ("s", "hold", "x3")],
        )
    )
    async with journey_worker(env) as (queue, _):
        ports = []
        for i in range(12):
            handle = await start(env, queue, journey, customer_id=f"C{i}")
            await handle.result()
            st = await handle.query(JourneyWorkflow.state)
            ports.append(st.trace[1].port)
            assert st.trace[1].result["variant"] == st.trace[1].port
    assert set(ports) <= {"a", "b", "hold"} and len(set(ports)) >= 2


def _task_journey(**config: Any) -> Any:
    cfg = {
        "instructions": "请电话回访 {{ customer.name }}",
        "due_in": {"amount": 24, "unit": "hours"},
        "outcomes": ["interested", "declined"],
        **config,
    }
    return compile_ok(
        doc(
            [
                ENTRY,
                {"id": "t", "kind": "assign_guide_task", "config": cfg},
                GOAL,
                EXIT,
                {"id": "lost", "kind": "exit"},
            ],
            [
                ("entry", "next", "t"),
                ("t", "interested", "goal"),
                ("t", "declined", "done"),
                ("t", "expired", "lost"),
            ],
        )
    )


@pytest.mark.parametrize("outcome,port", [("interested", "interested"), ("declined", "declined")])
async def test_task_outcome_takes_its_port(
    env: WorkflowEnvironment, outcome: str, port: str
) -> None:
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, _task_journey())
        await wait_at(handle, "t")
        task_id = acts.world("C1").tasks[0]["task_id"]
        await handle.signal(
            JourneyWorkflow.task_outcome, TaskOutcome(task_id, outcome, "客户说下周来")
        )
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert path(state)[1] == ("t", port)
    assert state.trace[1].result["note"] == "客户说下周来"


async def test_task_reminder_escalation_expiry(env: WorkflowEnvironment) -> None:
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, _task_journey())
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert path(state)[1] == ("t", "expired")
    assert result.exit_reason == "exit"
    assert [n.kind for n in acts.world("C1").notices] == ["reminder", "escalation", "expired"]


async def test_no_guide_is_a_visible_business_failure(env: WorkflowEnvironment) -> None:
    journey = _task_journey(on_failure="exit")
    async with journey_worker(env, make_world=lambda c: default_world(c, guide_id=None)) as (
        queue,
        _,
    ):
        handle = await start(env, queue, journey)
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert result.exit_reason == "failure_exit"
    assert state.trace[1].error == "NoGuideAvailable"


async def test_coupon_stock_exhausted_takes_failed_port(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "c",
                    "kind": "send_coupon",
                    "config": {"coupon_template_id": "VIP100", "on_failure": "port"},
                },
                GOAL,
                EXIT,
            ],
            [("entry", "next", "c"), ("c", "next", "goal"), ("c", "failed", "done")],
        )
    )
    shared = default_world("any")
    async with journey_worker(env, make_world=lambda c: shared) as (queue, _):
        first = await start(env, queue, journey, customer_id="C1")
        second = await start(env, queue, journey, customer_id="C2")
        r1, r2 = await first.result(), await second.result()
        # both queried while the worker runs: a query is answered by a worker, and which of
        # the two got the last coupon is up to the race (querying after the worker stopped
        # timed out whenever the first one lost)
        s1 = await first.query(JourneyWorkflow.state)
        s2 = await second.query(JourneyWorkflow.state)
    assert sorted([r1.goal_reached, r2.goal_reached]) == [False, True]
    assert len(shared.coupons) == 1
    failed = s2 if not r2.goal_reached else s1
    assert failed.trace[1].port == "failed"
    assert failed.trace[1].error == "CouponStockExhausted"


async def test_update_customer_and_goal_event(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "u",
                    "kind": "update_customer",
                    "config": {
                        "add_tags": ["旅程中"],
                        "remove_tags": ["新客"],
                        "set_attributes": {"journey_stage": "care"},
                    },
                },
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 10, "unit": "days"}}
                    },
                },
                EXIT,
            ],
            [("entry", "next", "u"), ("u", "next", "w"), ("w", "next", "done")],
            goal={"event_type": "purchase"},
        )
    )
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey)
        await wait_at(handle, "w")
        now = await _now(env)
        await handle.signal(
            JourneyWorkflow.customer_event, CustomerEventIn("p1", "purchase", now.isoformat(), {})
        )
        result = await handle.result()
    assert result.goal_reached and result.exit_reason == "goal"
    assert acts.world("C1").facts.tags == ["旅程中"]
    assert acts.world("C1").facts.attributes == {"journey_stage": "care"}


async def test_stop_pause_resume(env: WorkflowEnvironment) -> None:
    async with journey_worker(env) as (queue, _):
        handle = await start(env, queue, _event_journey(timeout_days=30))
        await wait_at(handle, "w")
        await handle.signal(JourneyWorkflow.pause)
        await handle.signal(JourneyWorkflow.resume)
        await handle.signal(JourneyWorkflow.stop, "marketer stopped the journey")
        result = await handle.result()
    assert result.status == "stopped"
    assert result.exit_reason == "marketer stopped the journey"


async def test_loop_continues_as_new_with_bounded_history(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "w",
                    "kind": "wait",
                    "config": {
                        "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                    },
                },
                {"id": "m", "kind": "send_message", "config": {"content": "day tick"}},
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {
                        "rules": [
                            {
                                "id": "again",
                                "conditions": [{"type": "tag", "tag": "stop", "present": False}],
                            }
                        ]
                    },
                },
                EXIT,
            ],
            [
                ("entry", "next", "w"),
                ("w", "next", "m"),
                ("m", "next", "b"),
                ("b", "again", "w"),
                ("b", "else", "done"),
            ],
            max_node_visits=40,
        )
    )
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey, history_limit=60)
        result = await handle.result()
        desc = await handle.describe()
    assert result.exit_reason == "visit_limit"
    assert len(acts.world("C1").messages) == 40
    assert desc.run_id != handle.first_execution_run_id  # continued as new at least once
    history = await handle.fetch_history()
    assert len(history.events) < 200


async def test_retry_after_side_effect_does_not_double_issue(env: WorkflowEnvironment) -> None:
    """The coupon activity commits, then crashes before replying; the retry returns the
    same coupon because the idempotency key is workflow id + node id + visit."""
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

    @activity.defn(name="issue_coupon")
    async def flaky_issue_coupon(req: IssueCouponRequest) -> Any:
        issued = await acts.issue_coupon(req)
        if activity.info().attempt == 1:
            raise RuntimeError("connection reset after commit")
        return issued

    others = [
        a
        for a in acts.all()
        if a is not acts.issue_coupon and getattr(a, "__name__", "") != "issue_coupon"
    ]
    async with journey_worker(env, acts, extra_activities=[flaky_issue_coupon, *others]) as (
        queue,
        _,
    ):
        handle = await start(env, queue, journey)
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    world = acts.world("C1")
    assert len(world.coupons) == 1
    assert state.context["c"]["coupon_id"] == world.coupons[0].coupon_id
    assert len([c for c in acts.calls if c[0] == "issue_coupon"]) == 2


async def test_message_to_opted_out_customer_takes_failed_port(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "m",
                    "kind": "send_message",
                    "config": {"channel": "sms", "content": "hi", "on_failure": "port"},
                },
                GOAL,
                EXIT,
            ],
            [("entry", "next", "m"), ("m", "next", "goal"), ("m", "failed", "done")],
        )
    )
    opted_out = lambda c: default_world(c, opted_out_channels=["sms"])  # noqa: E731
    async with journey_worker(env, make_world=opted_out) as (queue, acts):
        handle = await start(env, queue, journey)
        result = await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert not result.goal_reached
    assert path(state)[1] == ("m", "failed")
    assert state.trace[1].error == "CustomerOptedOut"
    assert acts.world("C1").messages == []


async def test_task_without_outcomes_takes_completed_port(env: WorkflowEnvironment) -> None:
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {"id": "t", "kind": "assign_guide_task", "config": {"instructions": "邀约到店"}},
                GOAL,
                EXIT,
            ],
            [("entry", "next", "t"), ("t", "completed", "goal"), ("t", "expired", "done")],
        )
    )
    async with journey_worker(env) as (queue, acts):
        handle = await start(env, queue, journey)
        await wait_at(handle, "t")
        task_id = acts.world("C1").tasks[0]["task_id"]
        await handle.signal(JourneyWorkflow.task_outcome, TaskOutcome(task_id, "completed"))
        result = await handle.result()
    assert result.goal_reached


async def test_wait_until_birthday_and_absolute(env: WorkflowEnvironment) -> None:
    now = await _now(env)
    birthday = (now + timedelta(days=10)).date().replace(year=1990).isoformat()
    journey = compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "bday",
                    "kind": "wait",
                    "config": {"until": {"type": "customer_date", "field": "birthday"}},
                },
                {
                    "id": "abs",
                    "kind": "wait",
                    "config": {
                        "until": {
                            "type": "absolute",
                            "at": (now + timedelta(days=20)).isoformat(),
                        }
                    },
                },
                EXIT,
            ],
            [("entry", "next", "bday"), ("bday", "next", "abs"), ("abs", "next", "done")],
        )
    )
    world = lambda c: default_world(c, birthday=birthday, timezone="Asia/Shanghai")  # noqa: E731
    async with journey_worker(env, make_world=world) as (queue, _):
        handle = await start(env, queue, journey)
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    bday_until = datetime.fromisoformat(state.trace[1].result["until"])
    local = bday_until.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert (local.month, local.day, local.hour) == (
        int(birthday[5:7]),
        int(birthday[8:10]),
        0,
    )
    assert datetime.fromisoformat(state.trace[-1].at) >= now + timedelta(days=20)


async def test_task_moved_to_next_day_waits_on_its_own_schedule(
    env: WorkflowEnvironment,
) -> None:
    """The guide's day was full: assignment moved the task a day later. The reminder,
    escalation and expiry follow the task's due time, not the node's original one."""
    acts = SandboxActivities(default_world)

    @activity.defn(name="create_task")
    async def overflowing_create_task(req: CreateTaskRequest) -> TaskCreated:
        created = await acts.create_task(req)
        moved = datetime.fromisoformat(created.due_at) + timedelta(days=1)
        return TaskCreated(created.task_id, created.guide_id, created.guide_name, moved.isoformat())

    others = [a for a in acts.all() if getattr(a, "__name__", "") != "create_task"]
    async with journey_worker(env, acts, extra_activities=[overflowing_create_task, *others]) as (
        queue,
        _,
    ):
        t0 = await _now(env)
        handle = await start(env, queue, _task_journey())
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    assert path(state)[1] == ("t", "expired")
    expired_at = datetime.fromisoformat(state.trace[1].finished_at or "")
    # due 24 h + 1 day moved + 24 h to expire = 3 days (not 2)
    assert expired_at - t0 >= timedelta(days=3)

"""The contact policy on Temporal (time-skipping; never the wall clock): a marketing message
in quiet hours waits on a durable timer past midnight, a service one goes at once; a cap
across three journeys of one customer skips, takes the ``capped`` port or waits (bounded);
a policy change reaches a run already waiting at its next action (the real activity on
SQLite)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from activities.sandbox import SandboxActivities
from db import crud
from db.crud import contact_policy as policy_crud
from db.models import Customer
from engine.contact_policy import ALLOW, ContactPolicy, FrequencyCap, QuietHours
from engine.simulation import SandboxWorld
from settings import Settings
from tests.workflows.harness import (
    ENTRY,
    EXIT,
    compile_ok,
    default_world,
    doc,
    path,
    start,
    wait_at,
)
from tests.workflows.harness import journey_worker as worker
from workflows import JourneyWorkflow


def _send(config: dict[str, Any] | None = None, journey_id: str = "j-policy") -> Any:
    node = {"id": "m", "kind": "send_message", "config": {"content": "新品到店", **(config or {})}}
    nodes = [ENTRY, node, EXIT]
    edges = [("entry", "next", "m"), ("m", "next", "done")]
    if (config or {}).get("when_capped") == "port":
        nodes.append({"id": "held", "kind": "exit"})
        edges.append(("m", "capped", "held"))
    return compile_ok(doc(nodes, edges), journey_id=journey_id)


def _late_evening_zone(now: datetime) -> str:
    """A fixed-offset (DST-free) zone in which ``now`` is 23:xx."""
    offset = (23 - now.hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


async def _finished(handle: Any) -> None:
    """Wait on the run's state (never on the clock) until it has ended."""
    for _ in range(250):
        if (await handle.query(JourneyWorkflow.state)).status != "running":
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the run never ended")


def _sent_at(acts: SandboxActivities, activity: str = "send_message") -> list[datetime]:
    """When each of the activity's actions went out: a call carries its contact check
    (release journey-contact-in-effect), and one the policy held back did nothing."""

    def went_out(req: Any) -> bool:
        check = req.policy
        if check is None:
            return True
        decided = acts.runtimes[req.ctx.customer_id].done[f"check_contact_policy:{check.key}"]
        return bool(decided.outcome == ALLOW)

    return [
        datetime.fromisoformat(req.ctx.at)
        for name, req in acts.calls
        if name == activity and went_out(req)
    ]


async def test_quiet_hours_defer_a_marketing_message_past_midnight(
    env: WorkflowEnvironment,
) -> None:
    now = (await env.get_current_time()).astimezone(UTC)
    zone = _late_evening_zone(now)

    def world(customer_id: str) -> SandboxWorld:
        w = default_world(customer_id, timezone=zone)
        w.policy = ContactPolicy(quiet_hours=QuietHours("22:00", "07:00"))
        return w

    acts = SandboxActivities(world)
    async with worker(env, acts) as (queue, _):
        handle = await start(env, queue, _send())
        result = await handle.result()  # the test server skips the night
        state = await handle.query(JourneyWorkflow.state)
    assert result.exit_reason == "exit"
    local = now.astimezone(ZoneInfo(zone))
    morning = datetime.combine(
        local.date() + timedelta(days=1), datetime.min.time().replace(hour=7), ZoneInfo(zone)
    )
    [sent] = _sent_at(acts)
    assert morning <= sent < morning + timedelta(minutes=1)
    assert sent.astimezone(ZoneInfo(zone)).date() > local.date()  # across midnight
    step = next(t for t in state.trace if t.node_id == "m")
    [note] = step.inputs["policy"]
    assert (note["decision"], note["rule"]) == ("deferred", "quiet_hours")
    assert datetime.fromisoformat(note["until"]) == morning
    assert step.port == "next"


async def test_a_service_message_is_exempt_from_quiet_hours(env: WorkflowEnvironment) -> None:
    now = (await env.get_current_time()).astimezone(UTC)
    zone = _late_evening_zone(now)

    def world(customer_id: str) -> SandboxWorld:
        w = default_world(customer_id, timezone=zone)
        w.policy = ContactPolicy(quiet_hours=QuietHours("22:00", "07:00"))
        return w

    acts = SandboxActivities(world)
    async with worker(env, acts) as (queue, _):
        handle = await start(env, queue, _send({"category": "service"}))
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    [sent] = _sent_at(acts)
    assert sent - now < timedelta(minutes=1)
    assert "policy" not in next(t for t in state.trace if t.node_id == "m").inputs


async def test_a_cap_across_three_journeys_skips_ports_and_waits(
    env: WorkflowEnvironment,
) -> None:
    """One message per 2 days for one customer: a first journey sends; then one that skips,
    one that takes its `capped` port, one that waits 3 days at most (the cap frees after 2)
    and one that may wait 1 day only (skipped)."""

    def world(customer_id: str) -> SandboxWorld:
        w = default_world(customer_id)
        w.policy = ContactPolicy(caps=[FrequencyCap("msg2d", "message", 1, 2)])
        return w

    acts = SandboxActivities(world)
    async with worker(env, acts) as (queue, _):
        # one after the other on the workflows' clock: wait on the first run's state (a
        # result wait lets the test server jump time ahead when nothing is pending)
        first = await start(env, queue, _send(journey_id="j-first"))
        await _finished(first)
        t0 = _sent_at(acts)[0]  # the contact the ledger counts
        handles = {
            name: await start(env, queue, _send(config, journey_id=f"j-{name}"))
            for name, config in (
                ("skip", {"when_capped": "skip"}),
                ("port", {"when_capped": "port"}),
                ("wait", {"when_capped": "wait", "max_wait": {"amount": 3, "unit": "days"}}),
                ("short", {"when_capped": "wait", "max_wait": {"amount": 1, "unit": "days"}}),
            )
        }
        runs = {}
        for name, handle in handles.items():
            result = await handle.result()
            state = await handle.query(JourneyWorkflow.state)
            runs[name] = (result, state, next(t for t in state.trace if t.node_id == "m"))

    # skip: on by `next`, no message, the rule noted
    _, state, step = runs["skip"]
    assert path(state) == [("entry", "next"), ("m", "next"), ("done", None)]
    assert step.inputs["policy"][0] | {"at": ""} == {
        "decision": "skipped",
        "rule": "msg2d",
        "detail": "1 per 2 days (message)",
        "at": "",
        "until": (t0 + timedelta(days=2)).isoformat(),
    }
    assert state.context["m"] == {"capped": True, "cap": "msg2d"}
    # port: the `capped` port
    _, state, step = runs["port"]
    assert path(state) == [("entry", "next"), ("m", "capped"), ("held", None)]
    assert step.inputs["policy"][0]["decision"] == "capped"
    # wait: sent when the first message leaves the 2-day window
    _, state, step = runs["wait"]
    assert step.port == "next" and step.inputs["policy"][0]["decision"] == "waited"
    sent = _sent_at(acts)
    assert len(sent) == 2
    assert timedelta(0) <= sent[1] - (t0 + timedelta(days=2)) < timedelta(minutes=1)
    # short: the cap frees after its longest wait: skipped at once
    _, state, step = runs["short"]
    assert step.inputs["policy"][0]["decision"] == "skipped"
    assert path(state)[-1] == ("done", None)


async def test_a_policy_change_reaches_runs_already_waiting(
    env: WorkflowEnvironment, sessions: sessionmaker[Session]
) -> None:
    """The policy is read at each action, not compiled in: a cap saved while a customer
    waits applies to their next send (the real send_message, whose check reads the
    database)."""
    with sessions() as s:
        s.add(Customer(id="C1", name="李女士"))
        s.commit()
    real = JourneyActivities(sessions=sessions, settings=Settings())
    acts = SandboxActivities(default_world)
    others = [a for n, a in acts.activities.items() if n != "send_message"]
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
                {"id": "m", "kind": "send_message", "config": {"content": "回来看看"}},
                EXIT,
            ],
            [("entry", "next", "w"), ("w", "next", "m"), ("m", "next", "done")],
        )
    )
    async with worker(env, acts, extra_activities=[real.send_message, *others]) as (
        queue,
        _,
    ):
        handle = await start(env, queue, journey)
        await wait_at(handle, "w")
        now = (await env.get_current_time()).astimezone(UTC)
        with sessions() as s:  # HQ adds a cap; another journey has just messaged C1
            policy_crud.save_policy(
                session=s,
                quiet_start=None,
                quiet_end=None,
                caps=[{"id": "m7", "channel": "message", "max_contacts": 1, "window_days": 7}],
                by="hq",
            )
        with sessions() as s:
            policy_crud.check_contact(
                session=s,
                decision_key="other-journey@1",
                customer_id="C1",
                channel="sms",
                category="marketing",
                at=now,
                default_zone="Asia/Shanghai",
            )
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)
    step = next(t for t in state.trace if t.node_id == "m")
    assert step.inputs["policy"][0]["decision"] == "skipped"
    assert step.inputs["policy"][0]["rule"] == "m7"
    assert step.result["capped"] is True
    with sessions() as s:
        assert crud.list_messages(session=s) == []  # nothing in the outbox


async def test_each_action_carries_its_own_check_one_activity_per_action(
    env: WorkflowEnvironment,
) -> None:
    """Release journey-contact-in-effect: the coupon and the message are checked by their
    own activities (the request carries the check), so a journey under the policy runs
    one activity per action and no local activity before it; both contacts are counted."""

    def world(customer_id: str) -> SandboxWorld:
        w = default_world(customer_id)
        w.policy = ContactPolicy(caps=[FrequencyCap("any5", "any", 5, 7)])
        return w

    journey = compile_ok(
        doc(
            [
                ENTRY,
                {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
                {"id": "m", "kind": "send_message", "config": {"content": "券已到账"}},
                EXIT,
            ],
            [("entry", "next", "c"), ("c", "next", "m"), ("m", "next", "done")],
        )
    )
    acts = SandboxActivities(world)
    async with worker(env, acts) as (queue, _):
        handle = await start(env, queue, journey)
        result = await handle.result()
        history = await handle.fetch_history()
    assert result.exit_reason == "exit"
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    markers = [
        e.marker_recorded_event_attributes.marker_name
        for e in history.events
        if e.HasField("marker_recorded_event_attributes")
    ]
    assert scheduled == ["issue_coupon", "send_message"]
    assert "core_local_activity" not in markers
    checks = [(name, req.policy.channel) for name, req in acts.calls]
    assert checks == [("issue_coupon", "coupon"), ("send_message", "sms")]
    assert [c.channel for c in acts.world("C1").contacts] == ["coupon", "sms"]

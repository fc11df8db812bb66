"""The contact policy fields of action nodes: compiled into the step's ContactRule, checked
(a cap wait of 1 minute to 30 days), the `capped` port only when chosen, and left out of the
IR at their defaults so journeys compiled before them keep their content hash."""

from __future__ import annotations

from typing import Any

import pytest

from engine.compiler import compile_document
from engine.compiler.diagnostics import Code
from engine.ir_parts import ContactRule

ENTRY = {"id": "entry", "kind": "entry"}


def _doc(action: dict[str, Any], ports: tuple[str, ...] = ("next",)) -> dict[str, Any]:
    nodes = [ENTRY, {"id": "a", **action}] + [{"id": f"x_{p}", "kind": "exit"} for p in ports]
    edges = [("entry", "next", "a")] + [("a", p, f"x_{p}") for p in ports]
    return {
        "name": "t",
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


MESSAGE: dict[str, Any] = {"kind": "send_message", "config": {"content": "hi"}}
COUPON: dict[str, Any] = {"kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}}
TASK: dict[str, Any] = {"kind": "assign_guide_task", "config": {"instructions": "call"}}
TASK_PORTS = ("completed", "expired")


def _compile(doc: dict[str, Any]) -> Any:
    return compile_document(doc, journey_id="j", version=1, coupon_templates={"NEW20"})


@pytest.mark.parametrize(
    ("action", "ports"), [(MESSAGE, ("next",)), (COUPON, ("next",)), (TASK, TASK_PORTS)]
)
def test_defaults_leave_the_ir_and_its_hash_as_before(
    action: dict[str, Any], ports: tuple[str, ...]
) -> None:
    plain = _compile(_doc(action, ports)).journey
    explicit = {
        **action,
        "config": {
            **action["config"],
            "category": "marketing",
            "when_capped": "skip",
            "max_wait": {"amount": 3, "unit": "days"},
        },
    }
    same = _compile(_doc(explicit, ports)).journey
    assert plain.content_hash == same.content_hash
    assert "contact" not in plain.to_dict()["steps"][1]
    assert plain.step("a").contact == ContactRule()


@pytest.mark.parametrize(
    ("action", "ports"), [(MESSAGE, ("next",)), (COUPON, ("next",)), (TASK, TASK_PORTS)]
)
def test_the_rule_compiles_and_the_capped_port_is_offered(
    action: dict[str, Any], ports: tuple[str, ...]
) -> None:
    config = {**action["config"], "category": "service", "when_capped": "port"}
    result = _compile(_doc({**action, "config": config}, (*ports, "capped")))
    assert result.journey is not None, [d.message for d in result.diagnostics]
    step = result.journey.step("a")
    assert step.contact == ContactRule("service", "port", 3 * 86400)
    assert result.journey.from_dict(result.journey.to_dict()).step("a").contact == step.contact
    # the capped port must lead somewhere, like any port
    unconnected = _compile(_doc({**action, "config": config}, ports))
    assert unconnected.journey is None
    assert Code.MISSING_EDGE in {d.code for d in unconnected.diagnostics}
    # and without `port`, there is no such port to connect
    skip = {**action["config"], "when_capped": "skip"}
    assert _compile(_doc({**action, "config": skip}, (*ports, "capped"))).journey is None


@pytest.mark.parametrize(
    ("max_wait", "problem"),
    [
        ({"amount": 0, "unit": "hours"}, "zero"),
        ({"amount": 31, "unit": "days"}, "cap_wait_too_long"),
    ],
)
def test_a_cap_wait_is_one_minute_to_thirty_days(max_wait: dict[str, Any], problem: str) -> None:
    config = {**MESSAGE["config"], "when_capped": "wait", "max_wait": max_wait}
    result = _compile(_doc({**MESSAGE, "config": config}))
    [diag] = [d for d in result.diagnostics if d.code is Code.INVALID_WAIT]
    assert list(diag.node_ids) == ["a"] and diag.params == {"field": "max_wait", "problem": problem}
    assert "max_wait" in diag.message
    # the same wait under `skip` is never used: no diagnostic
    config["when_capped"] = "skip"
    assert _compile(_doc({**MESSAGE, "config": config})).journey is not None


def test_a_task_outcome_may_not_be_called_capped() -> None:
    config = {**TASK["config"], "outcomes": ["capped", "ok"], "when_capped": "port"}
    result = _compile(_doc({**TASK, "config": config}, ("capped", "ok", "expired")))
    assert Code.DUPLICATE_PORT_ID in {d.code for d in result.diagnostics}


# --------------------------------------------------------------------------- send windows


def _utc(iso: str) -> str:
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso).astimezone(UTC).isoformat()[:16]


def _run(config: dict[str, Any], policy: Any = None) -> Any:
    import asyncio
    from datetime import UTC, datetime

    from engine.effects import CustomerFacts
    from engine.simulation import SandboxWorld, simulate

    journey = _compile(_doc({**MESSAGE, "config": {**MESSAGE["config"], **config}})).journey
    assert journey is not None
    world = SandboxWorld(facts=CustomerFacts("C1", timezone="Asia/Shanghai"), policy=policy)
    start = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 in Shanghai
    state = asyncio.run(simulate(journey, world, start=start))
    return next(t for t in state.trace if t.node_id == "a"), world


def test_an_action_waits_for_its_own_send_window() -> None:
    step, world = _run({"window": {"start": "10:00", "end": "20:00"}})
    [note] = step.inputs["policy"]
    assert (note["decision"], note["rule"]) == ("deferred", "send_window")
    assert note["detail"] == "10:00–20:00 Asia/Shanghai"
    assert _utc(step.finished_at) == "2026-03-02T02:00"  # 10:00 Shanghai
    assert len(world.messages) == 1


def test_a_send_window_and_quiet_hours_both_hold() -> None:
    from engine.contact_policy import ContactPolicy, QuietHours

    policy = ContactPolicy(quiet_hours=QuietHours("21:00", "08:00"))
    step, _ = _run({"window": {"start": "07:00", "end": "09:00"}}, policy)
    rules = [(n["rule"], n["until"][:16]) for n in step.inputs["policy"]]
    assert rules == [("send_window", "2026-03-01T23:00"), ("quiet_hours", "2026-03-02T00:00")]
    assert _utc(step.finished_at) == "2026-03-02T00:00"  # 08:00 Shanghai


def test_an_empty_send_window_on_an_action_is_refused() -> None:
    config = {**MESSAGE["config"], "window": {"start": "09:00", "end": "09:00"}}
    result = _compile(_doc({**MESSAGE, "config": config}))
    assert [d.code for d in result.errors] == [Code.INVALID_WINDOW]


def _chain(entry: dict[str, Any], *middle: dict[str, Any], action: dict[str, Any]) -> Any:
    nodes = [{"id": "entry", "kind": "entry", "config": entry}, *middle, {"id": "a", **action}]
    nodes.append({"id": "done", "kind": "exit"})
    ids = [n["id"] for n in nodes]
    edges = list(zip(ids, ["next"] * len(ids), ids[1:], strict=False))
    return {
        "name": "t",
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


EVENT = {"trigger": {"type": "event", "event_type": "signup"}}
MANUAL = {"trigger": {"type": "manual"}}
THREE_DAYS = {"until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}}
WINDOW = {"start": "10:00", "end": "20:00"}


@pytest.mark.parametrize(
    ("doc", "warned"),
    [
        (_chain(EVENT, action=MESSAGE), True),
        (_chain(MANUAL, {"id": "w", "kind": "wait", "config": THREE_DAYS}, action=MESSAGE), True),
        (_chain(EVENT, action=COUPON), False),  # lands in the wallet: not a 03:00 message
        (_chain(MANUAL, action=MESSAGE), False),  # enrolled by hand, when HQ chooses
        (
            _chain(
                EVENT,
                {"id": "w", "kind": "wait", "config": THREE_DAYS | {"window": WINDOW}},
                action=MESSAGE,
            ),
            False,
        ),
        (_chain(EVENT, action={**MESSAGE, "config": {"content": "hi", "window": WINDOW}}), False),
        (
            _chain(EVENT, action={**MESSAGE, "config": {"content": "hi", "category": "service"}}),
            False,
        ),
        (
            _chain(
                EVENT,
                {"id": "m0", "kind": "send_message", "config": {"content": "hi", "window": WINDOW}},
                action=TASK,
            ),
            False,
        ),
    ],
)
def test_an_action_reachable_at_any_hour_is_a_warning_without_quiet_hours(
    doc: dict[str, Any], warned: bool
) -> None:
    if doc["nodes"][-2]["kind"] == "assign_guide_task":  # a task's ports
        doc["nodes"].append({"id": "late", "kind": "exit"})
        doc["edges"][-1]["source_port"] = "completed"
        doc["edges"].append({"id": "ex", "source": "a", "source_port": "expired", "target": "late"})
    result = compile_document(
        doc, journey_id="j", version=1, coupon_templates={"NEW20"}, quiet_hours=False
    )
    assert result.journey is not None, [d.message for d in result.errors]
    found = [d for d in result.diagnostics if d.code is Code.ACTION_WITHOUT_WINDOW]
    assert bool(found) is warned
    if warned:
        assert found[0].severity.value == "warning" and list(found[0].node_ids) == ["a"]
    for known in (True, None):  # quiet hours configured, or unknown: nothing to say
        again = compile_document(
            doc, journey_id="j", version=1, coupon_templates={"NEW20"}, quiet_hours=known
        )
        assert not [d for d in again.diagnostics if d.code is Code.ACTION_WITHOUT_WINDOW]


def test_a_send_window_inside_quiet_hours_is_skipped_not_waited_for_ever() -> None:
    from engine.contact_policy import ContactPolicy, QuietHours

    policy = ContactPolicy(quiet_hours=QuietHours("21:00", "08:00"))
    step, world = _run({"window": {"start": "22:00", "end": "23:00"}}, policy)
    decisions = [(n["decision"], n["rule"]) for n in step.inputs["policy"]]
    # window → quiet hours → window → quiet hours again: the window never opens outside them
    assert decisions[-1] == ("skipped", "quiet_hours")
    assert decisions.count(("deferred", "quiet_hours")) == 1
    assert step.port == "next" and world.messages == []


async def test_a_send_that_fails_for_good_uses_no_cap_slot_in_the_sandbox() -> None:
    """As the worker voids it: an SMS to a customer who opted out of SMS fails (on by
    `next`) and is no contact, so the WeCom message after it still fits a cap of one
    message — in a test run or a backtest as in a real run."""
    from datetime import UTC, datetime

    from engine.contact_policy import ContactPolicy, FrequencyCap
    from engine.simulation import simulate
    from tests.workflows.harness import default_world

    doc = {
        "name": "t",
        "nodes": [
            ENTRY,
            {"id": "sms", "kind": "send_message", "config": {"content": "hi"}},
            {
                "id": "wecom",
                "kind": "send_message",
                "config": {"channel": "wecom", "content": "hi"},
            },
            {"id": "done", "kind": "exit"},
        ],
        "edges": [
            {"id": "1", "source": "entry", "target": "sms"},
            {"id": "2", "source": "sms", "target": "wecom"},
            {"id": "3", "source": "wecom", "target": "done"},
        ],
    }
    journey = _compile(doc).journey
    world = default_world("C1")
    world.facts.opted_out_channels = ["sms"]
    world.policy = ContactPolicy(caps=[FrequencyCap("msg1", "message", 1, 7)])
    state = await simulate(journey, world, start=datetime(2026, 3, 2, 10, tzinfo=UTC))
    sms, wecom = (next(t for t in state.trace if t.node_id == n) for n in ("sms", "wecom"))
    assert sms.error == "CustomerOptedOut"
    assert "policy" not in wecom.inputs and wecom.port == "next"
    assert [m.channel for m in world.messages] == ["wecom"]
    assert [c.channel for c in world.contacts] == ["wecom"]

"""Property: no run strands (issue 12).

Random valid journeys (every node kind, every on_failure, loops through waits) run on the
virtual clock for random customers and scripts (events, task outcomes, stop / pause /
resume) with failures injected into their side effects (stock exhausted, opted out, no
guide, templates that break at render time, providers that keep failing, notices that
fail). Every run either

* ends — exited or stopped — with its end recorded (the last record, i.e. the database
  row, says the same status, reason and goal), or
* waits on something it names — a timer, an event, a task or a pause — whenever it waits,
  with the database row saying "running" at that node (a pause is held in state only).

Never "stopped with nothing to do", never waiting on nothing, never an exception.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from engine import ir
from engine.compiler import Code, compile_document
from engine.effects import CustomerFacts
from engine.interpreter import Interpreter, new_state
from engine.ports import output_ports
from engine.simulation import CouponTemplateSpec, SandboxWorld, ScriptItem, SimulatedRuntime
from tests.engine.sim import NODE_MODELS, assert_end_recorded

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
#: runs still waiting this long after they started are checked as waiting, not followed
HORIZON = START + timedelta(days=60)
KINDS = (
    "wait",
    "wait_for_event",
    "branch",
    "split",
    "send_coupon",
    "send_message",
    "assign_guide_task",
    "update_customer",
)
WAITING_KINDS = ("wait", "wait_for_event", "assign_guide_task")
EVENT_TYPES = ("purchase", "visit", "coupon_redeemed")
OUTCOMES = ("interested", "declined")
COUPONS = {
    "NEW20": CouponTemplateSpec("NEW20"),
    "VIP100": CouponTemplateSpec("VIP100", face_value=100, validity_days=14, stock=1),
    "SOLDOUT": CouponTemplateSpec("SOLDOUT", stock=0),
}
#: permanent failures to inject, per effect
FAILURES = {
    "issue_coupon": ("CouponStockExhausted", "RetriesExhausted"),
    "send_message": ("MessageRejected", "CustomerOptedOut", "RetriesExhausted"),
    "create_task": ("NoGuideAvailable", "TemplateRenderFailed", "RetriesExhausted"),
    "task_notice": ("TaskNotFound", "RetriesExhausted"),
    "update_customer": ("CustomerNotFound",),
}
GOOD_TEXT = "{{ customer.name }}，您好"
BAD_TEXT = "{{ customer.name }} {{ 1 / 0 }}"  # the compiler accepts it; rendering fails

on_failures = st.sampled_from(["continue", "exit", "port"])
durations = st.builds(
    lambda amount, unit: {"amount": amount, "unit": unit},
    st.integers(1, 3),
    st.sampled_from(["minutes", "hours", "days"]),
)


# ------------------------------------------------------------------ journeys


@st.composite
def _config(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A config for ``kind``; context references are filled in once the graph is known."""
    if kind == "wait":
        until = draw(
            st.sampled_from(["duration", "duration", "context", "customer_date", "absolute"])
        )
        spec: dict[str, Any] = {"type": "duration", "duration": draw(durations)}
        if until == "context":
            spec = {"type": "context", "node_id": "?", "offset": draw(durations)}
            spec["direction"] = draw(st.sampled_from(["before", "after"]))
        elif until == "customer_date":
            spec = {
                "type": "customer_date",
                "field": draw(st.sampled_from(["birthday", "birthday_month_start"])),
                "offset": {"amount": draw(st.integers(0, 7)), "unit": "days"},
            }
        elif until == "absolute":
            at = START + timedelta(hours=draw(st.integers(-48, 24 * 40)))
            spec = {"type": "absolute", "at": at.isoformat()}
        config: dict[str, Any] = {"until": spec}
        if draw(st.booleans()):
            start, end = draw(st.sampled_from([("10:00", "20:00"), ("22:00", "08:00")]))
            tz = draw(st.sampled_from(["customer", "store"]))
            config["window"] = {"start": start, "end": end, "timezone": tz}
        return config
    if kind == "wait_for_event":
        config = {
            "event_type": draw(st.sampled_from(EVENT_TYPES)),
            "timeout": {"amount": draw(st.integers(1, 5)), "unit": "days"},
        }
        if draw(st.booleans()):
            config["filters"] = [{"field": "amount", "op": "gte", "value": 100}]
        return config
    if kind == "branch":
        conditions = st.sampled_from(
            [
                {"type": "tag", "tag": "vip"},
                {"type": "rfm_class", "classes": ["重要价值", "重要挽留"]},
                {"type": "attribute", "field": "member_level", "op": "eq", "value": "gold"},
                {"type": "event_count", "event_type": "purchase", "window_days": 30},
                {"type": "segment", "segment_id": "seg_a"},
                {"type": "context", "node_id": "?"},
            ]
        )
        rules = draw(st.lists(st.lists(conditions, min_size=1, max_size=2), min_size=1, max_size=3))
        return {
            "rules": [
                {"id": f"r{i}", "match": draw(st.sampled_from(["all", "any"])), "conditions": c}
                for i, c in enumerate(rules)
            ]
        }
    if kind == "split":
        cut = draw(st.integers(1, 99))
        variants = [{"id": "a", "weight": cut}, {"id": "b", "weight": 100 - cut}]
        if draw(st.booleans()):
            variants[1]["holdout"] = True
        return {"variants": variants}
    if kind == "send_coupon":
        return {
            "coupon_template_id": draw(st.sampled_from(sorted(COUPONS))),
            "on_failure": draw(on_failures),
        }
    if kind == "send_message":
        channel = draw(st.sampled_from(["sms", "wecom", "email", "webhook"]))
        config = {
            "channel": channel,
            "content": draw(st.sampled_from([GOOD_TEXT, BAD_TEXT, "ctx"])),
            "on_failure": draw(on_failures),
        }
        if channel == "webhook":
            config["webhook_url"] = "https://crm.example.com/hook"
        return config
    if kind == "assign_guide_task":
        return {
            "instructions": draw(st.sampled_from([GOOD_TEXT, BAD_TEXT])),
            "assignee": draw(st.sampled_from(["bound_guide", "store_manager"])),
            "due_in": {"amount": draw(st.integers(1, 48)), "unit": "hours"},
            "remind_before": draw(st.sampled_from([None, {"amount": 1, "unit": "hours"}])),
            "expire_after": {"amount": draw(st.integers(1, 24)), "unit": "hours"},
            "outcomes": draw(st.sampled_from([[], list(OUTCOMES)])),
            "on_failure": draw(on_failures),
        }
    return {"add_tags": ["touched"], "set_attributes": {"last_touch": "journey"}}


def _ports(kind: str, config: dict[str, Any]) -> tuple[str, ...]:
    node = NODE_MODELS[kind].model_validate({"id": "n", "kind": kind, "config": config})
    return output_ports(node)  # type: ignore[arg-type]


def _resolve_refs(
    draw: st.DrawFn, node_id: str, kind: str, config: dict[str, Any], upstream: dict[str, str]
) -> None:
    """Point context references at a node upstream of ``node_id`` that records the field
    (or replace them when there is none), as a marketer picking from the panel would."""
    coupons = sorted(n for n, k in upstream.items() if k == "send_coupon")
    tasks = sorted(n for n, k in upstream.items() if k == "assign_guide_task")
    effects = sorted(
        n for n, k in upstream.items() if k in ("send_coupon", "send_message", "assign_guide_task")
    )
    if kind == "wait" and config["until"]["type"] == "context":
        choices = [(n, f) for n in coupons for f in ("expires_at", "issued_at")]
        choices += [(n, "due_at") for n in tasks]
        if choices:
            ref, field = draw(st.sampled_from(choices))
            config["until"].update(node_id=ref, field=field)
        else:
            config["until"] = {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
    elif kind == "branch":
        for rule in config["rules"]:
            for i, cond in enumerate(rule["conditions"]):
                if cond["type"] != "context":
                    continue
                choices = [(n, f) for n in coupons for f in ("redeemed", "issued")]
                choices += [(n, "outcome") for n in tasks] + [(n, "failed") for n in effects]
                if not choices:
                    rule["conditions"][i] = {"type": "tag", "tag": "vip"}
                    continue
                ref, field = draw(st.sampled_from(choices))
                value: Any = draw(st.sampled_from(OUTCOMES)) if field == "outcome" else True
                rule["conditions"][i] = {
                    "type": "context",
                    "node_id": ref,
                    "field": field,
                    "value": value,
                }
    elif kind == "send_message" and config["content"] == "ctx":
        config["content"] = (
            f"券 {{{{ ctx.{draw(st.sampled_from(coupons))}.code }}}}" if coupons else GOOD_TEXT
        )


@st.composite
def journeys(draw: st.DrawFn) -> dict[str, Any]:
    """A valid journey document: a DAG of steps with loops back to waiting steps only."""
    n = draw(st.integers(1, 8))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n)]
    configs = [draw(_config(k)) for k in kinds]
    exits = [f"x{i}" for i in range(draw(st.integers(1, 3)))]
    ids = [f"n{i}" for i in range(n)]
    edges: list[tuple[str, str, str]] = [("entry", "next", "n0")]
    for i, (kind, config) in enumerate(zip(kinds, configs, strict=True)):
        forward = ids[i + 1 :] + exits
        back = [ids[j] for j in range(i + 1) if kinds[j] in WAITING_KINDS]
        for port in _ports(kind, config):
            if back and draw(st.integers(0, 9)) == 0:  # now and then a loop through a wait
                target = draw(st.sampled_from(back))
            else:
                target = draw(st.sampled_from(forward))
            edges.append((ids[i], port, target))
    # keep what the entry reaches (an orphan is a compiler error, not what is tested here)
    graph = nx.MultiDiGraph([(s, t) for s, _p, t in edges])
    reachable = nx.descendants(graph, "entry") | {"entry"}
    edges = [e for e in edges if e[0] in reachable]
    kind_of = dict(zip(ids, kinds, strict=True))
    nodes: list[dict[str, Any]] = [{"id": "entry", "kind": "entry", "label": "入口"}]
    for node_id, kind, config in zip(ids, kinds, configs, strict=True):
        if node_id not in reachable:
            continue
        upstream = {
            a: kind_of[a] for a in nx.ancestors(graph, node_id) if a in kind_of and a in reachable
        }
        _resolve_refs(draw, node_id, kind, config, upstream)
        nodes.append({"id": node_id, "kind": kind, "label": f"{kind} {node_id}", "config": config})
    for x in exits:
        if x in reachable:
            goal = draw(st.booleans())
            nodes.append({"id": x, "kind": "exit", "config": {"goal_reached": goal}})
    settings_: dict[str, Any] = {"max_node_visits": draw(st.integers(1, 4))}
    if draw(st.booleans()):
        settings_["goal"] = {"event_type": "purchase"}
    return {
        "name": "random",
        "settings": settings_,
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


# ------------------------------------------------------------------ worlds and scripts


@st.composite
def worlds(draw: st.DrawFn, node_ids: list[str]) -> SandboxWorld:
    failures: dict[str, str] = {}
    for effect, types in FAILURES.items():
        if draw(st.integers(0, 3)) == 0:  # this effect fails everywhere
            failures[effect] = draw(st.sampled_from(types))
        for node_id in node_ids:
            if draw(st.integers(0, 5)) == 0:  # or only at this node
                failures[f"{effect}:{node_id}"] = draw(st.sampled_from(types))
    facts = CustomerFacts(
        "C1",
        name="李女士",
        member_level=draw(st.sampled_from(["gold", "silver"])),
        guide_id=draw(st.sampled_from(["G1", None])),
        tags=draw(st.sampled_from([[], ["vip"]])),
        attributes=draw(st.sampled_from([{}, {"store_manager_id": "M1"}])),
        rfm_class=draw(st.sampled_from([None, "重要挽留", "一般发展"])),
        birthday=draw(st.sampled_from([None, "1990-03-05", "1988-02-29", "1995-12-31"])),
        opted_out_channels=draw(st.sampled_from([[], ["sms"], ["wecom", "email"]])),
        segments={"seg_a": draw(st.booleans())},
    )
    return SandboxWorld(
        facts=facts,
        coupon_templates={k: CouponTemplateSpec(**v.__dict__) for k, v in COUPONS.items()},
        failures=failures,
    )


def _item(draw: st.DrawFn) -> ScriptItem:
    at = START + timedelta(minutes=draw(st.integers(0, 45 * 24 * 60)))
    what = draw(st.sampled_from(["event", "event", "event", "outcome", "outcome", "signal"]))
    if what == "event":
        amount = draw(st.sampled_from([50, 399]))
        return ScriptItem(
            at, event_type=draw(st.sampled_from(EVENT_TYPES)), properties={"amount": amount}
        )
    if what == "outcome":
        return ScriptItem(at, task_outcome=draw(st.sampled_from([*OUTCOMES, "completed", "bogus"])))
    return ScriptItem(at, signal=draw(st.sampled_from(["stop", "pause", "pause", "resume"])))


scripts = st.composite(lambda draw: [_item(draw) for _ in range(draw(st.integers(0, 6)))])()


# ------------------------------------------------------------------ the checked run


class _Horizon(Exception):
    """The run is still waiting at the horizon: checked as waiting, not followed further."""


class CheckedRuntime(SimulatedRuntime):
    """The simulation, asserting at every wait that the run waits on something it names
    and that the database row says so; stops at :data:`HORIZON`."""

    async def wait(self, *, until: datetime | None, wake: Callable[[], bool]) -> bool:
        assert self.interpreter is not None
        st_ = self.interpreter.state
        waiting = st_.waiting
        assert st_.status == "running" and st_.current is not None
        assert waiting is not None, f"waits on nothing at {st_.current}"
        assert waiting.node_id == st_.current
        if waiting.kind == "paused":
            assert until is None
        else:
            assert waiting.kind in ("timer", "event", "task"), waiting
            assert until is not None and waiting.until == until.isoformat()
            row = self.world.records[-1]
            assert (row.status, row.current_node) == ("running", waiting.node_id), row
        if until is None or until > HORIZON:
            while not wake():  # only script items (all before the horizon) can wake it
                if not self.script:
                    raise _Horizon
                item = self.script.pop(0)
                self.clock = max(self.clock, item.at)
                self._deliver(item)
            return True
        return await super().wait(until=until, wake=wake)


async def _run(
    journey: ir.CompiledJourney, world: SandboxWorld, script: list[ScriptItem]
) -> tuple[Interpreter, bool]:
    rt = CheckedRuntime(world, START, script)
    state = new_state(
        customer_id="C1",
        enrollment_id="e1",
        entered_at=START,
        entry_node_id=journey.entry_node_id,
    )
    interp = Interpreter(journey, rt, workflow_id="wf-prop", state=state)
    rt.interpreter = interp
    try:
        await interp.run()
    except _Horizon:
        return interp, False
    return interp, True


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples on every machine: CI never turns red by chance
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data(), doc=journeys(), script=scripts)
def test_every_run_ends_recorded_or_waits_on_something_it_names(
    data: st.DataObject, doc: dict[str, Any], script: list[ScriptItem]
) -> None:
    result = compile_document(doc, journey_id="jp", version=1, coupon_templates=set(COUPONS))
    if result.journey is None:
        codes = {d.code for d in result.errors}
        assume(codes != {Code.LOOP_WITHOUT_EXIT})  # a loop whose every port stays inside
        raise AssertionError([d.message for d in result.errors])
    journey = result.journey
    world = data.draw(worlds([n["id"] for n in doc["nodes"]]))
    interp, ended = asyncio.run(_run(journey, world, sorted(script, key=lambda s: s.at)))
    state = interp.state
    known = {s.node_id for s in journey.steps}
    assert all(r.current_node in known for r in world.records)
    event(f"run: {state.status} {state.exit_reason or ''}".strip())
    event(f"failed visits: {min(sum(1 for t in state.trace if t.error), 3)}")
    if ended:
        assert_end_recorded(state, world)
    else:
        assert state.status == "running" and state.waiting is not None

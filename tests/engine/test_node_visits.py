"""Node visits for the per-step funnel (issue 14): every visit a run makes reaches the
database once, with the port it took, riding on the run's own records (release
``journey-node-visits``), and runs recorded before the release send none."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.compiler import Code, compile_document
from engine.effects import CustomerFacts
from engine.interpreter import Interpreter, new_state
from engine.runtime import NODE_VISITS, PATCHES
from engine.simulation import SandboxWorld, ScriptItem, SimulatedRuntime
from tests.engine.sim import journey_doc
from tests.engine.test_no_stranded_runs import COUPONS, _run, journeys, scripts, worlds

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def recorded_visits(world: SandboxWorld) -> list[tuple[str, int, str | None]]:
    return [(v.node_id, v.visit, v.port) for r in world.records for v in r.visits]


def _coupon_then_exit() -> dict[str, Any]:
    return journey_doc(
        [
            {"id": "in", "kind": "entry"},
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}
                },
            },  # noqa: E501
            {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
            {"id": "x", "kind": "exit"},
        ],
        [("in", "next", "w"), ("w", "next", "c"), ("c", "next", "x")],
    )


def _simulate(doc: dict[str, Any], runtime_cls: type[SimulatedRuntime] = SimulatedRuntime):
    journey = compile_document(doc, journey_id="j", version=1, coupon_templates={"NEW20"}).journey
    assert journey is not None
    world = SandboxWorld(facts=CustomerFacts("C1"), coupon_templates={"NEW20": COUPONS["NEW20"]})
    rt = runtime_cls(world, START)
    state = new_state(customer_id="C1", enrollment_id="e1", entered_at=START, entry_node_id="in")
    interp = Interpreter(journey, rt, workflow_id="wf", state=state)
    rt.interpreter = interp
    asyncio.run(interp.run())
    return interp.state, world


def test_visits_ride_on_the_runs_records_including_the_end_a_side_effect_records() -> None:
    state, world = _simulate(_coupon_then_exit())
    assert state.status == "exited"
    # entry and wait went with the wait's "running" record; the coupon step and the exit
    # with the end the coupon's activity recorded (no record of its own for the exit)
    assert [[(v.node_id, v.port) for v in r.visits] for r in world.records] == [
        [("in", "next")],
        [("w", "next"), ("c", "next"), ("x", None)],
    ]
    assert all(r.enrollment_id == "e1" for r in world.records)
    assert state.pending_visits == []


class _BeforeRelease(SimulatedRuntime):
    def patched(self, change_id: str) -> bool:
        return change_id != NODE_VISITS


def test_a_run_recorded_before_the_release_sends_no_visits() -> None:
    state, world = _simulate(_coupon_then_exit(), _BeforeRelease)
    assert state.status == "exited"
    assert all(r.visits == [] and r.enrollment_id == "" for r in world.records)


def test_the_release_is_decided_with_the_others() -> None:
    assert NODE_VISITS in PATCHES  # later releases follow it (journey-contact-policy)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(data=st.data(), doc=journeys(), script=scripts)
def test_every_visit_is_recorded_once_with_its_port(
    data: st.DataObject, doc: dict[str, Any], script: list[ScriptItem]
) -> None:
    result = compile_document(doc, journey_id="jp", version=1, coupon_templates=set(COUPONS))
    if result.journey is None:
        assume({d.code for d in result.errors} != {Code.LOOP_WITHOUT_EXIT})
        raise AssertionError([d.message for d in result.errors])
    world = data.draw(worlds([n["id"] for n in doc["nodes"]]))
    interp, ended = asyncio.run(_run(result.journey, world, sorted(script, key=lambda s: s.at)))
    state = interp.state
    visits = recorded_visits(world)
    keys = [(n, v) for n, v, _p in visits]
    assert len(keys) == len(set(keys)), "a visit recorded twice"
    trace = [(t.node_id, t.visit, t.port) for t in state.trace if t.kind != "goal"]
    if ended:
        assert state.pending_visits == []
        # a run interrupted between steps ends at the step it was heading to: a visit the
        # trace (the path a user reads) does not show, without a port
        unseen = [v for v in visits if v not in trace]
        assert len(unseen) <= 1 and all(p is None for _n, _v, p in unseen)
        assert sorted([v for v in visits if v in trace], key=str) == sorted(trace, key=str)
        # exactly one visit ends the run (no port), at the node the run ended at
        assert sum(1 for _n, _v, p in visits if p is None) == 1
    else:  # still waiting: every finished visit recorded or pending, none in progress
        assert state.waiting is not None
        pending = [(v.node_id, v.visit, v.port) for v in state.pending_visits]
        done = sorted(visits + pending, key=str)
        finished = [t for t in trace if t[2] is not None]
        assert done == sorted(finished, key=str)
    # per node: the passes (visits that took a port) are the sum of its port counts
    per_port = Counter((n, p) for n, _v, p in visits if p is not None)
    for node in {n for n, _v, _p in visits}:
        passes = sum(1 for n, _v, p in visits if n == node and p is not None)
        assert passes == sum(c for (n, _p), c in per_port.items() if n == node)


def test_a_run_interrupted_between_steps_ends_at_the_step_it_was_heading_to() -> None:
    # paused while waiting; the wait ends (port next, towards the coupon) but the paused
    # run stays before the coupon step; the goal event then ends it: one visit of the
    # coupon step without a port, so the funnel counts the run as ended there
    doc = {**_coupon_then_exit(), "settings": {"goal": {"event_type": "purchase"}}}
    journey = compile_document(doc, journey_id="j", version=1, coupon_templates={"NEW20"}).journey
    assert journey is not None
    world = SandboxWorld(facts=CustomerFacts("C1"), coupon_templates={"NEW20": COUPONS["NEW20"]})
    script = [
        ScriptItem(at=START + timedelta(hours=1), signal="pause"),
        ScriptItem(at=START + timedelta(days=2), event_type="purchase"),
    ]
    interp, ended = asyncio.run(_run(journey, world, script))
    assert ended and interp.state.exit_reason == "goal"
    assert recorded_visits(world) == [("in", 1, "next"), ("w", 1, "next"), ("c", 1, None)]
    assert world.coupons == []  # the coupon step never ran

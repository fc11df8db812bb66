"""Every node kind × failure × on_failure has a port the node has, and a run that fails
anywhere ends with its end recorded (issue 12: a run must never strand).

Runs on the virtual clock (engine.simulation); the world's ``records`` stand in for the
database's run row.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine import ir
from engine.compiler import compile_document
from engine.effects import ISSUE_COUPON, CustomerFacts, Effect
from engine.interpreter import SEMANTICS_V3, Interpreter, new_state
from engine.kinds import FAILURE_PORTS, failure_port
from engine.kinds.award_points import AwardPointsStep
from engine.ports import output_ports
from engine.runtime import RunState
from engine.simulation import (
    CouponTemplateSpec,
    SandboxWorld,
    ScriptItem,
    SimulatedRuntime,
    SimulationStalled,
)
from tests.engine.sim import NODE_MODELS, assert_end_recorded, journey_doc

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

#: a valid config for every kind
CONFIGS: dict[str, dict[str, Any]] = {
    "entry": {},
    "wait": {},
    "wait_for_event": {"event_type": "purchase"},
    "branch": {"rules": [{"id": "r", "conditions": [{"type": "tag", "tag": "vip"}]}]},
    "split": {"variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]},
    "send_coupon": {"coupon_template_id": "NEW20"},
    "award_points": {"points": 10, "coupon_template_ids": ["NEW20"]},
    "send_message": {"content": "{{ customer.name }}"},
    "assign_guide_task": {"instructions": "回访 {{ customer.name }}"},
    "update_customer": {"add_tags": ["x"]},
    "exit": {},
    "wait_until_date": {"source": "member_since"},
}
#: the effect each kind with a side effect calls (the key of an injected failure)
EFFECT_OF = {
    "send_coupon": "issue_coupon",
    "award_points": "award_points",
    "send_message": "send_message",
    "assign_guide_task": "create_task",
    "update_customer": "update_customer",
}
#: kinds without a side effect whose step still fails for good: on bad profile data (a
#: missing date, "soon" for a date), tested in tests/engine/test_wait_until_date.py
DATA_FAILURES = {"wait_until_date"}


def _has_on_failure(kind: str) -> bool:
    config_model = NODE_MODELS[kind].model_fields["config"].annotation
    return "on_failure" in getattr(config_model, "model_fields", {})


MATRIX = [
    (kind, on_failure)
    for kind in CONFIGS
    for on_failure in (list(ir.OnFailure) if _has_on_failure(kind) else [ir.OnFailure.CONTINUE])
]


@pytest.mark.parametrize("kind,on_failure", MATRIX, ids=[f"{k}-{o}" for k, o in MATRIX])
def test_every_failure_port_is_a_port_the_node_has(kind: str, on_failure: ir.OnFailure) -> None:
    config = dict(CONFIGS[kind])
    if _has_on_failure(kind):
        config["on_failure"] = on_failure.value
    node = NODE_MODELS[kind].model_validate({"id": "n", "kind": kind, "config": config})
    port = failure_port(kind, on_failure)
    if kind in FAILURE_PORTS:
        assert on_failure in FAILURE_PORTS[kind]
        assert port is None or port in output_ports(node), (kind, on_failure, port)  # type: ignore[arg-type]
    else:  # no side effect: nothing fails for good (reads retry until they succeed)
        assert port is None


def test_every_step_with_a_side_effect_has_a_failure_row() -> None:
    with_effects = (
        ir.SendCouponStep,
        ir.SendMessageStep,
        ir.AssignTaskStep,
        ir.UpdateCustomerStep,
        AwardPointsStep,
    )
    assert {ir.STEP_KIND[c] for c in with_effects} == set(FAILURE_PORTS) - DATA_FAILURES
    assert set(FAILURE_PORTS) - DATA_FAILURES == set(EFFECT_OF)
    for cls in with_effects:
        options = set(ir.OnFailure) if "on_failure" in cls.__dataclass_fields__ else {"continue"}
        assert set(FAILURE_PORTS[ir.STEP_KIND[cls]]) == options


def _compile(doc: dict[str, Any]) -> ir.CompiledJourney:
    result = compile_document(doc, journey_id="jf", version=1, coupon_templates={"NEW20"})
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return result.journey


def _single(kind: str, on_failure: str | None = None, **config: Any) -> ir.CompiledJourney:
    """entry → the node → one exit per port, each exit named after its port."""
    cfg = {**CONFIGS[kind], **config}
    if on_failure is not None:
        cfg["on_failure"] = on_failure
    node: dict[str, Any] = {"id": "n", "kind": kind, "label": "被测", "config": cfg}
    ports = output_ports(NODE_MODELS[kind].model_validate(node))  # type: ignore[arg-type]
    return _compile(
        journey_doc(
            [{"id": "entry", "kind": "entry"}, node]
            + [{"id": f"x_{p}", "kind": "exit"} for p in ports],
            [("entry", "next", "n")] + [("n", p, f"x_{p}") for p in ports],
        )
    )


def _world(**failures: str) -> SandboxWorld:
    return SandboxWorld(
        facts=CustomerFacts("C1", name="李女士", guide_id="G1"),
        coupon_templates={"NEW20": CouponTemplateSpec("NEW20")},
        failures=dict(failures),
    )


async def _run(
    journey: ir.CompiledJourney,
    world: SandboxWorld,
    script: list[ScriptItem] | None = None,
    runtime_cls: type[SimulatedRuntime] = SimulatedRuntime,
) -> RunState:
    rt = runtime_cls(world, START, script)
    state = new_state(
        customer_id="C1", enrollment_id="e", entered_at=START, entry_node_id=journey.entry_node_id
    )
    interp = Interpreter(journey, rt, workflow_id="wf-1", state=state)
    rt.interpreter = interp
    await interp.run()
    return interp.state


def _with_step(journey: ir.CompiledJourney, node_id: str, **changes: Any) -> ir.CompiledJourney:
    steps = tuple(
        dataclasses.replace(s, **changes) if s.node_id == node_id else s for s in journey.steps
    )
    return dataclasses.replace(journey, steps=steps)


FAILING = [
    (kind, on_failure, failure)
    for kind, failure in [
        ("send_coupon", "CouponStockExhausted"),
        ("award_points", "CouponStockExhausted"),
        ("send_message", "CustomerOptedOut"),
        ("send_message", "RetriesExhausted"),
        ("assign_guide_task", "NoGuideAvailable"),
        ("assign_guide_task", "TemplateRenderFailed"),
    ]
    for on_failure in ("continue", "exit", "port")
] + [("update_customer", None, "CustomerNotFound")]


@pytest.mark.parametrize("kind,on_failure,failure", FAILING)
async def test_a_failed_step_takes_its_failure_port_and_the_end_is_recorded(
    kind: str, on_failure: str | None, failure: str
) -> None:
    world = _world(**{EFFECT_OF[kind]: failure})
    state = await _run(_single(kind, on_failure), world)
    visit = state.trace[1]
    assert visit.node_id == "n" and visit.error == failure
    assert state.context["n"] == {"failed": True, "error": failure}
    expected = failure_port(kind, ir.OnFailure(on_failure or "continue"))
    assert visit.port == expected
    if expected is None:
        assert (state.status, state.exit_reason) == ("exited", "failure_exit")
    else:
        assert (state.status, state.exit_reason) == ("exited", "exit")
        assert state.trace[-1].node_id == f"x_{expected}"
    assert_end_recorded(state, world)


async def test_a_task_that_cannot_be_created_follows_expired_by_default() -> None:
    """The stranded run of issue 12, with the default on_failure ("continue"): the
    customer takes ``expired`` and the run's end is recorded."""
    journey = _single("assign_guide_task")
    step = journey.step("n")
    assert isinstance(step, ir.AssignTaskStep) and step.on_failure is ir.OnFailure.CONTINUE
    world = _world()
    world.facts.guide_id = None  # no bound guide, no store manager
    state = await _run(journey, world)
    assert [(t.node_id, t.port) for t in state.trace] == [
        ("entry", "next"),
        ("n", "expired"),
        ("x_expired", None),
    ]
    assert state.trace[1].error == "NoGuideAvailable"
    assert world.tasks == [] and world.notices == []
    assert_end_recorded(state, world)


@pytest.mark.parametrize("kind", ["assign_guide_task", "send_message"])
async def test_a_template_that_breaks_only_when_rendered_is_a_visible_failure(kind: str) -> None:
    field = "instructions" if kind == "assign_guide_task" else "content"
    # parses (the compiler accepts it), cannot render
    journey = _with_step(_single(kind, "port"), "n", **{field: "{{ 1 / 0 }}"})
    world = _world()
    state = await _run(journey, world)
    assert (state.trace[1].error, state.trace[1].port) == ("TemplateRenderFailed", "failed")
    assert "ZeroDivisionError" in state.trace[1].summary
    assert_end_recorded(state, world)


@pytest.mark.parametrize("outcome", [None, "interested"])
async def test_a_failed_task_notice_is_noted_and_the_run_goes_on(outcome: str | None) -> None:
    journey = _single("assign_guide_task", outcomes=["interested"])
    world = _world(task_notice="TaskNotFound")
    # the outcome comes after the reminder and the escalation failed
    script = [ScriptItem(START + timedelta(hours=30), task_outcome=outcome)] if outcome else []
    state = await _run(journey, world, script)
    visit = state.trace[1]
    assert visit.port == (outcome or "expired")
    assert visit.error == "TaskNotFound"
    kinds = {"reminder", "escalation"} | (set() if outcome else {"expired"})
    assert set(visit.inputs["notices_failed"]) == kinds
    assert_end_recorded(state, world)


async def test_a_port_that_leads_nowhere_ends_the_run_recorded() -> None:
    """Defence in depth: an IR whose port has no transition (the compiler builds none)
    still ends the run visibly instead of leaving it with nothing to do."""
    journey = _with_step(_single("send_coupon"), "n", transitions=())
    world = _world()
    state = await _run(journey, world)
    assert (state.status, state.exit_reason) == ("exited", "no_path")
    assert state.trace[-1].error == "NoPath" and "leads nowhere" in state.trace[-1].summary
    assert_end_recorded(state, world)


class _PausedDuringCoupon(SimulatedRuntime):
    """A pause signal arrives while the coupon (whose next step is the exit) is issued."""

    async def effect(self, effect: Effect[Any, Any], request: Any) -> Any:
        result = await super().effect(effect, request)
        if effect is ISSUE_COUPON:
            assert self.interpreter is not None
            self.interpreter.on_pause(True)
        return result


async def test_a_pause_after_the_exit_was_recorded_does_not_hold_the_customer() -> None:
    world = _world()
    state = await _run(_single("send_coupon"), world, runtime_cls=_PausedDuringCoupon)
    assert (state.status, state.exit_reason) == ("exited", "exit")
    assert [r.status for r in world.records] == ["exited"]  # recorded once, by the coupon


# ------------------------------------------------------------------ runs started before


class _Release2(SimulatedRuntime):
    """A run started before release 3 (replaying): every change but SEMANTICS_V3."""

    def patched(self, change_id: str) -> bool:
        return change_id != SEMANTICS_V3


async def test_runs_started_before_release_3_keep_their_old_path() -> None:
    """Behind the patch, a run recorded before the fix replays as it ran: the task failure
    goes to ``next`` and the run stops there unrecorded (the strand release 3 removes)."""
    world = _world(create_task="NoGuideAvailable")
    state = await _run(_single("assign_guide_task"), world, runtime_cls=_Release2)
    assert state.trace[-1].port == "next"
    assert (state.status, state.current) == ("running", None)
    assert world.records == []


async def test_a_pause_after_a_recorded_exit_held_runs_before_release_3() -> None:
    class Old(_Release2, _PausedDuringCoupon):
        pass

    world = _world()
    with pytest.raises(SimulationStalled):
        await _run(_single("send_coupon"), world, runtime_cls=Old)
    assert [r.status for r in world.records] == ["exited"]  # the row says exited; run held

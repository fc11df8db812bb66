"""Every node kind is complete in every layer, so a half-added kind fails here, loudly.

A kind is its module under ``engine/kinds`` (document config and node, ports, validation, IR
step, build, interpreter step, effects) plus its canvas entry in ``canvas_ui/kinds.py``.
Each test runs over the registry (:data:`engine.kinds.KINDS`): the kind's ``example`` config
compiles, runs in the simulation, runs with its effects served by the sandbox activities,
has real activities under its effects' names, and has a palette entry, a summary and a
run note.
"""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import JourneyActivities
from activities.sandbox import SandboxActivities
from canvas_ui import kinds as ui
from canvas_ui.summaries import SummaryContext, node_meta
from engine import ir
from engine.compiler import compile_document
from engine.document import AnyNode, JourneyDocument, NodeKind
from engine.effects import EFFECTS, CustomerFacts, Effect, EffectFailed
from engine.interpreter import _RUN
from engine.kinds import KINDS, KindSpec
from engine.ports import STATIC_PORTS, output_ports
from engine.runtime import RunState
from engine.simulation import CouponTemplateSpec, SandboxWorld, ScriptItem, SimulatedRuntime
from services.run_explain import StepView

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SPECS = list(KINDS.values())
IDS = [s.kind.value for s in SPECS]


def test_every_node_kind_has_a_module_and_a_canvas_entry() -> None:
    assert set(KINDS) == set(NodeKind), "a NodeKind member without engine/kinds/<kind>.py"
    assert set(ui.KINDS) == set(NodeKind), "a node kind without its entry in canvas_ui/kinds.py"


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_document_ir_and_interpreter_know_the_kind(spec: KindSpec) -> None:
    assert spec.node in typing.get_args(AnyNode)  # the document's discriminated union
    schema = JourneyDocument.model_json_schema()
    assert spec.node.__name__ in schema["$defs"]
    assert ir.STEP_KIND[spec.step] == spec.kind.value
    assert _RUN[spec.step] is spec.run
    for cls in spec.ir_classes:  # the tagged codec decodes every class a step may hold
        assert cls.__name__ in ir._CLASSES and ir._CLASSES[cls.__name__] is cls
    if spec.static_ports is not None:
        assert STATIC_PORTS[spec.kind] == spec.static_ports
    for effect in spec.effects:
        assert EFFECTS[effect.name] is effect
        assert effect.simulate is not None, f"{effect.name} has no sandbox (simulate)"


def _doc(spec: KindSpec) -> dict[str, Any]:
    """entry → a node of the kind (its example config) → one exit per port."""
    node = {"id": "n", "kind": spec.kind.value, "label": "被测", "config": dict(spec.example)}
    if spec.kind is NodeKind.ENTRY:
        nodes = [node, {"id": "x", "kind": "exit"}]
        edges = [("n", "next", "x")]
    else:
        ports = output_ports(spec.node.model_validate(node))
        nodes = [{"id": "entry", "kind": "entry"}, node]
        nodes += [{"id": f"x_{p}", "kind": "exit"} for p in ports]
        edges = [("entry", "next", "n")] + [("n", p, f"x_{p}") for p in ports]
    return {
        "name": f"kind {spec.kind.value}",
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


def _compiled(spec: KindSpec) -> ir.CompiledJourney:
    result = compile_document(_doc(spec), journey_id="kinds", version=1, coupon_templates={"NEW20"})
    assert result.journey is not None, [d.message for d in result.diagnostics]
    assert isinstance(result.journey.step("n"), spec.step)
    return result.journey


def _world(customer_id: str = "C1") -> SandboxWorld:
    facts = CustomerFacts(customer_id, name="王女士", guide_id="G1", tags=["vip"])
    facts.member_since = "2025-03-09"  # profile-date waits (wait_until_date) have a date
    return SandboxWorld(facts, coupon_templates={"NEW20": CouponTemplateSpec("NEW20")})


def _script() -> list[ScriptItem]:
    """What any kind may wait for: a purchase, and a guide's outcome."""
    return [
        ScriptItem(START + timedelta(hours=1), event_type="purchase"),
        ScriptItem(START + timedelta(hours=2), task_outcome="completed"),
    ]


async def _run(journey: ir.CompiledJourney, runtime: SimulatedRuntime) -> RunState:
    from engine.interpreter import Interpreter, new_state

    state = new_state(
        customer_id=runtime.world.facts.customer_id,
        enrollment_id="kinds",
        entered_at=START,
        entry_node_id=journey.entry_node_id,
    )
    interp = Interpreter(journey, runtime, workflow_id="wf-kinds", state=state)
    runtime.interpreter = interp
    await interp.run()
    return interp.state


def _visited(state: RunState, spec: KindSpec) -> None:
    visit = next(t for t in state.trace if t.node_id == "n")
    assert visit.kind == spec.kind.value and visit.error is None, visit
    assert state.status == "exited", (state.status, state.trace)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
async def test_the_simulation_runs_the_kind(spec: KindSpec) -> None:
    state = await _run(_compiled(spec), SimulatedRuntime(_world(), START, _script()))
    _visited(state, spec)


class _ViaSandbox(SimulatedRuntime):
    """The simulation with every effect served by the sandbox activities (called as the
    worker calls them: by the effect's name, the request in, the result out)."""

    def __init__(self, sandbox: SandboxActivities, *args: Any) -> None:
        super().__init__(*args)
        self.sandbox = sandbox
        self.names: list[str] = []

    async def effect(self, effect: Effect[Any, Any], request: Any) -> Any:
        self.names.append(effect.name)
        try:
            return await self.sandbox.activities[effect.name](request)
        except ApplicationError as err:
            raise EffectFailed(err.type or "", err.message) from err


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
async def test_the_sandbox_activities_serve_the_kinds_effects(spec: KindSpec) -> None:
    sandbox = SandboxActivities(lambda cid: _world(cid))
    runtime = _ViaSandbox(sandbox, _world(), START, _script())
    # the script reaches the run; the effects act on the sandbox's own world of C1
    state = await _run(_compiled(spec), runtime)
    _visited(state, spec)
    assert {e.name for e in spec.effects} <= set(runtime.names)


def test_every_effect_has_a_sandbox_and_a_real_activity_of_its_name() -> None:
    sandbox = SandboxActivities(lambda cid: _world(cid))
    for name in EFFECTS:
        fn = sandbox.activities[name]
        assert activity._Definition.must_from_callable(fn).name == name
        real = getattr(JourneyActivities, name, None)
        assert real is not None, f"JourneyActivities has no activity for effect {name!r}"
        assert activity._Definition.must_from_callable(real).name == name
    assert {activity._Definition.must_from_callable(a).name for a in sandbox.all()} == set(EFFECTS)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_the_canvas_entry_describes_the_kind(spec: KindSpec) -> None:
    info = ui.KINDS[spec.kind]
    assert info.config_model is spec.node.model_fields["config"].annotation
    assert spec.kind.value in {i["kind"] for g in ui.palette() for i in g["items"]}
    raw = {"id": "n", "kind": spec.kind.value, "config": dict(spec.example)}
    meta = node_meta(raw, SummaryContext())
    assert meta["configured"] and meta["summary"], meta
    assert set(meta["port_labels"]) == set(meta["ports"])
    if spec.static_ports is None:
        assert info.lenient_ports is not None, "config-dependent ports need lenient_ports"
    step = StepView(
        0, "n", spec.kind.value, 1, START.isoformat(), None, None, None, "s", {}, {}, None
    )
    assert isinstance(info.run_note(step, "Asia/Shanghai"), str)

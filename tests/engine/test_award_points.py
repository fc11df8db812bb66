"""award_points: compiler diagnostics (points, per-step maximum, the pack's templates), the
run's context (ctx.<node>.points / balance / coupon_codes for templates and branches), the
simulation's ledger, and a pack coupon out of stock (on_failure; the points stay)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine import ir
from engine.compiler import compile_document
from engine.compiler.diagnostics import Code
from engine.effects import COUPON_STOCK_EXHAUSTED, CustomerFacts, EffectContext, EffectFailed
from engine.interpreter import Interpreter, new_state
from engine.kinds.award_points import (
    AWARD_POINTS,
    MAX_POINTS_PER_STEP,
    AwardPointsRequest,
    AwardPointsStep,
)
from engine.runtime import RunState
from engine.simulation import CouponTemplateSpec, SandboxWorld, SimulatedRuntime
from tests.engine.sim import assert_end_recorded, journey_doc

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
TEMPLATES = {"NEW20", "VIP100"}


def _doc(config: dict[str, Any], *, then: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """entry → p (award_points) → [then …] → done; a ``failed`` port goes to ``lost``."""
    node = {"id": "p", "kind": "award_points", "label": "生日积分", "config": config}
    nodes = [{"id": "entry", "kind": "entry"}, node, *(then or [])]
    nodes += [{"id": "done", "kind": "exit"}, {"id": "lost", "kind": "exit"}]
    edges = [("entry", "next", "p")]
    chain = ["p", *(n["id"] for n in then or [])]
    for a, b in zip(chain, [*chain[1:], "done"], strict=True):
        edges.append((a, "next", b))
    if config.get("on_failure") == "port":
        edges.append(("p", "failed", "lost"))
    else:
        nodes.pop()  # no failed port: "lost" would be unreachable
    return journey_doc(nodes, edges)


def _compile(doc: dict[str, Any]) -> ir.CompiledJourney:
    result = compile_document(doc, journey_id="jp", version=1, coupon_templates=TEMPLATES)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return result.journey


def _world(balance: int = 0, stock: int | None = None) -> SandboxWorld:
    return SandboxWorld(
        facts=CustomerFacts("C1", name="李女士", points_balance=balance),
        coupon_templates={
            "NEW20": CouponTemplateSpec("NEW20"),
            "VIP100": CouponTemplateSpec("VIP100", face_value=100, stock=stock),
        },
    )


async def _run(journey: ir.CompiledJourney, world: SandboxWorld) -> RunState:
    rt = SimulatedRuntime(world, START)
    state = new_state(
        customer_id="C1", enrollment_id="e", entered_at=START, entry_node_id=journey.entry_node_id
    )
    interp = Interpreter(journey, rt, workflow_id="wf-p", state=state)
    rt.interpreter = interp
    await interp.run()
    return interp.state


# --------------------------------------------------------------------------- compile


@pytest.mark.parametrize(
    ("points", "problem", "bound"),
    [(0, "greater_than_equal", {"ge": 1}), (-50, "greater_than_equal", {"ge": 1})]
    + [(MAX_POINTS_PER_STEP + 1, "less_than_equal", {"le": MAX_POINTS_PER_STEP})],
)
def test_points_below_one_or_over_the_per_step_maximum_are_diagnostics(
    points: int, problem: str, bound: dict[str, int]
) -> None:
    result = compile_document(_doc({"points": points}), coupon_templates=TEMPLATES)
    assert result.journey is None
    (diag,) = result.errors
    assert (diag.code, diag.node_ids) == (Code.INVALID_CONFIG, ("p",))
    assert "生日积分" in diag.message and str(points) in diag.message
    # the canvas marks the field and says the bound in the UI's language
    assert diag.params["errors"] == [{"loc": ["config", "points"], "type": problem, "ctx": bound}]


def test_the_maximum_itself_compiles() -> None:
    step = _compile(_doc({"points": MAX_POINTS_PER_STEP})).step("p")
    assert isinstance(step, AwardPointsStep) and step.points == MAX_POINTS_PER_STEP


def test_the_chains_own_maximum_replaces_the_default() -> None:
    """The compiler takes the chain's setting (its policy row, via validate_draft): the
    diagnostic names that limit; a lower award compiles; a higher ceiling lets more through."""
    result = compile_document(
        _doc({"points": 600}), coupon_templates=TEMPLATES, max_points_per_step=500
    )
    (diag,) = result.errors
    assert "more than the per-step maximum of 500" in diag.message
    assert diag.params["errors"][0]["ctx"] == {"le": 500}
    assert "Points per step" in diag.hint
    ok = compile_document(
        _doc({"points": 500}), coupon_templates=TEMPLATES, max_points_per_step=500
    )
    assert ok.journey is not None
    big = MAX_POINTS_PER_STEP * 10
    raised = compile_document(
        _doc({"points": big}), coupon_templates=TEMPLATES, max_points_per_step=big
    )
    assert raised.journey is not None and raised.journey.step("p").points == big  # type: ignore[union-attr]


def test_pack_templates_must_exist_and_not_repeat() -> None:
    doc = _doc({"points": 100, "coupon_template_ids": ["NEW20", "NEW2O", "NEW20"]})
    result = compile_document(doc, coupon_templates=TEMPLATES)
    codes = sorted(d.code for d in result.errors)
    assert codes == [Code.INVALID_CONFIG, Code.UNKNOWN_COUPON_TEMPLATE]
    unknown = next(d for d in result.errors if d.code is Code.UNKNOWN_COUPON_TEMPLATE)
    assert unknown.params["template"] == "NEW2O" and "NEW20" in unknown.hint


@pytest.mark.parametrize(
    "config",
    [
        {"points": 100, "expires_in_days": 0},
        {"points": 100, "coupon_template_ids": ["A", "B", "C", "D", "E", "F"]},
        {"points": 100, "reason": "x" * 33},
        {"points": "lots"},
    ],
)
def test_bad_expiry_pack_size_or_reason_are_config_diagnostics(config: dict[str, Any]) -> None:
    result = compile_document(_doc(config), coupon_templates=None)
    assert [(d.code, d.node_ids) for d in result.errors] == [(Code.INVALID_CONFIG, ("p",))]


# --------------------------------------------------------------------------- run


async def test_points_balance_and_pack_codes_reach_templates_and_branches() -> None:
    then = [
        {
            "id": "m",
            "kind": "send_message",
            "config": {
                "content": "+{{ ctx.p.points }} 积分，余额 {{ ctx.p.balance }}，券 "
                "{{ ctx.p.coupon_codes }}"
            },
        },
        {
            "id": "b",
            "kind": "branch",
            "config": {
                "rules": [
                    {
                        "id": "rich",
                        "conditions": [
                            {
                                "type": "context",
                                "node_id": "p",
                                "field": "balance",
                                "op": "gte",
                                "value": 1000,
                            }
                        ],
                    }
                ]
            },
        },
    ]
    doc = _doc(
        {"points": 200, "expires_in_days": 30, "coupon_template_ids": ["NEW20", "VIP100"]},
        then=then,
    )
    doc["nodes"].append({"id": "vip", "kind": "exit", "config": {"goal_reached": True}})
    doc["edges"] = [e for e in doc["edges"] if e["source"] != "b"]
    doc["edges"] += [
        {"id": "eb1", "source": "b", "source_port": "rich", "target": "vip"},
        {"id": "eb2", "source": "b", "source_port": "else", "target": "done"},
    ]
    journey = _compile(doc)
    world = _world(balance=900)
    state = await _run(journey, world)

    ctx = state.context["p"]
    assert (ctx["points"], ctx["balance"]) == (200, 1100)
    assert ctx["points_expire_at"] == "2026-04-01T02:00:00+00:00"
    codes = [c.code for c in world.coupons]
    assert len(codes) == 2 and ctx["coupon_codes"] == ", ".join(codes)
    assert [c["template_id"] for c in ctx["coupons"]] == ["NEW20", "VIP100"]
    assert world.facts.points_balance == 1100  # the world's ledger: later reads see it
    assert world.messages[0].rendered == f"+200 积分，余额 1100，券 {', '.join(codes)}"
    assert state.goal_reached  # ctx.p.balance >= 1000
    visit = next(t for t in state.trace if t.node_id == "p")
    assert visit.summary.startswith("+200 points · balance 1100 · expire 2026-04-01")
    assert_end_recorded(state, world)


async def test_a_branch_reading_points_of_another_kind_is_refused() -> None:
    doc = journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
            {
                "id": "b",
                "kind": "branch",
                "config": {
                    "rules": [
                        {
                            "id": "r",
                            "conditions": [
                                {"type": "context", "node_id": "c", "field": "points", "value": 1}
                            ],
                        }
                    ]
                },
            },
            {"id": "done", "kind": "exit"},
        ],
        [("entry", "next", "c"), ("c", "next", "b"), ("b", "r", "done"), ("b", "else", "done")],
    )
    result = compile_document(doc, coupon_templates=TEMPLATES)
    assert [d.code for d in result.errors] == [Code.CONTEXT_WRONG_KIND]


@pytest.mark.parametrize(("on_failure", "port"), [("continue", "next"), ("port", "failed")])
async def test_a_pack_coupon_out_of_stock_follows_on_failure_and_the_points_stay(
    on_failure: str, port: str
) -> None:
    doc = _doc(
        {"points": 300, "coupon_template_ids": ["NEW20", "VIP100"], "on_failure": on_failure}
    )
    world = _world(balance=50, stock=0)
    state = await _run(_compile(doc), world)
    visit = next(t for t in state.trace if t.node_id == "p")
    assert (visit.error, visit.port) == (COUPON_STOCK_EXHAUSTED, port)
    assert "300 points stay awarded (balance 350)" in visit.summary
    assert state.context["p"] == {"failed": True, "error": COUPON_STOCK_EXHAUSTED}
    assert world.facts.points_balance == 350
    assert [c.template_id for c in world.coupons] == ["NEW20"]
    assert_end_recorded(state, world)


async def test_an_injected_failure_awards_nothing() -> None:
    world = _world(balance=10)
    world.failures["award_points"] = "CustomerNotFound"
    state = await _run(_compile(_doc({"points": 5, "on_failure": "exit"})), world)
    assert (state.exit_reason, world.facts.points_balance) == ("failure_exit", 10)


async def test_the_same_visit_again_completes_the_pack_without_double_points() -> None:
    """The sandbox keeps exactly-once per key: a retry of a visit whose pack coupon was
    out of stock completes the pack after a restock and awards the points once."""
    world = _world(balance=0, stock=0)
    rt = SimulatedRuntime(world, START)
    ctx = EffectContext("wf/e/p/1", "wf", "jp", 1, "p", 1, "C1", START.isoformat())
    req = AwardPointsRequest(ctx, 100, None, ["NEW20", "VIP100"])
    with pytest.raises(EffectFailed):
        await rt.effect(AWARD_POINTS, req)
    world.coupon_templates["VIP100"].stock = 5  # restocked
    first = await rt.effect(AWARD_POINTS, req)
    again = await rt.effect(AWARD_POINTS, req)
    assert first == again and (first.points, first.balance) == (100, 100)
    assert [c.template_id for c in first.coupons] == ["NEW20", "VIP100"]
    assert world.facts.points_balance == 100 and len(world.coupons) == 2
    # the next visit is a new award
    later = AwardPointsRequest(
        EffectContext("wf/e/p/2", "wf", "jp", 1, "p", 2, "C1", START.isoformat()), 100
    )
    assert (await rt.effect(AWARD_POINTS, later)).balance == 200

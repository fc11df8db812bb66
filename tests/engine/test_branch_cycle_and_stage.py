"""Branch conditions on the customer's own purchase cycle (``metric``) and lifecycle stage:
evaluation, the compiler's findings, and that they are new IR classes (a published branch
on a profile field keeps reading what it read)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from audiences.lifecycle import STAGE_CHANGED_EVENT as audiences_event
from audiences.lifecycle import STAGES
from engine import ir_parts as ir
from engine.compiler import Code, Severity, compile_document
from engine.document_parts import LIFECYCLE_STAGES, STAGE_CHANGED_EVENT
from engine.effect_parts import CustomerFacts
from engine.semantics import condition_holds, condition_value
from engine.simulation import SandboxWorld, simulate
from tests.engine.sim import journey_doc

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_engine_knows_the_same_stages_as_the_metrics() -> None:
    assert LIFECYCLE_STAGES == STAGES


def _branch(conditions_by_rule: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rules = [{"id": rid, "conditions": conds} for rid, conds in conditions_by_rule.items()]
    ports = [*conditions_by_rule, "else"]
    return journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "b", "kind": "branch", "config": {"rules": rules}},
            *({"id": f"x_{p}", "kind": "exit"} for p in ports),
        ],
        [("entry", "next", "b"), *(("b", p, f"x_{p}") for p in ports)],
    )


RULES = {
    "decline": [{"type": "lifecycle_stage", "stages": ["decline"]}],
    "short": [
        {"type": "metric", "field": "purchase_interval_median_days", "op": "lte", "value": 30}
    ],
    "no_cycle": [{"type": "metric", "op": "not_exists"}],
}


@pytest.mark.parametrize(
    ("facts", "port"),
    [
        ({"lifecycle_stage": "decline", "purchase_interval_median_days": 20.0}, "decline"),
        ({"lifecycle_stage": "develop", "purchase_interval_median_days": 20.0}, "short"),
        ({"lifecycle_stage": "stable", "purchase_interval_median_days": 30.0}, "short"),
        ({"lifecycle_stage": "stable", "purchase_interval_median_days": 45.5}, "else"),
        ({"lifecycle_stage": "identify"}, "no_cycle"),
        ({"lifecycle_stage": None, "purchase_interval_median_days": 60.0}, "else"),
    ],
)
async def test_branch_on_cycle_and_stage(facts: dict[str, Any], port: str) -> None:
    result = compile_document(_branch(RULES), journey_id="j", version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    state = await simulate(
        result.journey, SandboxWorld(facts=CustomerFacts("C1", **facts)), start=NOW
    )
    b = state.trace[1]
    assert b.port == port
    assert b.inputs["lifecycle_stage"] == facts.get("lifecycle_stage")
    assert "purchase_interval_median_days" in b.inputs or port == "decline"


def test_conditions_lower_to_their_own_ir_classes() -> None:
    result = compile_document(_branch(RULES), journey_id="j", version=1)
    assert result.journey is not None
    step = result.journey.step("b")
    conds = [c for r in step.rules for c in r.conditions]  # type: ignore[attr-defined]
    assert conds == [
        ir.LifecycleStageCond(("decline",)),
        ir.MetricCond("purchase_interval_median_days", ir.Op.LTE, 30.0),
        ir.MetricCond("purchase_interval_median_days", ir.Op.NOT_EXISTS, None),
    ]
    # the codec round-trips them
    again = type(result.journey).from_dict(result.journey.to_dict())
    assert again.step("b") == step


def test_a_profile_field_of_that_name_still_reads_the_custom_attribute() -> None:
    """What published branches compiled to (AttributeCond) keeps its meaning."""
    facts = CustomerFacts("C1", lifecycle_stage="decline", attributes={"lifecycle_stage": "vip"})
    c = ir.AttributeCond("lifecycle_stage", ir.Op.EQ, "vip")
    assert condition_value(c, facts, {}) == ("lifecycle_stage", "vip")
    assert condition_holds(c, "vip")


def _diags(rules: dict[str, list[dict[str, Any]]]) -> list[Any]:
    return list(compile_document(_branch(rules), journey_id="j", version=1).diagnostics)


def test_unknown_stage_names_the_rule_and_the_fix() -> None:
    [d] = _diags({"r": [{"type": "lifecycle_stage", "stages": ["declined"]}]})
    assert d.code is Code.UNKNOWN_LIFECYCLE_STAGE and d.node_ids == ("b",)
    assert "'decline'" in d.hint and d.params == {"stage": "declined", "rule": "r"}


def test_a_stage_written_in_chinese_says_which_code_to_use() -> None:
    [d] = _diags({"r": [{"type": "lifecycle_stage", "stages": ["衰退期"]}]})
    assert d.code is Code.UNKNOWN_LIFECYCLE_STAGE and "'decline'" in d.hint


def test_a_comparison_without_a_number_is_refused() -> None:
    [d] = _diags({"r": [{"type": "metric", "op": "gte"}]})
    assert d.code is Code.INVALID_CONDITION and d.params["problem"] == "no_value"


@pytest.mark.parametrize(
    "cond",
    [
        {"type": "metric", "op": "in", "value": 3},
        {"type": "metric", "field": "points_balance", "value": 3},
        {"type": "metric", "value": -1},
        {"type": "lifecycle_stage", "stages": []},
    ],
)
def test_malformed_conditions_are_config_errors_on_the_branch(cond: dict[str, Any]) -> None:
    diags = _diags({"r": [cond]})
    assert [d.code for d in diags] == [Code.INVALID_CONFIG] and diags[0].node_ids == ("b",)


def test_profile_field_named_like_a_metric_warns_but_compiles() -> None:
    doc = _branch({"r": [{"type": "attribute", "field": "lifecycle_stage", "value": "decline"}]})
    result = compile_document(doc, journey_id="j", version=1)
    assert result.journey is not None
    [d] = result.diagnostics
    assert (d.code, d.severity) == (Code.METRIC_AS_ATTRIBUTE, Severity.WARNING)


def _stage_entry(filters: list[dict[str, Any]]) -> list[Any]:
    doc = journey_doc(
        [
            {
                "id": "entry",
                "kind": "entry",
                "config": {
                    "trigger": {
                        "type": "event",
                        "event_type": STAGE_CHANGED_EVENT,
                        "filters": filters,
                    }
                },
            },
            {"id": "done", "kind": "exit"},
        ],
        [("entry", "next", "done")],
    )
    return list(compile_document(doc, journey_id="j", version=1).diagnostics)


def test_stage_change_entry_filters_take_stages() -> None:
    assert STAGE_CHANGED_EVENT == audiences_event
    assert _stage_entry([{"field": "to", "op": "eq", "value": "decline"}]) == []
    assert _stage_entry([{"field": "from", "op": "in", "value": ["stable", "develop"]}]) == []
    [d] = _stage_entry([{"field": "to", "op": "eq", "value": "衰退"}])
    assert (d.code, d.node_ids, d.params["problem"]) == (
        Code.INVALID_FILTER,
        ("entry",),
        "unknown_stage",
    )
    [d] = _stage_entry([{"field": "to", "op": "in", "value": ["stable", "declined"]}])
    assert d.params["value"] == "declined" and "'decline'" in d.hint

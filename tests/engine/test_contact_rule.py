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


MESSAGE = {"kind": "send_message", "config": {"content": "hi"}}
COUPON = {"kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}}
TASK = {"kind": "assign_guide_task", "config": {"instructions": "call"}}
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

"""Compiler: invalid documents → every expected diagnostic, with the offending node ids."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from engine.compiler import MAX_NODES, Code, Severity, compile_document
from engine.document import journey_json_schema
from engine.ir import CompiledJourney

COUPONS = {"NEW20", "VIP100"}


def valid_doc() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "name": "新客二回",
        "nodes": [
            {
                "id": "entry",
                "kind": "entry",
                "config": {"trigger": {"type": "event", "event_type": "first_purchase"}},
            },
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
                    }
                },
            },
            {
                "id": "b",
                "kind": "branch",
                "config": {
                    "rules": [
                        {
                            "id": "redeemed",
                            "conditions": [
                                {"type": "context", "node_id": "c", "field": "redeemed"}
                            ],
                        }
                    ]
                },
            },
            {
                "id": "m",
                "kind": "send_message",
                "config": {"content": "{{ customer.name }}，您的券 {{ ctx.c.code }} 即将到期"},
            },
            {"id": "goal", "kind": "exit", "config": {"goal_reached": True}},
            {"id": "done", "kind": "exit"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "target": "c"},
            {"id": "e2", "source": "c", "target": "w"},
            {"id": "e3", "source": "w", "target": "b"},
            {"id": "e4", "source": "b", "source_port": "redeemed", "target": "goal"},
            {"id": "e5", "source": "b", "source_port": "else", "target": "m"},
            {"id": "e6", "source": "m", "target": "done"},
        ],
    }


def _node(doc: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in doc["nodes"] if n["id"] == node_id)


def test_valid_document_compiles_to_stable_frozen_ir() -> None:
    result = compile_document(valid_doc(), journey_id="j1", version=2, coupon_templates=COUPONS)
    assert result.ok, result.diagnostics
    assert result.diagnostics == []
    ir = result.journey
    assert ir is not None and ir.version == 2 and ir.entry_node_id == "entry"
    assert CompiledJourney.from_dict(json.loads(json.dumps(ir.to_dict()))) == ir
    moved = valid_doc()
    _node(moved, "c")["position"] = {"x": 999, "y": 1}
    again = compile_document(moved, coupon_templates=COUPONS).journey
    assert again is not None and again.content_hash == ir.content_hash
    with pytest.raises(AttributeError):
        ir.steps[0].node_id = "x"  # type: ignore[misc]


def _mutate(fn):
    doc = valid_doc()
    fn(doc)
    return doc


def _drop_entry(d):
    d["nodes"] = [n for n in d["nodes"] if n["id"] != "entry"]
    d["edges"] = [e for e in d["edges"] if e["source"] != "entry"]


def _split(weights):
    def f(d):
        _node(d, "b").update(
            kind="split",
            config={"variants": [{"id": f"v{i}", "weight": w} for i, w in enumerate(weights)]},
        )
        d["edges"] = [e for e in d["edges"] if e["source"] != "b"] + [
            {"id": f"s{i}", "source": "b", "source_port": f"v{i}", "target": "done"}
            for i in range(len(weights))
        ]

    return f


CASES: list[tuple[str, Any, set[Code], set[str]]] = [
    ("no entry", _drop_entry, {Code.NO_ENTRY}, set()),
    (
        "two entries",
        lambda d: d["nodes"].append({"id": "entry2", "kind": "entry"}),
        {Code.MULTIPLE_ENTRIES},
        {"entry", "entry2"},
    ),
    (
        "unreachable",
        lambda d: d["nodes"].append({"id": "lonely", "kind": "exit"}),
        {Code.UNREACHABLE_NODE},
        {"lonely"},
    ),
    (
        "edge to unknown node",
        lambda d: d["edges"].append(
            {"id": "bad", "source": "m", "source_port": "next", "target": "ghost"}
        ),
        {Code.EDGE_UNKNOWN_NODE},
        {"m"},
    ),
    (
        "edge from unknown port",
        lambda d: d["edges"].append(
            {"id": "bad", "source": "w", "source_port": "later", "target": "done"}
        ),
        {Code.EDGE_UNKNOWN_PORT},
        {"w"},
    ),
    (
        "duplicate edge on a port",
        lambda d: d["edges"].append({"id": "dup", "source": "m", "target": "goal"}),
        {Code.DUPLICATE_PORT_EDGE},
        {"m"},
    ),
    (
        "missing edge",
        lambda d: d.update(edges=[e for e in d["edges"] if e["id"] != "e5"]),
        {Code.MISSING_EDGE, Code.UNREACHABLE_NODE},
        {"b", "m"},
    ),
    (
        "edge into entry",
        lambda d: d["edges"].__setitem__(5, {"id": "e6", "source": "m", "target": "entry"}),
        {Code.EDGE_INTO_ENTRY, Code.UNREACHABLE_NODE},
        {"entry"},
    ),
    (
        "cycle without wait",
        lambda d: d["edges"].__setitem__(5, {"id": "e6", "source": "m", "target": "b"}),
        {Code.CYCLE_WITHOUT_WAIT, Code.UNREACHABLE_NODE},
        {"b", "m"},
    ),
    (
        "loop never exits",
        lambda d: (
            d["edges"].__setitem__(5, {"id": "e6", "source": "m", "target": "w"}),
            d["edges"].__setitem__(
                3, {"id": "e4", "source": "b", "source_port": "redeemed", "target": "w"}
            ),
        ),
        {Code.LOOP_WITHOUT_EXIT},
        {"w", "b", "m"},
    ),
    ("unknown kind", lambda d: _node(d, "m").update(kind="send_sms"), {Code.UNKNOWN_KIND}, {"m"}),
    (
        "negative wait",
        lambda d: _node(d, "w").update(
            config={"until": {"type": "duration", "duration": {"amount": -1, "unit": "days"}}}
        ),
        {Code.INVALID_CONFIG},
        {"w"},
    ),
    (
        "over-long wait",
        lambda d: _node(d, "w").update(
            config={"until": {"type": "duration", "duration": {"amount": 91, "unit": "days"}}}
        ),
        {Code.INVALID_WAIT},
        {"w"},
    ),
    (
        "empty rules",
        lambda d: _node(d, "b").update(config={"rules": []}),
        {Code.EMPTY_RULES, Code.EDGE_UNKNOWN_PORT},
        {"b"},
    ),
    (
        "rule without conditions",
        lambda d: _node(d, "b")["config"]["rules"][0].update(conditions=[]),
        {Code.EMPTY_RULE},
        {"b"},
    ),
    ("split weights", _split([30, 30]), {Code.SPLIT_WEIGHTS}, {"b"}),
    (
        "unknown coupon template",
        lambda d: _node(d, "c")["config"].update(coupon_template_id="NEW2O"),
        {Code.UNKNOWN_COUPON_TEMPLATE},
        {"c"},
    ),
    (
        "template syntax",
        lambda d: _node(d, "m")["config"].update(content="Hi {{ name"),
        {Code.TEMPLATE_SYNTAX},
        {"m"},
    ),
    (
        "context of the wrong kind",
        lambda d: _node(d, "w")["config"]["until"].update(node_id="m"),
        {Code.CONTEXT_WRONG_KIND},
        {"w"},
    ),
    (
        "context not upstream",
        lambda d: _node(d, "b")["config"]["rules"][0]["conditions"][0].update(node_id="ghost"),
        {Code.CONTEXT_NOT_UPSTREAM},
        {"b"},
    ),
    (
        "template refers downstream",
        lambda d: _node(d, "c").update(
            kind="send_message", config={"content": "{{ ctx.m.message_id }}"}
        ),
        {Code.CONTEXT_NOT_UPSTREAM},
        {"c"},
    ),
    (
        "unknown RFM class",
        lambda d: _node(d, "b")["config"]["rules"][0].update(
            conditions=[{"type": "rfm_class", "classes": ["重要价格"]}]
        ),
        {Code.UNKNOWN_RFM_CLASS},
        {"b"},
    ),
    (
        "webhook without url",
        lambda d: _node(d, "m")["config"].update(channel="webhook"),
        {Code.WEBHOOK_URL_REQUIRED},
        {"m"},
    ),
    (
        "bad window",
        lambda d: _node(d, "w")["config"].update(window={"start": "25:00", "end": "20:00"}),
        {Code.INVALID_WINDOW},
        {"w"},
    ),
    (
        "duplicate node id",
        lambda d: d["nodes"].append(copy.deepcopy(_node(d, "m"))),
        {Code.DUPLICATE_NODE_ID},
        {"m"},
    ),
]


@pytest.mark.parametrize("name,mutate,codes,node_ids", CASES, ids=[c[0] for c in CASES])
def test_invalid_documents(name: str, mutate: Any, codes: set[Code], node_ids: set[str]) -> None:
    result = compile_document(_mutate(mutate), coupon_templates=COUPONS)
    assert not result.ok
    found = {d.code for d in result.errors}
    assert codes <= found, [d.message for d in result.diagnostics]
    flagged = {n for d in result.diagnostics if d.code in codes for n in d.node_ids}
    assert node_ids <= flagged


def test_every_problem_is_reported_at_once() -> None:
    doc = valid_doc()
    _node(doc, "c")["config"]["coupon_template_id"] = "NOPE"
    _node(doc, "m")["config"]["content"] = "{% if %}"
    doc["nodes"].append({"id": "orphan", "kind": "wait"})
    result = compile_document(doc, coupon_templates=COUPONS)
    codes = {d.code for d in result.errors}
    assert {
        Code.UNKNOWN_COUPON_TEMPLATE,
        Code.TEMPLATE_SYNTAX,
        Code.UNREACHABLE_NODE,
        Code.MISSING_EDGE,
    } <= codes


def test_messages_name_the_offender_and_suggest_a_fix() -> None:
    doc = valid_doc()
    _node(doc, "c")["config"]["coupon_template_id"] = "NEW2O"
    (diag,) = compile_document(doc, coupon_templates=COUPONS).errors
    assert "NEW2O" in diag.message and "'NEW20'" in diag.hint and diag.node_ids == ("c",)


@pytest.mark.parametrize("raw", [b"{not json", "[]", 42, {"name": "x", "nodes": "nope"}])
def test_garbage_is_a_diagnostic_not_an_exception(raw: Any) -> None:
    result = compile_document(raw)
    assert not result.ok and result.errors[0].code is Code.INVALID_DOCUMENT


def test_size_limits() -> None:
    doc = valid_doc()
    doc["nodes"] += [{"id": f"n{i}", "kind": "exit"} for i in range(MAX_NODES)]
    assert compile_document(doc).errors[0].code is Code.TOO_MANY_NODES
    big = json.dumps({**valid_doc(), "description": "x" * 300_000})
    assert compile_document(big).errors[0].code is Code.TOO_LARGE


def test_context_on_only_some_paths_is_a_warning() -> None:
    doc = valid_doc()
    # the reminder also reachable without the coupon: entry → branch directly
    _node(doc, "entry")  # entry → c stays; add a split before c that can skip it
    doc["nodes"].append(
        {
            "id": "s",
            "kind": "split",
            "config": {"variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]},
        }
    )
    doc["edges"][0] = {"id": "e1", "source": "entry", "target": "s"}
    doc["edges"] += [
        {"id": "sa", "source": "s", "source_port": "a", "target": "c"},
        {"id": "sb", "source": "s", "source_port": "b", "target": "m"},
    ]
    result = compile_document(doc, coupon_templates=COUPONS)
    assert result.ok
    assert any(
        d.code is Code.CONTEXT_NOT_ON_EVERY_PATH and d.severity is Severity.WARNING
        for d in result.diagnostics
    )


def test_json_schema_describes_every_kind() -> None:
    schema = journey_json_schema()
    text = json.dumps(schema)
    for kind in ("entry", "wait_for_event", "assign_guide_task", "update_customer"):
        assert f'"{kind}"' in text


def test_documented_example_compiles() -> None:
    from pathlib import Path

    example = Path(__file__).parents[2] / "docs" / "examples" / "second-purchase.json"
    result = compile_document(example.read_bytes(), coupon_templates=COUPONS)
    assert result.ok, [d.message for d in result.diagnostics]
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("node_id", "field", "text", "placeholder", "fix"),
    [
        ("m", "content", "{name}您好", "{name}", "{{ customer.name }}"),
        ("m", "content", "券码 { coupon_code }", "{ coupon_code }", "{{ ctx.c.code }}"),
        ("m", "subject", "{store_name} 新品", "{store_name}", "{{ customer.store_name }}"),
        ("m", "content", "Hi {customer.name}", "{customer.name}", "{{ customer.name }}"),
        ("t", "instructions", "给{name}打电话", "{name}", "{{ customer.name }}"),
        ("t", "title", "回访 {nmae}", "{nmae}", "{{ customer.name }}"),
        ("m", "content", "{whatever}", "{whatever}", ""),
    ],
)
def test_single_brace_placeholders_are_a_warning_with_the_fix(
    node_id: str, field: str, text: str, placeholder: str, fix: str
) -> None:
    doc = valid_doc()
    # a guide task before the message: entry → c → w → b → (else) t → m → done
    doc["nodes"].append(
        {
            "id": "t",
            "kind": "assign_guide_task",
            "label": "导购回访",
            "config": {"instructions": "回访", "outcomes": ["done"]},
        }
    )
    doc["edges"][4] = {"id": "e5", "source": "b", "source_port": "else", "target": "t"}
    doc["edges"].append({"id": "e7", "source": "t", "source_port": "done", "target": "m"})
    doc["edges"].append({"id": "e8", "source": "t", "source_port": "expired", "target": "m"})
    _node(doc, "m")["label"] = "到期提醒"
    _node(doc, node_id)["config"][field] = text
    result = compile_document(doc, coupon_templates=COUPONS)
    assert result.ok  # a warning: the text is still sent
    (diag,) = [d for d in result.diagnostics if d.code is Code.SINGLE_BRACE_PLACEHOLDER]
    label = _node(doc, node_id)["label"]
    assert diag.severity is Severity.WARNING and diag.node_ids == (node_id,)
    assert f"'{label}'" in diag.message and placeholder in diag.message
    assert diag.params == {"field": field, "placeholder": placeholder, "fix": fix}
    if fix:
        assert fix in diag.message and fix in diag.hint


def test_double_braces_and_literal_braces_are_not_single_brace_placeholders() -> None:
    doc = valid_doc()
    _node(doc, "m")["config"]["content"] = (
        '{{ customer.name }} {% raw %}{{ x }}{% endraw %} {{ {"a": 1}["a"] }} {"json": 1} {1}'
    )
    result = compile_document(doc, coupon_templates=COUPONS)
    assert [d.code for d in result.diagnostics] == []


def test_task_title_is_checked_as_a_template() -> None:
    doc = valid_doc()
    doc["nodes"][4] = {
        "id": "m",
        "kind": "assign_guide_task",
        "config": {"title": "回访 {{ customer.name", "instructions": "x", "outcomes": []},
    }
    doc["edges"][5] = {"id": "e6", "source": "m", "source_port": "completed", "target": "done"}
    doc["edges"].append({"id": "e7", "source": "m", "source_port": "expired", "target": "done"})
    result = compile_document(doc, coupon_templates=COUPONS)
    assert [(d.code, d.params.get("field")) for d in result.errors] == [
        (Code.TEMPLATE_SYNTAX, "title")
    ]

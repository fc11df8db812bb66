"""Graph checks start from every entry: a document with two entries gets MULTIPLE_ENTRIES
and every other finding at once (it used to skip reachability and the context checks)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.compiler import Code, Severity, compile_document

COUPONS = {"NEW20"}


def _doc(entries: int, *, extra_nodes=(), extra_edges=()) -> dict[str, Any]:
    """entry … entryN → coupon → wait (3 days before its expiry) → message → exit."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "c",
            "kind": "send_coupon",
            "label": "发券",
            "config": {"coupon_template_id": "NEW20"},
        },
        {
            "id": "w",
            "kind": "wait",
            "label": "到期前3天",
            "config": {
                "until": {
                    "type": "context",
                    "node_id": "c",
                    "field": "expires_at",
                    "offset": {"amount": 3, "unit": "days"},
                }
            },
        },
        {"id": "m", "kind": "send_message", "label": "提醒", "config": {"content": "快到期了"}},
        {"id": "done", "kind": "exit"},
    ]
    edges = [("c", "next", "w"), ("w", "next", "m"), ("m", "next", "done")]
    for i in range(entries):
        eid = "entry" if i == 0 else f"entry{i + 1}"
        nodes.insert(i, {"id": eid, "kind": "entry", "label": f"入口{i + 1}"})
        edges.append((eid, "next", "c"))
    nodes += list(extra_nodes)
    edges += list(extra_edges)
    return {
        "name": "entries",
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


def _codes(doc: dict[str, Any]) -> dict[Code, set[str]]:
    found: dict[Code, set[str]] = {}
    for d in compile_document(doc, coupon_templates=COUPONS).diagnostics:
        found.setdefault(d.code, set()).update(d.node_ids)
    return found


@pytest.mark.parametrize("entries", [1, 2, 3])
def test_an_orphan_is_unreachable_however_many_entries(entries: int) -> None:
    doc = _doc(entries, extra_nodes=[{"id": "lonely", "kind": "exit", "label": "孤岛"}])
    result = compile_document(doc, coupon_templates=COUPONS)
    unreachable = [d for d in result.errors if d.code is Code.UNREACHABLE_NODE]
    assert [d.node_ids for d in unreachable] == [("lonely",)]
    assert "'孤岛'" in unreachable[0].message
    assert ("any entry" in unreachable[0].message) is (entries > 1)
    multiple = [d for d in result.errors if d.code is Code.MULTIPLE_ENTRIES]
    if entries > 1:
        (diag,) = multiple
        assert len(diag.node_ids) == entries and "'入口2'" in diag.message
    else:
        assert multiple == []


CASES: list[tuple[str, dict[str, Any], dict[Code, set[str]], set[Code]]] = [
    (
        "second entry joins the path",
        _doc(2),
        {Code.MULTIPLE_ENTRIES: {"entry", "entry2"}},
        {Code.UNREACHABLE_NODE, Code.MISSING_EDGE},
    ),
    (
        "second entry has a path of its own",
        _doc(
            2,
            extra_nodes=[
                {"id": "m2", "kind": "send_message", "config": {"content": "欢迎"}},
                {"id": "entry3", "kind": "entry"},
            ],
            extra_edges=[("entry3", "next", "m2"), ("m2", "next", "done")],
        ),
        {Code.MULTIPLE_ENTRIES: {"entry", "entry2", "entry3"}},
        {Code.UNREACHABLE_NODE},
    ),
    (
        "a step only a second entry's path would reach is still checked",
        _doc(
            2,
            extra_nodes=[{"id": "entry3", "kind": "entry"}, {"id": "w2", "kind": "wait"}],
            extra_edges=[("entry3", "next", "w2")],
        ),
        {Code.MULTIPLE_ENTRIES: {"entry", "entry2", "entry3"}, Code.MISSING_EDGE: {"w2"}},
        {Code.UNREACHABLE_NODE},
    ),
    (
        "an unconnected second entry is not unreachable, only unconnected",
        _doc(1, extra_nodes=[{"id": "entry2", "kind": "entry"}]),
        {Code.MULTIPLE_ENTRIES: {"entry", "entry2"}, Code.MISSING_EDGE: {"entry2"}},
        {Code.UNREACHABLE_NODE},
    ),
    (
        "a second entry skipping the coupon leaves the wait without its moment",
        _doc(
            1,
            extra_nodes=[{"id": "entry2", "kind": "entry"}],
            extra_edges=[("entry2", "next", "w")],
        ),
        {Code.MULTIPLE_ENTRIES: {"entry", "entry2"}, Code.CONTEXT_NOT_ON_EVERY_PATH: {"w", "c"}},
        {Code.UNREACHABLE_NODE},
    ),
    (
        "no entry: no unreachable noise",
        {**_doc(1), "nodes": _doc(1)["nodes"][1:]},
        {Code.NO_ENTRY: set()},
        {Code.UNREACHABLE_NODE},
    ),
]


@pytest.mark.parametrize("name,doc,expected,absent", CASES, ids=[c[0] for c in CASES])
def test_graph_checks_run_from_every_entry(
    name: str, doc: dict[str, Any], expected: dict[Code, set[str]], absent: set[Code]
) -> None:
    found = _codes(doc)
    for code, nodes in expected.items():
        assert code in found, (code, found)
        assert nodes <= found[code], (code, found[code])
    assert not absent & set(found), found


def test_context_warning_from_a_second_entry_is_a_warning() -> None:
    doc = _doc(
        1, extra_nodes=[{"id": "entry2", "kind": "entry"}], extra_edges=[("entry2", "next", "w")]
    )
    diags = compile_document(doc, coupon_templates=COUPONS).diagnostics
    (warning,) = [d for d in diags if d.code is Code.CONTEXT_NOT_ON_EVERY_PATH]
    assert warning.severity is Severity.WARNING and "'到期前3天'" in warning.message


def test_one_entry_compiles_clean() -> None:
    result = compile_document(_doc(1), coupon_templates=COUPONS)
    assert result.ok and result.diagnostics == []

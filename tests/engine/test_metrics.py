"""The customer-metric registry (engine.metrics): every metric reaches every layer from its
one entry — the branch's choices and values, the segment fields and their SQL columns, the
metrics table, the facts a run loads, the panel's and the catalogs' labels — so a metric
added half-way fails here."""

from __future__ import annotations

import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po

from audiences.compile import _COLUMNS
from audiences.fields import CONTACT_FIELDS, FIELDS, METRIC_FIELDS, Kind
from canvas_ui.forms import labels
from db.models.segments import CustomerMetrics
from engine.compiler import Code, compile_document
from engine.document_parts import MetricCondition
from engine.effect_parts import CustomerFacts
from engine.metrics import (
    METRICS,
    STORED_METRICS,
    Purchase,
    interval_median_days,
    metric_value,
    stored_values,
)
from engine.simulation import SandboxWorld, simulate
from tests.engine.sim import journey_doc

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
CATALOGS = Path(__file__).parents[2] / "canvas_ui" / "i18n"


def test_every_metric_is_a_branch_choice() -> None:
    field = MetricCondition.model_fields["field"].annotation
    assert typing.get_args(field) == tuple(METRICS)
    schema = MetricCondition.model_json_schema()
    assert schema["properties"]["field"]["enum"] == list(METRICS)


@pytest.mark.parametrize("metric", STORED_METRICS, ids=lambda m: m.name)
def test_a_stored_metric_has_its_column_segment_field_and_sql(metric: Any) -> None:
    assert metric.name in CustomerMetrics.model_fields, "add the column (and a migration)"
    spec = FIELDS[metric.name]
    assert spec.label == metric.label and spec.group == metric.group
    assert spec.kind is (Kind.COUNT if metric.unit == "count" else Kind.AMOUNT)
    assert metric.name in METRIC_FIELDS  # the segment compiler joins customer_metrics
    assert metric.name in _COLUMNS


LIVE = [m for m in METRICS.values() if not m.stored]


@pytest.mark.parametrize("metric", LIVE, ids=lambda m: m.name)
def test_a_live_metric_names_a_segment_field_of_its_own(metric: Any) -> None:
    assert metric.read is not None
    assert metric.segment_field in FIELDS
    assert metric.segment_field in CONTACT_FIELDS


def _translations(path: Path) -> dict[str, str]:
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f) if m.id}


@pytest.mark.parametrize("metric", METRICS.values(), ids=lambda m: m.name)
def test_every_label_is_in_the_catalogs_and_the_panel(metric: Any) -> None:
    pot = _translations(CATALOGS / "messages.pot")
    zh = _translations(CATALOGS / "zh_CN" / "LC_MESSAGES" / "messages.po")
    assert metric.label in pot
    assert zh.get(metric.label), f"no Chinese for {metric.label!r}"
    assert labels.CHOICES[metric.name] == metric.label
    assert metric.label in labels.METRIC_LABELS  # marked for pybabel extract


def test_stored_values_from_orders() -> None:
    t = datetime(2026, 1, 1, tzinfo=UTC)
    orders = [Purchase(t + timedelta(days=d), amount) for d, amount in ((0, 300), (40, 500))]
    orders.append(Purchase(t + timedelta(days=90), 1000.0))
    assert stored_values(orders) == {
        "purchase_interval_median_days": 45.0,  # gaps 40 50
        "purchases_count": 3,
        "avg_order_amount": 600.0,
    }
    # no orders: nothing to average, no cycle, no purchases
    assert stored_values(()) == {
        "purchase_interval_median_days": None,
        "purchases_count": 0,
        "avg_order_amount": None,
    }
    assert interval_median_days([o.at for o in orders]) == 45.0
    assert stored_values(orders[:1])["avg_order_amount"] == 300.0
    # to the cent, halves up (as SQL's ROUND, which filled the column for earlier orders)
    third = [Purchase(t, 100.0), Purchase(t, 100.0), Purchase(t, 100.01)]
    assert stored_values(third)["avg_order_amount"] == 100.0
    assert stored_values([Purchase(t, 1.125)])["avg_order_amount"] == 1.13
    assert stored_values([Purchase(t, 2.675)])["avg_order_amount"] == 2.68


def test_values_read_from_the_facts() -> None:
    facts = CustomerFacts(
        "C1",
        as_of="2026-12-01T00:00:00+00:00",
        purchase_interval_median_days=45.0,
        last_contacted_at="2026-11-20T09:00:00+00:00",
        contacts_7d=1,
        contacts_30d=3,
        metrics={"avg_order_amount": 850.5, "purchases_count": 4},
    )
    assert {name: metric_value(name, facts) for name in METRICS} == {
        "purchase_interval_median_days": 45.0,  # its own field, as recorded histories have
        "purchases_count": 4,
        "avg_order_amount": 850.5,
        "days_since_last_contact": 10,
        "contacts_7d": 1,
        "contacts_30d": 3,
    }
    # a customer with no metrics row yet: no purchases, no average
    bare = CustomerFacts("C2", as_of="2026-12-01T00:00:00+00:00")
    assert metric_value("purchases_count", bare) == 0
    assert metric_value("avg_order_amount", bare) is None
    assert metric_value("no_such_metric", bare) is None


def _branch(rules: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    ports = [*rules, "else"]
    return journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {
                "id": "b",
                "kind": "branch",
                "config": {"rules": [{"id": r, "conditions": c} for r, c in rules.items()]},
            },
            *({"id": f"x_{p}", "kind": "exit"} for p in ports),
        ],
        [("entry", "next", "b"), *(("b", p, f"x_{p}") for p in ports)],
    )


RULES = {
    "big_spender": [{"type": "metric", "field": "avg_order_amount", "op": "gte", "value": 800}],
    "second_purchase": [
        {"type": "metric", "field": "purchases_count", "op": "gte", "value": 2},
    ],
    "no_order": [{"type": "metric", "field": "avg_order_amount", "op": "not_exists"}],
}


@pytest.mark.parametrize(
    ("metrics", "port"),
    [
        ({"avg_order_amount": 800.0, "purchases_count": 1}, "big_spender"),
        ({"avg_order_amount": 799.99, "purchases_count": 2}, "second_purchase"),
        ({"avg_order_amount": 120.0, "purchases_count": 1}, "else"),
        ({}, "no_order"),  # no metrics row: no orders yet
    ],
)
async def test_a_branch_compares_a_stored_metric(metrics: dict[str, Any], port: str) -> None:
    result = compile_document(_branch(RULES), journey_id="j", version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    state = await simulate(
        result.journey, SandboxWorld(facts=CustomerFacts("C1", metrics=metrics)), start=NOW
    )
    step = state.trace[1]
    assert step.port == port
    assert step.inputs["avg_order_amount"] == metrics.get("avg_order_amount")


def test_a_comparison_without_a_number_names_the_metric_and_its_unit() -> None:
    doc = _branch({"big": [{"type": "metric", "field": "avg_order_amount", "op": "gte"}]})
    result = compile_document(doc, journey_id="j", version=1)
    [diag] = [d for d in result.diagnostics if d.code is Code.INVALID_CONDITION]
    assert "avg_order_amount" in diag.message
    assert diag.hint is not None and diag.hint.startswith("Enter the amount")
    assert diag.params["field"] == "avg_order_amount"


def test_an_attribute_named_like_a_metric_is_flagged() -> None:
    doc = _branch(
        {"a": [{"type": "attribute", "field": "avg_order_amount", "op": "gte", "value": "800"}]}
    )
    result = compile_document(doc, journey_id="j", version=1)
    assert Code.METRIC_AS_ATTRIBUTE in {d.code for d in result.diagnostics}


async def test_a_world_with_orders_reads_the_metrics_as_of_each_moment() -> None:
    """A backtest's world knows the recorded orders: a branch sees the purchases made up
    to its own moment, not the customer's facts as loaded at entry."""
    two = [{"type": "metric", "field": "purchases_count", "op": "gte", "value": 2}]
    wait = {"type": "duration", "duration": {"amount": 10, "unit": "days"}}
    document = journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "b1", "kind": "branch", "config": {"rules": [{"id": "two", "conditions": two}]}},
            {"id": "w", "kind": "wait", "config": {"until": wait}},
            {"id": "b2", "kind": "branch", "config": {"rules": [{"id": "two", "conditions": two}]}},
            {"id": "x", "kind": "exit"},
        ],
        [
            ("entry", "next", "b1"),
            ("b1", "two", "x"),
            ("b1", "else", "w"),
            ("w", "next", "b2"),
            ("b2", "two", "x"),
            ("b2", "else", "x"),
        ],
    )
    result = compile_document(document, journey_id="j", version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    orders = [
        Purchase(NOW - timedelta(days=30), 200.0),
        Purchase(NOW + timedelta(days=5), 600.0),  # after entry, before the second branch
        Purchase(NOW + timedelta(days=40), 900.0),  # after both: never seen
    ]
    world = SandboxWorld(facts=CustomerFacts("C1"), purchases=orders)
    state = await simulate(result.journey, world, start=NOW)
    ports = {t.node_id: (t.port, t.inputs.get("purchases_count")) for t in state.trace}
    assert ports["b1"] == ("else", 1)
    assert ports["b2"] == ("two", 2)

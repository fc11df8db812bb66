"""The placeholder picker offers only fields a template really gets, and only of steps that
run before the edited one; what it inserts renders to real values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from activities.rendering import customer_variables
from canvas_ui.diagnostics import node_labels
from canvas_ui.i18n import use_locale
from canvas_ui.kinds import KINDS as CANVAS_KINDS
from canvas_ui.placeholders import CUSTOMER_LABELS, placeholder_groups
from db.models import Customer, Guide, Region, Store
from engine.compiler import compile_document
from engine.compiler.templates import CUSTOMER_FIELDS
from engine.effects import CustomerFacts
from engine.kinds import KINDS as ENGINE_KINDS
from engine.simulation import CouponTemplateSpec, SandboxWorld, ScriptItem, simulate
from tests.canvas_ui.harness import create_journey, linear_document
from tests.engine.sim import journey_doc

START = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _document() -> dict:
    """entry → coupon → task → wait for a purchase → message → exit, and a coupon after
    the message (downstream: not offered)."""
    return journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {
                "id": "send-coupon-ab1",
                "kind": "send_coupon",
                "label": "新客券",
                "config": {"coupon_template_id": "NEW20"},
            },
            {
                "id": "task",
                "kind": "assign_guide_task",
                "label": "",
                "config": {"instructions": "回访", "outcomes": ["done"]},
            },
            {"id": "buy", "kind": "wait_for_event", "config": {"event_type": "purchase"}},
            {"id": "m", "kind": "send_message", "label": "提醒", "config": {"content": "x"}},
            {"id": "later", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
            {"id": "exit", "kind": "exit"},
        ],
        [
            ("entry", "next", "send-coupon-ab1"),
            ("send-coupon-ab1", "next", "task"),
            ("task", "done", "buy"),
            ("task", "expired", "buy"),
            ("buy", "matched", "m"),
            ("buy", "timeout", "m"),
            ("m", "next", "later"),
            ("later", "next", "exit"),
        ],
    )


def test_customer_fields_are_what_the_worker_provides() -> None:
    customer = Customer(id="C1", name="李娜", phone="13800001234", store_id="S1", guide_id="G1")
    provided = customer_variables(customer, Store(id="S1", name="徐汇店"), Guide(id="G1"))
    assert set(provided) == CUSTOMER_FIELDS
    assert set(CUSTOMER_LABELS) <= CUSTOMER_FIELDS


def test_step_fields_come_from_the_kind_registry() -> None:
    """A kind declares what its step records for texts (``SPEC.shown_fields``) and its
    canvas entry labels them: a label for a field the kind does not record fails here."""
    for kind, info in CANVAS_KINDS.items():
        recorded = {f.name for f in ENGINE_KINDS[kind].shown_fields}
        assert set(info.shown_labels) <= recorded, kind
    assert {k.value for k, info in CANVAS_KINDS.items() if info.shown_labels} == {
        "send_coupon",
        "assign_guide_task",
        "wait_for_event",
        "award_points",
    }


def test_groups_are_the_customer_and_upstream_steps_by_label() -> None:
    doc = _document()
    with use_locale("en"):
        groups = placeholder_groups(doc, "m", node_labels(doc))
    assert [g.label for g in groups] == [
        "Customer",
        "Step “Wait for event”",
        "Step “Guide task”",
        "Step “新客券”",
    ]
    assert ("{{ customer.name }}", "Name") in groups[0].items
    assert ('{{ ctx["send-coupon-ab1"].code }}', "Coupon code") in groups[3].items
    inserted = [value for g in groups for value, _ in g.items]
    assert not any("later" in v or "ctx.m." in v for v in inserted)
    # a step at the start has only the customer
    assert [g.label for g in placeholder_groups(doc, "send-coupon-ab1", {})] == ["客户"]


async def test_every_offered_step_value_renders_to_something() -> None:
    doc = _document()
    groups = placeholder_groups(doc, "m", node_labels(doc))
    values = [value for g in groups[1:] for value, _ in g.items]
    next(n for n in doc["nodes"] if n["id"] == "m")["config"]["content"] = "|".join(values)
    compiled = compile_document(doc, coupon_templates={"NEW20"})
    assert compiled.journey is not None, [d.message for d in compiled.diagnostics]
    assert [d.code for d in compiled.diagnostics] == []  # all upstream, none single-brace
    world = SandboxWorld(
        facts=CustomerFacts("C1", name="李女士", guide_id="G1"),
        coupon_templates={"NEW20": CouponTemplateSpec("NEW20")},
    )
    script = [
        ScriptItem(at=START + timedelta(hours=1), task_outcome="done"),
        ScriptItem(at=START + timedelta(hours=2), event_type="purchase"),
    ]
    await simulate(compiled.journey, world, start=START, script=script)
    (message,) = world.messages
    rendered = message.rendered.split("|")
    assert len(rendered) == len(values) and all(rendered), dict(zip(values, rendered, strict=True))
    assert rendered[values.index('{{ ctx["send-coupon-ab1"].expires_at[:10] }}')].count("-") == 2


def test_a_test_run_renders_the_customer_fields_the_picker_offers(
    client: TestClient, canvas_app: FastAPI
) -> None:
    with Session(canvas_app.state.engine) as session:
        for row in (
            Region(id="R1", name="华东"),
            Store(id="S1", region_id="R1", name="徐汇店", city="上海"),
            Guide(id="G9", store_id="S1", name="王导购"),
        ):
            session.add(row)
            session.flush()  # no relationships: the store must exist before its guide
        session.commit()
    doc = linear_document()
    doc["nodes"][2] = {
        "id": "m",
        "kind": "send_message",
        "config": {"content": "|".join(v for v, _ in placeholder_groups(doc, "m", {})[0].items)},
    }
    doc["edges"][1]["target"] = doc["edges"][2]["source"] = "m"
    jid = create_journey(client, doc)
    answer = client.post(
        f"/journeys/{jid}/test-run",
        json={"name": "李娜", "member_level": "silver", "guide_id": "G9"},
    )
    assert answer.status_code == 200, answer.text[:300]
    (message,) = answer.json()["messages"]
    shown = dict(zip(CUSTOMER_LABELS, message["text"].split("|"), strict=True))
    assert {k: shown[k] for k in ("name", "surname", "member_level_name")} == {
        "name": "李娜",
        "surname": "李",
        "member_level_name": "银卡",
    }
    assert (shown["store_name"], shown["city"], shown["guide_name"]) == ("徐汇店", "上海", "王导购")

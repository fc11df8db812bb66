"""A journey through every node kind, published in a test database, and ways to run it:
on the time-skipping server (a real workflow) or in the simulation (same interpreter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from db import crud
from db.models import JourneyCreate
from engine.compiler import compile_document
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn, RunState, TaskOutcome
from engine.simulation import ScriptItem, simulate
from tests.workflows.harness import COUPONS, default_world

KINDS = {
    "entry",
    "split",
    "update_customer",
    "branch",
    "send_coupon",
    "send_message",
    "wait",
    "wait_for_event",
    "assign_guide_task",
    "exit",
}


def every_kind_document() -> dict[str, Any]:
    """entry → split → tag → branch(RFM) → coupon → message → wait 1 day → wait for a
    purchase → guide task → goal exit."""
    nodes: list[dict[str, Any]] = [
        {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
        {
            "id": "ab",
            "kind": "split",
            "config": {"variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]},
        },
        {"id": "tag", "kind": "update_customer", "config": {"add_tags": ["旅程中"]}},
        {
            "id": "rfm",
            "kind": "branch",
            "label": "RFM 分层",
            "config": {
                "rules": [
                    {
                        "id": "vip",
                        "label": "重要客户",
                        "conditions": [{"type": "rfm_class", "classes": ["重要挽留", "重要价值"]}],
                    }
                ]
            },
        },
        {"id": "coupon", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {
            "id": "msg",
            "kind": "send_message",
            "config": {
                "channel": "wecom",
                "content": "{{ customer.name }} 送您券 {{ ctx.coupon.code }}",
            },
        },
        {
            "id": "wait",
            "kind": "wait",
            "label": "等待 1 天",
            "config": {"until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}},
        },
        {
            "id": "buy",
            "kind": "wait_for_event",
            "config": {"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
        },
        {
            "id": "call",
            "kind": "assign_guide_task",
            "config": {
                "task_type": "call",
                "instructions": "回访 {{ customer.name }}",
                "outcomes": ["interested", "declined"],
            },
        },
        {"id": "goal", "kind": "exit", "config": {"goal_reached": True}},
        {"id": "done", "kind": "exit"},
    ]
    for i, n in enumerate(nodes):
        n.setdefault("label", "")
        n["position"] = {"x": 40 + i * 270, "y": 80 if i % 2 else 220}
    edges = [
        ("entry", "next", "ab"),
        ("ab", "a", "tag"),
        ("ab", "b", "tag"),
        ("tag", "next", "rfm"),
        ("rfm", "vip", "coupon"),
        ("rfm", "else", "done"),
        ("coupon", "next", "msg"),
        ("msg", "next", "wait"),
        ("wait", "next", "buy"),
        ("buy", "matched", "call"),
        ("buy", "timeout", "done"),
        ("call", "interested", "goal"),
        ("call", "declined", "done"),
        ("call", "expired", "done"),
    ]
    return {
        "schema_version": 1,
        "name": "全节点旅程",
        "description": "",
        "settings": {},
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


def compile_every_kind(journey_id: str = "every-kind") -> CompiledJourney:
    result = compile_document(
        every_kind_document(), journey_id=journey_id, version=1, coupon_templates=set(COUPONS)
    )
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return result.journey


def publish_every_kind(session: Session) -> tuple[str, CompiledJourney]:
    """Create and publish the journey in the app's database; returns (journey id, IR)."""
    doc = every_kind_document()
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name=doc["name"], description="", draft_document=doc),
        by="hq",
    )
    compiled = compile_every_kind(journey.id)
    crud.publish_version(
        session=session,
        journey_id=journey.id,
        document=doc,
        compiled=compiled.to_dict(),
        content_hash=compiled.content_hash,
        by="hq",
    )
    return journey.id, compiled


def add_run(session: Session, journey_id: str, workflow_id: str, customer_id: str = "C1") -> None:
    crud.create_run(
        session=session,
        workflow_id=workflow_id,
        journey_id=journey_id,
        journey_version=1,
        customer_id=customer_id,
    )


async def simulated_state(journey: CompiledJourney) -> RunState:
    """The every-kind path in the simulation: purchase on day 2, task outcome on day 2."""
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    return await simulate(
        journey,
        default_world("C1"),
        start=start,
        script=[
            ScriptItem(
                start + timedelta(days=1, hours=5),
                event_type="purchase",
                properties={"amount": 300},
            ),
            ScriptItem(start + timedelta(days=1, hours=8), task_outcome="interested"),
        ],
    )


def purchase(at: datetime) -> CustomerEventIn:
    return CustomerEventIn("ev-buy", "purchase", at.isoformat(), {"amount": 300})


def outcome(task_id: str) -> TaskOutcome:
    return TaskOutcome(task_id, "interested", "下周到店", by="G1")

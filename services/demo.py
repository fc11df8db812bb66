"""Demo journeys for a fresh ``make run``: something live to look at on first start.

Idempotent (does nothing once any journey exists). Creates drafts from three built-in
templates, publishes 新客二回 and a small "VIP 到店邀约" journey, and enrolls a handful of the
demo guide's customers into the latter so the guide workbench, the task dashboards and the
run view have real, running data. Everything goes through the same services a marketer
uses (templates, publish, enroll), so the demo exercises the real paths.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session, col, select

from db import crud
from db.models import Customer, JourneyCreate
from services.journeys import enroll_customers, publish
from services.templates import instantiate
from services.temporal import TemporalGateway

DEMO_GUIDE = "G002"  # the ``guide`` demo login
DEMO_ENROLL = 12

VIP_INVITE: dict[str, Any] = {
    "schema_version": 1,
    "name": "VIP 到店邀约 · 演示",
    "description": "导购电话邀约 VIP 客户到店；有意向的客户送到店礼券，没接通的改发企微消息。",
    "settings": {"goal": {"event_type": "purchase"}},
    "nodes": [
        {"id": "entry", "kind": "entry", "label": "手动圈选 VIP", "position": {"x": 40, "y": 220}},
        {
            "id": "call",
            "kind": "assign_guide_task",
            "label": "导购电话邀约",
            "config": {
                "task_type": "call",
                "title": "邀约到店看新品",
                "instructions": "{{ customer.name }} 是{{ customer.member_level_name }}会员，"
                "请电话邀请本周到店看秋冬新品，可告知到店有礼。",
                "due_in": {"amount": 24, "unit": "hours"},
                "outcomes": ["interested", "not_reached", "declined"],
            },
            "position": {"x": 330, "y": 220},
        },
        {
            "id": "gift",
            "kind": "send_coupon",
            "label": "到店礼券",
            "config": {"coupon_template_id": "MEMBERDAY15"},
            "position": {"x": 640, "y": 60},
        },
        {
            "id": "wecom",
            "kind": "send_message",
            "label": "企微邀约",
            "config": {
                "channel": "wecom",
                "content": "{{ customer.name }}您好，秋冬新品已到店，本周到店有礼，期待您来！",
            },
            "position": {"x": 640, "y": 380},
        },
        {
            "id": "wait_visit",
            "kind": "wait_for_event",
            "label": "等待到店 7 天",
            "config": {"event_type": "store_visit", "timeout": {"amount": 7, "unit": "days"}},
            "position": {"x": 950, "y": 220},
        },
        {
            "id": "visited",
            "kind": "exit",
            "label": "已到店",
            "config": {"goal_reached": True},
            "position": {"x": 1260, "y": 60},
        },
        {"id": "done", "kind": "exit", "label": "结束", "position": {"x": 1260, "y": 380}},
    ],
    "edges": [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "call"},
        {"id": "e2", "source": "call", "source_port": "interested", "target": "gift"},
        {"id": "e3", "source": "call", "source_port": "not_reached", "target": "wecom"},
        {"id": "e4", "source": "call", "source_port": "declined", "target": "done"},
        {"id": "e5", "source": "call", "source_port": "expired", "target": "wecom"},
        {"id": "e6", "source": "gift", "source_port": "next", "target": "wait_visit"},
        {"id": "e7", "source": "wecom", "source_port": "next", "target": "wait_visit"},
        {"id": "e8", "source": "wait_visit", "source_port": "matched", "target": "visited"},
        {"id": "e9", "source": "wait_visit", "source_port": "timeout", "target": "done"},
    ],
}


@dataclass
class DemoSummary:
    created: list[str] = field(default_factory=list)
    enrolled: int = 0


async def ensure_demo_journeys(*, session: Session, temporal: TemporalGateway) -> DemoSummary:
    """Create and start the demo journeys once (when the database has no journey yet)."""
    summary = DemoSummary()
    if crud.list_journeys(session=session, limit=1):
        return summary
    for template_id in ("second_purchase", "lead_activation", "dormant_wakeup"):
        journey = instantiate(session=session, template_id=template_id, params=None, by="hq")
        summary.created.append(journey.name)
    second = crud.list_journeys(session=session, search="新客二回", limit=1)
    if second:
        publish(session=session, journey_id=second[0].id, by="hq")
    invite = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(
            name=VIP_INVITE["name"],
            description=VIP_INVITE["description"],
            draft_document=VIP_INVITE,
        ),
        by="hq",
    )
    summary.created.append(invite.name)
    outcome = publish(session=session, journey_id=invite.id, by="hq")
    if outcome.version is None:  # a demo that does not compile is a bug: say so loudly
        raise RuntimeError(f"demo journey does not compile: {outcome.diagnostics}")
    customers = session.exec(
        select(Customer.id)
        .where(Customer.guide_id == DEMO_GUIDE)
        .order_by(col(Customer.m_amount).desc())
        .limit(DEMO_ENROLL)
    ).all()
    result = await enroll_customers(
        session=session, temporal=temporal, journey_id=invite.id, customer_ids=list(customers)
    )
    summary.enrolled = result.started
    return summary

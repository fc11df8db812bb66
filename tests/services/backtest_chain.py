"""A small recorded chain for the backtest (issue 17 item 1), numbers worked out by hand.

v1 (live): entry → wait for a store visit (3 days) → matched: coupon BT20 → SMS → exit;
timeout: a call task for the bound guide (outcome "reached", expires 48 h after) → exit.
The draft: the wait is 5 days and the coupon BT30. History ends at T0 + 8 days.

=====  ==========  ====================  ======================  =====================
who    entered     did                   v1                      draft
=====  ==========  ====================  ======================  =====================
A      T0          store visit day 4,    timeout day 3 → task    matched day 4 → ¥30,
                   order ¥150 day 4      (03-05) → expired       SMS (03-06)
B      T0 + 1 d    store visit day 2     matched → ¥20, SMS      matched → ¥30, SMS
                                         (03-04)                 (03-04)
C      T0 + 2 d    nothing               timeout day 5 → task    timeout day 7 → task
                                         (03-07) → expired d 7   (03-09), waits past
                                                                 history (cut at t)
=====  ==========  ====================  ======================  =====================
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from db import crud
from db.models import (
    CouponTemplate,
    Customer,
    CustomerEvent,
    Guide,
    JourneyCreate,
    JourneyRun,
    Order,
    Region,
    Store,
)

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HORIZON = T0 + 8 * DAY

V1: dict[str, Any] = {
    "name": "到店礼",
    "settings": {},
    "nodes": [
        {"id": "entry", "kind": "entry", "label": "入会"},
        {
            "id": "wfe",
            "kind": "wait_for_event",
            "label": "等到店",
            "config": {"event_type": "store_visit", "timeout": {"amount": 3, "unit": "days"}},
        },
        {
            "id": "c",
            "kind": "send_coupon",
            "label": "发券",
            "config": {"coupon_template_id": "BT20"},
        },
        {"id": "m", "kind": "send_message", "label": "短信", "config": {"content": "券已到账"}},
        {
            "id": "t",
            "kind": "assign_guide_task",
            "label": "导购回访",
            "config": {"instructions": "打个电话", "outcomes": ["reached"]},
        },
        {"id": "x", "kind": "exit", "label": "结束"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "source_port": "next", "target": "wfe"},
        {"id": "2", "source": "wfe", "source_port": "matched", "target": "c"},
        {"id": "3", "source": "c", "source_port": "next", "target": "m"},
        {"id": "4", "source": "m", "source_port": "next", "target": "x"},
        {"id": "5", "source": "wfe", "source_port": "timeout", "target": "t"},
        {"id": "6", "source": "t", "source_port": "reached", "target": "x"},
        {"id": "7", "source": "t", "source_port": "expired", "target": "x"},
    ],
}


def draft() -> dict[str, Any]:
    """v1 with a 5-day wait and the ¥30 coupon."""
    doc = copy.deepcopy(V1)
    doc["nodes"][1]["config"]["timeout"]["amount"] = 5
    doc["nodes"][2]["config"]["coupon_template_id"] = "BT30"
    return doc


def seed(session: Session, *, draft_document: dict[str, Any] | None = None) -> str:
    """The chain, the journey (v1 live; the draft as given) and the recorded history."""
    session.merge(Region(id="R1", name="华东"))
    session.flush()
    session.merge(Store(id="S1", region_id="R1", name="一店", city="上海"))
    session.flush()
    session.merge(Guide(id="G1", store_id="S1", name="王导购", daily_capacity=1))
    session.flush()
    session.merge(CouponTemplate(id="BT20", name="二十", face_value=20))
    session.merge(CouponTemplate(id="BT30", name="三十", face_value=30))
    for cid in ("A", "B", "C"):
        session.merge(Customer(id=cid, name=f"客户{cid}", store_id="S1", guide_id="G1"))
    session.flush()
    journey = crud.create_journey(
        session=session, journey_create=JourneyCreate(name="到店礼", draft_document=V1), by="hq"
    )
    crud.publish_version(
        session=session,
        journey_id=journey.id,
        document=V1,
        compiled={},
        content_hash="v1",
        by="hq",
    )
    journey.live_version = 1
    journey.status = "live"
    journey.draft_document = draft_document if draft_document is not None else draft()
    session.add(journey)
    for cid, offset in (("A", 0), ("B", 1), ("C", 2)):
        session.add(
            JourneyRun(
                workflow_id=f"wf-{cid}",
                journey_id=journey.id,
                journey_version=1,
                customer_id=cid,
                entered_at=T0 + offset * DAY,
            )
        )
    for n, (cid, day) in enumerate((("A", 4), ("B", 2))):
        session.add(
            CustomerEvent(
                event_id=f"ev{n}",
                customer_id=cid,
                type="store_visit",
                properties={},
                occurred_at=T0 + day * DAY,
            )
        )
    session.add(Order(customer_id="A", store_id="S1", amount=150, created_at=T0 + 4 * DAY))
    session.commit()
    return journey.id

"""A hand-made shop of four customers (A–D) whose every fact is written down, so each
segment rule's expected audience can be worked out by reading this file."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert
from sqlmodel import Session

from audiences.metrics import rebuild_metrics
from db.models import (
    CouponTemplate,
    Customer,
    CustomerEvent,
    Guide,
    IssuedCoupon,
    Order,
    Region,
    Store,
)

#: Tuesday 2025-06-30 20:00 in Shanghai: "this month" is June, "next month" July.
NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


CUSTOMERS = [
    # id, level, gender, store, guide, tags, birthday, attributes, created, first, last,
    # rfm class, F, M, L
    (
        "A",
        "gold",
        "F",
        "S1",
        "G1",
        ["vip", "企业微信好友"],
        date(1990, 6, 15),
        {"source": "小程序"},
        ago(400),
        ago(40),
        ago(5),
        "重要价值",
        3,
        1200.0,
        35,
    ),
    (
        "B",
        "regular",
        "M",
        "S2",
        None,
        [],
        date(1985, 7, 1),
        {"source": "门店"},
        ago(200),
        ago(100),
        ago(100),
        "一般挽留",
        1,
        100.0,
        0,
    ),
    ("C", "silver", "", None, None, ["vip"], None, {}, ago(3), None, None, None, 0, 0.0, None),
    (
        "D",
        "diamond",
        "F",
        "S1",
        "G2",
        ["企业微信好友", "宝宝1岁"],
        date(2000, 12, 31),
        {"source": "企业微信 群"},
        ago(500),
        ago(300),
        ago(90),
        "重要保持",
        4,
        3000.0,
        210,
    ),
]

ORDERS = {"A": [5, 20, 40], "B": [100], "D": [90, 150, 200, 300]}
EVENTS = [
    ("A", "browse", 1),
    ("A", "browse", 2),
    ("A", "browse", 10),
    ("C", "browse", 3),
    ("C", "browse", 4),
    ("D", "store_visit", 20),
    ("B", "browse", 30),
]


def build_shop(session: Session) -> Session:
    session.add_all([Region(id="R1", name="华东"), Region(id="R2", name="华南")])
    session.add_all(
        [
            Store(id="S1", region_id="R1", name="一店", city="上海"),
            Store(id="S2", region_id="R2", name="二店", city="广州"),
        ]
    )
    session.commit()
    session.add_all(
        [
            Guide(id="G1", store_id="S1", name="小王"),
            Guide(id="G2", store_id="S1", name="小李"),
        ]
    )
    session.add_all(
        [
            CouponTemplate(id="NEW20", name="新客券", face_value=20),
            CouponTemplate(id="WAKE30", name="唤醒券", face_value=30),
        ]
    )
    session.commit()
    session.execute(
        insert(Customer),
        [
            {
                "id": cid,
                "name": f"客户{cid}",
                "member_level": level,
                "gender": gender,
                "store_id": store,
                "guide_id": guide,
                "tags": tags,
                "birthday": birthday,
                "attributes": attrs,
                "created_at": created,
                "first_purchase_at": first,
                "last_purchase_at": last,
                "rfm_class": cls,
                "f_count": f,
                "m_amount": m,
                "l_days": lifetime,
                "r_days": (NOW - last).days if last else None,
            }
            for (
                cid,
                level,
                gender,
                store,
                guide,
                tags,
                birthday,
                attrs,
                created,
                first,
                last,
                cls,
                f,
                m,
                lifetime,
            ) in CUSTOMERS
        ],
    )
    session.execute(
        insert(Order),
        [
            {"customer_id": cid, "amount": 100.0, "created_at": ago(d)}
            for cid, days in ORDERS.items()
            for d in days
        ],
    )
    session.execute(
        insert(CustomerEvent),
        [
            {
                "event_id": f"{cid}-{t}-{d}",
                "customer_id": cid,
                "type": t,
                "properties": {},
                "occurred_at": ago(d),
            }
            for cid, t, d in EVENTS
        ],
    )
    session.execute(
        insert(IssuedCoupon),
        [
            _coupon("k1", "NEW20", "A", issued=ago(28), expires=NOW + timedelta(days=2)),
            _coupon(
                "k2",
                "WAKE30",
                "B",
                issued=ago(10),
                expires=NOW + timedelta(days=4),
                redeemed=ago(3),
            ),
            _coupon("k3", "NEW20", "D", issued=ago(31), expires=ago(1)),
        ],
    )
    session.commit()
    rebuild_metrics(session=session, now=NOW)
    return session


def _coupon(
    key: str,
    template: str,
    cid: str,
    *,
    issued: datetime,
    expires: datetime,
    redeemed: datetime | None = None,
) -> dict[str, object]:
    return {
        "id": key,
        "code": f"CODE-{key}",
        "template_id": template,
        "customer_id": cid,
        "idempotency_key": key,
        "issued_at": issued,
        "expires_at": expires,
        "redeemed_at": redeemed,
    }


@pytest.fixture
def shop(session: Session) -> Session:
    return build_shop(session)

"""RFM against a hand-computed fixture.

As of NOW, period 365 days. Customers with an order in the period (A B C D G H I J):
R = [5, 10, 200, 150, 30, 100, 1, 3]  → sorted 1 3 5 10 | 30 100 150 200 → median 20
F = [3, 1, 3, 1, 2, 2, 1, 2]          → sorted 1 1 1 2 | 2 2 3 3 → median 2
M = [1200, 100, 1800, 1000, 110, 170, 2000, 300] → 100 110 170 300 | 1000 ... → median 650
recent ⇔ R < 20; high F ⇔ F ≥ 2; high M ⇔ M ≥ 650.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select
from sqlmodel import Session, col

from db import crud
from db.crud._util import aware
from db.models import Customer, Order, Region, Store
from db.rfm import (
    DEFAULT_PERIOD_DAYS,
    recompute_all,
    rescore_customer,
    score_customers,
    score_orders,
)
from engine.metrics import Purchase

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)

ORDERS = {  # customer → [(days ago, amount)]
    "A": [(5, 300), (20, 400), (40, 500)],
    "B": [(10, 100)],
    "C": [(200, 600), (250, 700), (300, 500)],
    "D": [(150, 1000)],
    "E": [(400, 200)],  # outside the period: F = 0, M = 0
    "F": [],  # never bought
    "G": [(30, 50), (60, 60)],
    "H": [(100, 80), (120, 90)],
    "I": [(1, 2000)],
    "J": [(3, 150), (8, 150)],
}

EXPECTED = {  # written by hand from the table in the module docstring
    "A": ("重要价值", 5, 3, 1200.0, 35),  # recent, F 3 ≥ 2, M 1200 ≥ 650
    "B": ("一般发展", 10, 1, 100.0, 0),  # recent, low, low
    "C": ("重要保持", 200, 3, 1800.0, 100),  # long ago, high, high
    "D": ("重要挽留", 150, 1, 1000.0, 0),  # long ago, low, high
    "E": ("一般挽留", 400, 0, 0.0, 0),  # long ago, nothing this period
    "F": (None, None, 0, 0.0, None),
    "G": ("一般保持", 30, 2, 110.0, 30),  # 30 is not < 20
    "H": ("一般保持", 100, 2, 170.0, 20),
    "I": ("重要发展", 1, 1, 2000.0, 0),  # recent, low F, high M
    "J": ("一般价值", 3, 2, 300.0, 5),  # recent, high F, low M
}


@pytest.fixture
def scored(session: Session) -> Session:
    session.add(Region(id="R1", name="华东"))
    session.add(Store(id="S1", region_id="R1", name="店", city="上海"))
    session.commit()
    session.execute(insert(Customer), [{"id": cid, "name": cid} for cid in ORDERS])
    session.execute(
        insert(Order),
        [
            {"customer_id": cid, "amount": float(amount), "created_at": NOW - timedelta(days=d)}
            for cid, orders in ORDERS.items()
            for d, amount in orders
        ],
    )
    session.commit()
    return session


def test_full_recompute_matches_hand_computed_classes(scored: Session) -> None:
    baseline = recompute_all(session=scored, now=NOW)
    assert (baseline.median_r, baseline.median_f, baseline.median_m) == (20.0, 2.0, 650.0)
    assert baseline.customers_scored == 9
    scored.expire_all()
    for cid, (cls, r, f, m, lifetime) in EXPECTED.items():
        c = crud.get_customer(session=scored, customer_id=cid)
        assert c is not None
        assert (c.rfm_class, c.r_days, c.f_count, c.m_amount, c.l_days) == (
            cls,
            r,
            f,
            m,
            lifetime,
        ), cid
    assert {c for c, *_ in EXPECTED.values() if c} == {
        "重要价值",
        "重要发展",
        "重要保持",
        "重要挽留",
        "一般价值",
        "一般发展",
        "一般保持",
        "一般挽留",
    }


def test_incremental_rescore_uses_the_stored_medians(scored: Session) -> None:
    recompute_all(session=scored, now=NOW)
    scored.execute(
        insert(Order),
        [{"customer_id": "B", "amount": 900.0, "created_at": NOW - timedelta(days=1)}],
    )
    scored.commit()
    # B: R 1, F 2, M 1000 against medians (20, 2, 650) → recent, high, high.
    assert rescore_customer(session=scored, customer_id="B", now=NOW) == "重要价值"
    a = crud.get_customer(session=scored, customer_id="A")
    assert a is not None and a.rfm_class == "重要价值"  # others untouched
    assert rescore_customer(session=scored, customer_id="F", now=NOW) is None


def test_scoring_orders_already_read_matches_the_sql(session: Session) -> None:
    """``score_orders`` (a purchase's refresh scores the orders it has read anyway) gives
    :func:`score_customers`' figures, on random orders with the edges the query draws: an
    order exactly at ``now`` counts, one a second later does not, one exactly at the
    period's start is outside it, amounts with cents."""
    rng = random.Random(15)
    session.add(Region(id="R1", name="华东"))
    session.commit()
    since = NOW - timedelta(days=DEFAULT_PERIOD_DAYS)
    edges = [NOW, NOW + timedelta(seconds=1), since, since + timedelta(microseconds=1)]
    customers = [f"P{i:03d}" for i in range(60)]
    session.execute(insert(Customer), [{"id": cid, "name": cid} for cid in customers])
    rows = []
    for cid in customers:
        for _ in range(rng.randint(0, 6)):
            at = (
                rng.choice(edges)
                if rng.random() < 0.2
                else NOW - timedelta(seconds=rng.randint(-86_400, 800 * 86_400))
            )
            rows.append(
                {"customer_id": cid, "amount": rng.randint(1, 500_000) / 100, "created_at": at}
            )
    session.execute(insert(Order), rows)
    session.commit()
    by_sql = {s.customer_id: s for s in score_customers(session=session, now=NOW)}
    for cid in customers:
        read = [
            Purchase(aware(at) or NOW, amount)  # as refresh_purchases reads them
            for at, amount in session.execute(
                select(col(Order.created_at), col(Order.amount)).where(
                    col(Order.customer_id) == cid
                )
            )
        ]
        assert score_orders(cid, read, now=NOW) == by_sql.get(cid), cid

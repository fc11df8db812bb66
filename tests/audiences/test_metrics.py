"""Customer metrics on the hand-computed RFM fixture of tests/db/test_rfm.py: the full
recompute agrees with it and fills customer_metrics; events and orders move one customer
incrementally against the stored medians; a replayed purchase does not count twice."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session

from audiences import metrics
from db import crud
from db.models import CustomerMetrics
from tests.db.test_rfm import EXPECTED, NOW, ORDERS, scored  # noqa: F401  (fixture)


def test_full_recompute_scores_like_the_hand_computed_fixture(scored: Session) -> None:  # noqa: F811
    summary = metrics.recompute(session=scored, now=NOW)
    assert summary.medians == (20.0, 2.0, 650.0) and summary.period_days == 365
    assert summary.metrics_rows == len(ORDERS)
    scored.expire_all()
    for cid, (cls, *_rest) in EXPECTED.items():
        customer = crud.get_customer(session=scored, customer_id=cid)
        row = scored.get(CustomerMetrics, cid)
        assert customer is not None and row is not None
        assert customer.rfm_class == cls, cid
        assert row.purchases_count == len(ORDERS[cid]), cid


def test_events_move_one_customer_against_the_stored_medians(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    at = NOW - timedelta(days=1)
    # B: R 1, F 2, M 1000 against medians (20, 2, 650) → recent, high, high.
    for _ in range(2):  # the producer retries: the second one carries a known order id
        metrics.on_event(
            session=scored,
            customer_id="B",
            event_type="purchase",
            occurred_at=at,
            properties={"amount": 900, "order_id": _last_order_id(scored, "B")},
            now=NOW,
        )
    metrics.on_event(
        session=scored,
        customer_id="F",
        event_type="browse",
        occurred_at=at,
        properties={},
        now=NOW,
    )
    metrics.on_event(
        session=scored,
        customer_id="F",
        event_type="browse",
        occurred_at=at - timedelta(days=3),
        properties={},
        now=NOW,
    )
    scored.expire_all()
    b = crud.get_customer(session=scored, customer_id="B")
    assert b is not None and (b.rfm_class, b.f_count, b.m_amount) == ("重要价值", 2, 1000.0)
    assert scored.get(CustomerMetrics, "B").purchases_count == 2  # type: ignore[union-attr]
    a = crud.get_customer(session=scored, customer_id="A")
    assert a is not None and a.rfm_class == "重要价值"  # others untouched
    f_row = scored.get(CustomerMetrics, "F")
    assert f_row is not None and f_row.last_browse_at == at


def _last_order_id(session: Session, customer_id: str) -> int | None:
    """Before the first purchase event: an unknown id (→ an order is created); after it,
    that order's id (→ the replay is recognised)."""
    orders = crud.list_orders(session=session, customer_id=customer_id)
    newest = orders[0] if orders else None
    if newest is None or newest.created_at < NOW - timedelta(days=2):
        return 10_000
    return newest.id

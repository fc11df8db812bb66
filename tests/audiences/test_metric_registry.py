"""The stored customer metrics of engine.metrics in the database (SQLite and PostgreSQL), on
the hand-computed order fixture of tests/db/test_rfm.py: the full rebuild and a purchase's
refresh store what the registry computes, segments filter on the columns, a run's facts
carry them, and migration 0028 fills the new column from orders recorded before it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from activities.facts import load_facts
from audiences import metrics
from audiences.query import matches
from audiences.validate import parse_definition
from db.migrate import upgrade
from db.models import Customer, CustomerMetrics, Order
from db.session import make_engine
from engine.effect_parts import FactsRequest
from engine.metrics import STORED_METRICS, Purchase, stored_values
from tests.db.test_rfm import NOW, ORDERS, scored  # noqa: F401  (fixture)

#: By hand from ORDERS: the mean of each customer's order amounts.
AVERAGES = {
    "A": 400.0,  # 300 400 500
    "B": 100.0,
    "C": 600.0,  # 600 700 500
    "D": 1000.0,
    "E": 200.0,
    "F": None,  # never bought
    "G": 55.0,
    "H": 85.0,
    "I": 2000.0,
    "J": 150.0,
}


def _expected(cid: str) -> dict[str, Any]:
    orders = [Purchase(NOW - timedelta(days=d), float(amount)) for d, amount in ORDERS[cid]]
    return stored_values(sorted(orders, key=lambda p: p.at))


def _stored(session: Session, cid: str) -> dict[str, Any]:
    row = session.get(CustomerMetrics, cid)
    assert row is not None, cid
    return {m.name: getattr(row, m.name) for m in STORED_METRICS}


def test_rebuild_stores_every_registry_metric(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    scored.expire_all()
    for cid, average in AVERAGES.items():
        stored = _stored(scored, cid)
        assert stored == _expected(cid), cid
        assert stored["avg_order_amount"] == average, cid


def test_a_purchase_refreshes_them_as_the_rebuild_would(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    metrics.on_event(
        session=scored,
        customer_id="B",
        event_type="purchase",
        occurred_at=NOW - timedelta(hours=1),
        properties={"amount": 700},
        now=NOW,
    )
    scored.expire_all()
    after_event = _stored(scored, "B")
    assert after_event["avg_order_amount"] == 400.0  # (100 + 700) / 2
    assert after_event["purchases_count"] == 2
    metrics.recompute(session=scored, now=NOW)
    scored.expire_all()
    assert _stored(scored, "B") == after_event


def _segment(session: Session, rule: dict[str, Any], ids: list[str]) -> set[str]:
    definition = parse_definition({"match": "all", "rules": [{"type": "field", **rule}]})
    return set(matches(session, definition, ids, now=NOW))


def test_segments_filter_on_the_stored_columns(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    ids = sorted(ORDERS)
    big = {"field": "avg_order_amount", "op": "gte", "value": 600}
    assert _segment(scored, big, ids) == {"C", "D", "I"}
    unknown = {"field": "avg_order_amount", "op": "not_exists"}
    assert _segment(scored, unknown, ids) == {"F"}
    # a customer who has no metrics row yet counts as one with no orders
    scored.add(Customer(id="NEW", name="new"))
    scored.commit()
    never = {"field": "purchases_count", "op": "eq", "value": 0}
    assert _segment(scored, never, [*ids, "NEW"]) == {"F", "NEW"}
    assert _segment(scored, unknown, [*ids, "NEW"]) == {"F", "NEW"}


def test_a_runs_facts_carry_the_stored_metrics(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    facts = load_facts(scored, FactsRequest("C", NOW.isoformat()))
    assert facts.metrics == _expected("C")
    assert facts.purchase_interval_median_days == 50.0  # its own field too
    scored.add(Customer(id="NEW", name="new"))
    scored.commit()
    assert load_facts(scored, FactsRequest("NEW", NOW.isoformat())).metrics == {}


def test_migration_0028_fills_the_average_from_recorded_orders(db_url: str) -> None:
    upgrade(db_url, "0027")
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            session.add_all([Customer(id="A", name="a"), Customer(id="B", name="b")])
            session.commit()
            session.add_all(
                [Order(customer_id="A", amount=amount, created_at=NOW) for amount in (100.0, 250.5)]
            )
            session.commit()
            for cid, count in (("A", 2), ("B", 0)):
                session.execute(
                    text(
                        "INSERT INTO customer_metrics (customer_id, purchases_count, updated_at)"
                        " VALUES (:cid, :n, :at)"
                    ),
                    {"cid": cid, "n": count, "at": NOW},
                )
            session.commit()
        upgrade(db_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT customer_id, avg_order_amount FROM customer_metrics"))
            got = {str(cid): average for cid, average in rows}
        assert got == {"A": 175.25, "B": None}
    finally:
        engine.dispose()

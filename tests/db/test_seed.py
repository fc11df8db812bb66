"""The demo seed: the chain's shape, every RFM class, idempotence."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from db.models import Customer, Guide, Store
from db.seed import seed_demo

NOW = datetime(2025, 6, 30, 4, 0, tzinfo=UTC)


def test_seed_builds_the_chain_and_is_idempotent(engine: Engine) -> None:
    summary = seed_demo(session_or_engine=engine, customers=2_000, now=NOW)
    assert summary.created
    assert (summary.regions, summary.stores, summary.guides) == (4, 12, 40)
    assert summary.customers == 2_000
    assert summary.coupon_templates == 7
    assert 2_000 < summary.orders < 2_000 * 6
    assert summary.events > summary.orders  # a purchase event per order, plus browsing
    assert set(summary.rfm_classes) == {
        "重要价值",
        "重要发展",
        "重要保持",
        "重要挽留",
        "一般价值",
        "一般发展",
        "一般保持",
        "一般挽留",
    }

    again = seed_demo(session_or_engine=engine, customers=2_000, now=NOW)
    assert not again.created
    assert (again.customers, again.orders) == (summary.customers, summary.orders)

    with Session(engine) as session:
        managers = session.exec(select(func.count()).where(Guide.role == "store_manager")).one()
        assert managers == 12
        stores_with_manager = session.exec(
            select(func.count()).where(col(Store.manager_guide_id).is_not(None))
        ).one()
        assert stores_with_manager == 12
        bound = session.exec(select(func.count()).where(col(Customer.guide_id).is_not(None))).one()
        assert 0.75 * 2_000 < bound < 0.95 * 2_000
        new_this_week = session.exec(
            select(func.count()).where(
                col(Customer.first_purchase_at) >= datetime(2025, 6, 23, tzinfo=UTC)
            )
        ).one()
        assert new_this_week > 20


def test_seed_is_deterministic_for_a_seed(engine: Engine) -> None:
    seed_demo(session_or_engine=engine, customers=300, now=NOW, seed=7)
    with Session(engine) as session:
        first = session.get(Customer, "C000001")
        assert first is not None and first.name and first.phone.startswith("1")

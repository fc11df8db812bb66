"""Guide-binding history: every change of a customer's guide is kept, and orders carry the
guide bound at their own moment (issue 14, item 3)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from audiences import metrics
from db import crud
from db.models import (
    Customer,
    CustomerCreate,
    CustomerGuideBinding,
    CustomerUpdate,
    Guide,
    Order,
    OrderCreate,
    Region,
    Store,
)
from db.seed import seed_demo

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


@pytest.fixture
def shop(session: Session) -> Session:
    session.add(Region(id="R1", name="华东"))
    session.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
    session.commit()
    for gid in ("G1", "G2"):
        session.add(Guide(id=gid, store_id="S1", name=gid))
    session.commit()
    crud.create_customer(
        session=session,
        customer_create=CustomerCreate(id="C1", name="李娜", store_id="S1", guide_id="G1"),
    )
    customer = crud.get_customer(session=session, customer_id="C1")
    assert customer is not None
    customer.created_at = T0
    for row in crud.binding_history(session=session, customer_id="C1"):
        row.bound_from = T0
        session.add(row)
    session.commit()
    return session


def test_a_new_customer_starts_their_history(shop: Session) -> None:
    rows = crud.binding_history(session=shop, customer_id="C1")
    assert [(r.guide_id, r.bound_from, r.bound_to) for r in rows] == [("G1", T0, None)]


def test_moves_close_and_open_periods(shop: Session) -> None:
    t1, t2 = T0 + timedelta(days=10), T0 + timedelta(days=20)
    upd = CustomerUpdate(guide_id="G2")
    crud.update_customer(session=shop, customer_id="C1", customer_update=upd, at=t1)
    # the same guide again changes nothing
    crud.update_customer(session=shop, customer_id="C1", customer_update=upd, at=t2)
    crud.update_customer(
        session=shop, customer_id="C1", customer_update=CustomerUpdate(guide_id=None), at=t2
    )
    rows = crud.binding_history(session=shop, customer_id="C1")
    assert [(r.guide_id, r.bound_from, r.bound_to) for r in rows] == [
        ("G1", T0, t1),
        ("G2", t1, t2),
    ]
    customer = crud.get_customer(session=shop, customer_id="C1")
    assert customer is not None and customer.guide_id is None
    at = crud.guide_at
    assert at(session=shop, customer_id="C1", at=T0 - timedelta(seconds=1)) is None
    assert at(session=shop, customer_id="C1", at=T0) == "G1"
    assert at(session=shop, customer_id="C1", at=t1 - timedelta(seconds=1)) == "G1"
    assert at(session=shop, customer_id="C1", at=t1) == "G2"
    assert at(session=shop, customer_id="C1", at=t2) is None


def test_orders_carry_the_guide_of_their_moment(shop: Session) -> None:
    t1 = T0 + timedelta(days=10)
    crud.update_customer(
        session=shop, customer_id="C1", customer_update=CustomerUpdate(guide_id="G2"), at=t1
    )
    # an order that arrives late (after the move) still belongs to the guide of its moment
    late = metrics.record_order(
        session=shop,
        order_create=OrderCreate(
            customer_id="C1", amount=100, channel="online", created_at=t1 - timedelta(days=1)
        ),
        now=t1 + timedelta(days=1),
    )
    new = crud.create_order(
        session=shop,
        order_create=OrderCreate(
            customer_id="C1", amount=50, channel="online", created_at=t1 + timedelta(hours=1)
        ),
    )
    given = crud.create_order(
        session=shop,
        order_create=OrderCreate(
            customer_id="C1", amount=5, created_at=t1 + timedelta(hours=2), bound_guide_id="G1"
        ),
    )
    assert (late.bound_guide_id, new.bound_guide_id, given.bound_guide_id) == ("G1", "G2", "G1")


def test_a_profile_written_around_the_history_keeps_its_guide(shop: Session) -> None:
    shop.add(Customer(id="C2", name="张伟", store_id="S1", guide_id="G1", created_at=T0))
    shop.commit()
    assert crud.guide_at(session=shop, customer_id="C2", at=T0 + timedelta(days=1)) == "G1"
    t1 = T0 + timedelta(days=5)
    crud.update_customer(
        session=shop, customer_id="C2", customer_update=CustomerUpdate(guide_id="G2"), at=t1
    )
    rows = crud.binding_history(session=shop, customer_id="C2")
    assert [(r.guide_id, r.bound_from, r.bound_to) for r in rows] == [
        ("G1", T0, t1),
        ("G2", t1, None),
    ]


def test_the_demo_seed_keeps_a_history(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=300)
    bound = session.exec(
        select(func.count()).select_from(Customer).where(col(Customer.guide_id).is_not(None))
    ).one()
    open_rows = session.exec(
        select(func.count())
        .select_from(CustomerGuideBinding)
        .where(col(CustomerGuideBinding.bound_to).is_(None))
    ).one()
    assert open_rows == bound
    moved = session.exec(
        select(func.count())
        .select_from(CustomerGuideBinding)
        .where(col(CustomerGuideBinding.bound_to).is_not(None))
    ).one()
    assert moved > 0  # some customers changed guide: their older orders show it
    # every order's stamped guide is the one the history says for its moment
    for order in session.exec(select(Order).limit(300)):
        assert order.bound_guide_id == crud.guide_at(
            session=session, customer_id=order.customer_id, at=order.created_at
        )

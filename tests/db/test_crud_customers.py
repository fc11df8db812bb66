"""Customers, events, orders, coupons and tasks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from db import crud
from db.errors import CouponStockExhaustedError, NotFoundError, TaskClosedError
from db.models import (
    CouponTemplateCreate,
    CustomerCreate,
    CustomerEvent,
    CustomerEventCreate,
    Guide,
    GuideTask,
    IssuedCoupon,
    OrderCreate,
    Region,
    Store,
)

T0 = datetime(2025, 5, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def shop(session: Session) -> Session:
    session.add(Region(id="R1", name="华东"))
    session.add(Store(id="S1", region_id="R1", name="上海南京西路店", city="上海"))
    session.commit()
    session.add(Guide(id="G1", store_id="S1", name="王芳"))
    session.commit()
    for cid, name, phone in (
        ("C000001", "李娜", "13800001111"),
        ("C000002", "张伟", "13900002222"),
    ):
        crud.create_customer(
            session=session,
            customer_create=CustomerCreate(
                id=cid, name=name, phone=phone, store_id="S1", guide_id="G1", tags=["新客"]
            ),
        )
    return session


def test_search_and_get_many(shop: Session) -> None:
    assert [c.id for c in crud.search_customers(session=shop, query="李")] == ["C000001"]
    assert [c.id for c in crud.search_customers(session=shop, query="13900")] == ["C000002"]
    assert [c.id for c in crud.search_customers(session=shop, query="c000002")] == ["C000002"]
    got = crud.get_customers(session=shop, customer_ids=["C000002", "nope", "C000001"])
    assert [c.id for c in got] == ["C000002", "C000001"]


def test_update_tags_has_set_semantics(shop: Session) -> None:
    for _ in range(2):
        customer = crud.update_tags(
            session=shop,
            customer_id="C000001",
            add=["高客单", "新客"],
            remove=["线上浏览"],
            set_attributes={"source": "门店"},
        )
    assert customer.tags == ["新客", "高客单"]
    assert customer.attributes == {"source": "门店"}
    shop.expire_all()
    again = crud.get_customer(session=shop, customer_id="C000001")
    assert again is not None and again.tags == ["新客", "高客单"]
    with pytest.raises(NotFoundError):
        crud.update_tags(session=shop, customer_id="C404", add=["x"])


def test_record_event_twice_stores_one_row_and_counts_by_window(shop: Session) -> None:
    event = CustomerEventCreate(
        event_id="evt-1",
        customer_id="C000001",
        type="purchase",
        properties={"amount": 299},
        occurred_at=T0,
    )
    first, created = crud.record_event(session=shop, event=event)
    second, created_again = crud.record_event(session=shop, event=event)
    assert (created, created_again) == (True, False)
    assert first.id == second.id
    assert len(shop.exec(select(CustomerEvent)).all()) == 1

    def count(since: datetime, until: datetime) -> int:
        return crud.count_events(
            session=shop, customer_id="C000001", event_type="purchase", since=since, until=until
        )

    assert count(T0, T0) == 1  # both ends inclusive
    assert count(T0 + timedelta(seconds=1), T0 + timedelta(days=1)) == 0


def test_create_order_moves_purchase_dates(shop: Session) -> None:
    for days in (10, 30, 5):
        crud.create_order(
            session=shop,
            order_create=OrderCreate(
                customer_id="C000001",
                store_id="S1",
                amount=100,
                created_at=T0 - timedelta(days=days),
            ),
        )
    customer = crud.get_customer(session=shop, customer_id="C000001")
    assert customer is not None
    assert customer.first_purchase_at == T0 - timedelta(days=30)
    assert customer.last_purchase_at == T0 - timedelta(days=5)
    assert len(crud.list_orders(session=shop, customer_id="C000001")) == 3


def test_issue_coupon_is_exactly_once_and_respects_stock(shop: Session) -> None:
    crud.create_coupon_template(
        session=shop,
        template_create=CouponTemplateCreate(
            id="VIP100", name="VIP", face_value=100, min_spend=999, validity_days=30, stock=1
        ),
    )

    def issue(key: str) -> tuple[IssuedCoupon, bool]:
        return crud.issue_coupon(
            session=shop,
            template_id="VIP100",
            customer_id="C000001",
            idempotency_key=key,
            issued_at=T0,
        )

    coupon, created = issue("k1")
    again, created_again = issue("k1")
    assert (created, created_again, again.id) == (True, False, coupon.id)
    assert coupon.expires_at == T0 + timedelta(days=30)
    with pytest.raises(CouponStockExhaustedError):
        issue("k2")
    template = crud.get_coupon_template(session=shop, template_id="VIP100")
    assert template is not None and template.issued_count == 1
    redeemed = crud.redeem_coupon(session=shop, coupon_id=coupon.id, order_id=None, at=T0)
    assert redeemed.redeemed_at == T0


def test_complete_and_chase_task(shop: Session) -> None:
    task = GuideTask(
        id="t1",
        idempotency_key="wf/e/n/1",
        customer_id="C000001",
        guide_id="G1",
        store_id="S1",
        task_type="call",
        title="call",
        outcomes=["reached", "no_answer"],
        due_at=T0 + timedelta(days=1),
    )
    crud.insert_task(session=shop, task=task)
    notice = crud.chase_task(session=shop, task_id="t1", by_user="hq-li", at=T0)
    assert (notice.kind, notice.to_guide_id, notice.by_user) == ("chase", "G1", "hq-li")
    assert [t.id for t in crud.list_tasks(session=shop, guide_id="G1", status="open")] == ["t1"]
    done = crud.complete_task(session=shop, task_id="t1", outcome="reached", note="ok", at=T0)
    assert (done.status, done.outcome, done.chased_count) == ("completed", "reached", 1)
    assert crud.complete_task(session=shop, task_id="t1", outcome="reached").status == "completed"
    with pytest.raises(TaskClosedError):
        crud.chase_task(session=shop, task_id="t1", by_user="hq-li")

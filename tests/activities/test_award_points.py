"""award_points: one ledger row and one coupon per pack template per visit, under activity
retries and concurrent attempts; a pack coupon out of stock is a permanent failure after
the points, and the same visit after a restock completes the pack without double points."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db.crud.points import points_balance
from db.models import CouponTemplate, IssuedCoupon
from db.models.points import PointsEntry
from engine.effects import COUPON_STOCK_EXHAUSTED, CUSTOMER_NOT_FOUND, UNKNOWN_COUPON_TEMPLATE
from engine.kinds.award_points import AwardPointsRequest
from tests.activities.conftest import NOW, ctx


def _rows(shop: sessionmaker[Session], customer_id: str) -> tuple[list[PointsEntry], list[str]]:
    with shop() as s:
        entries = list(s.exec(select(PointsEntry).where(PointsEntry.customer_id == customer_id)))
        coupons = s.exec(
            select(IssuedCoupon.template_id)
            .where(IssuedCoupon.customer_id == customer_id)
            .order_by(col(IssuedCoupon.template_id))
        ).all()
        return entries, list(coupons)


async def test_a_retried_visit_awards_once_and_issues_each_pack_coupon_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    request = AwardPointsRequest(ctx("C1"), 200, 30, ["NEW20", "VIP100"], reason="生日礼")
    first = await env.run(acts.award_points, request)
    second = await env.run(acts.award_points, request)
    assert second == first
    assert (first.points, first.balance) == (200, 200)
    assert first.awarded_at == NOW.isoformat()
    assert first.expires_at == (NOW + timedelta(days=30)).isoformat()
    assert [c.template_id for c in first.coupons] == ["NEW20", "VIP100"]
    entries, coupons = _rows(shop, "C1")
    assert [(e.delta, e.reason, e.journey_id, e.node_id) for e in entries] == [
        (200, "生日礼", "j1", "n1")
    ]
    assert coupons == ["NEW20", "VIP100"]
    with shop() as s:
        keys = sorted(s.exec(select(IssuedCoupon.idempotency_key)).all())
        assert keys == [f"{request.ctx.idempotency_key}:{t}" for t in ("NEW20", "VIP100")]
        vip = s.get(CouponTemplate, "VIP100")
        assert vip is not None and vip.issued_count == 1


async def test_concurrent_attempts_of_one_visit_write_one_row_and_one_coupon_each(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    request = AwardPointsRequest(ctx("C2"), 50, None, ["NEW20"])
    results = await asyncio.gather(
        *(ActivityEnvironment().run(acts.award_points, request) for _ in range(4))
    )
    assert len({(r.entry_id, r.coupons[0].coupon_id) for r in results}) == 1
    entries, coupons = _rows(shop, "C2")
    assert [e.delta for e in entries] == [50] and coupons == ["NEW20"]


async def test_the_balance_is_as_of_the_visit_and_counts_earlier_visits(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    day1 = dataclasses.replace(ctx("C1", visit=1), at="2025-07-01T01:00:00Z")
    day40 = dataclasses.replace(ctx("C1", visit=2), at="2025-08-10T01:00:00Z")
    first = await env.run(acts.award_points, AwardPointsRequest(day1, 100, 30))
    assert (first.balance, first.expires_at) == (100, "2025-07-31T01:00:00+00:00")
    # 40 days later the first 100 points have lapsed: the balance is the new award only
    later = await env.run(acts.award_points, AwardPointsRequest(day40, 70))
    assert (later.balance, later.expires_at) == (70, None)
    with shop() as s:
        assert points_balance(session=s, customer_id="C1", as_of=NOW) == 0  # before both


async def test_a_pack_coupon_out_of_stock_fails_for_good_and_the_points_stay(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    await env.run(acts.award_points, AwardPointsRequest(ctx("C1"), 10, None, ["VIP100"]))
    request = AwardPointsRequest(ctx("C2"), 300, None, ["NEW20", "VIP100"])  # VIP100: stock 1
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.award_points, request)
    assert (raised.value.type, raised.value.non_retryable) == (COUPON_STOCK_EXHAUSTED, True)
    assert "300 points stay awarded (balance 300)" in raised.value.message
    entries, coupons = _rows(shop, "C2")
    assert [e.delta for e in entries] == [300] and coupons == ["NEW20"]

    with shop() as s:  # restocked: the same visit again completes the pack
        vip = s.get(CouponTemplate, "VIP100")
        assert vip is not None
        vip.stock = 2
        s.add(vip)
        s.commit()
    done = await env.run(acts.award_points, request)
    assert (done.points, done.balance) == (300, 300)
    assert [c.template_id for c in done.coupons] == ["NEW20", "VIP100"]
    entries, coupons = _rows(shop, "C2")
    assert [e.delta for e in entries] == [300] and coupons == ["NEW20", "VIP100"]


@pytest.mark.parametrize(
    ("customer_id", "pack", "failure"),
    [("C404", [], CUSTOMER_NOT_FOUND), ("C1", ["NOPE"], UNKNOWN_COUPON_TEMPLATE)],
)
async def test_unknown_customer_or_pack_template_is_permanent(
    acts: JourneyActivities, customer_id: str, pack: list[str], failure: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            acts.award_points, AwardPointsRequest(ctx(customer_id), 10, None, pack)
        )
    assert (raised.value.type, raised.value.non_retryable) == (failure, True)

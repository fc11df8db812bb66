"""issue_coupon: exactly once per key, never beyond stock, typed permanent failures."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db.models import CouponTemplate, IssuedCoupon
from engine.effects import (
    COUPON_STOCK_EXHAUSTED,
    CUSTOMER_NOT_FOUND,
    UNKNOWN_COUPON_TEMPLATE,
    IssueCouponRequest,
)
from tests.activities.conftest import NOW, ctx


async def test_same_key_twice_issues_one_coupon(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    request = IssueCouponRequest(ctx=ctx("C1"), coupon_template_id="NEW20")
    first = await env.run(acts.issue_coupon, request)
    second = await env.run(acts.issue_coupon, request)
    assert second == first
    assert (first.face_value, first.min_spend) == (20.0, 199.0)
    assert first.expires_at == (NOW + timedelta(days=30)).isoformat()
    with shop() as s:
        assert len(s.exec(select(IssuedCoupon)).all()) == 1
        template = s.get(CouponTemplate, "NEW20")
        assert template is not None and template.issued_count == 1


async def test_expiry_counts_from_the_workflow_time_of_the_visit(acts: JourneyActivities) -> None:
    visit = dataclasses.replace(ctx("C1"), at="2025-07-10T01:00:00Z")
    issued = await ActivityEnvironment().run(
        acts.issue_coupon, IssueCouponRequest(ctx=visit, coupon_template_id="NEW20")
    )
    assert issued.issued_at == "2025-07-10T01:00:00+00:00"
    assert issued.expires_at == "2025-08-09T01:00:00+00:00"


async def test_stock_exhausted_is_permanent_and_stock_is_taken_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    first = IssueCouponRequest(ctx=ctx("C1"), coupon_template_id="VIP100")
    issued = await env.run(acts.issue_coupon, first)
    with pytest.raises(ApplicationError) as raised:
        await env.run(acts.issue_coupon, IssueCouponRequest(ctx("C2"), "VIP100"))
    assert raised.value.type == COUPON_STOCK_EXHAUSTED
    assert raised.value.non_retryable
    # A retry of the first customer's visit still gets their coupon.
    assert (await env.run(acts.issue_coupon, first)).coupon_id == issued.coupon_id
    with shop() as s:
        template = s.get(CouponTemplate, "VIP100")
        assert template is not None and template.issued_count == 1


@pytest.mark.parametrize(
    ("customer_id", "template_id", "failure"),
    [("C1", "NOPE", UNKNOWN_COUPON_TEMPLATE), ("C404", "NEW20", CUSTOMER_NOT_FOUND)],
)
async def test_unknown_template_or_customer(
    acts: JourneyActivities, customer_id: str, template_id: str, failure: str
) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(
            acts.issue_coupon, IssueCouponRequest(ctx(customer_id), template_id)
        )
    assert (raised.value.type, raised.value.non_retryable) == (failure, True)

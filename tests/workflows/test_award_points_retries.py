"""``award_points`` retried by Temporal itself (time-skipping; the real activity on the
database): a worker that loses the activity's answer after the ledger commit — twice — gets
the step retried by the server with the journey's retry policy, and the ledger still holds
one award, the pack one coupon per template, and the run the balance of that one award."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from activities.sandbox import SandboxActivities
from db.crud.points import points_balance
from db.models import CouponTemplate, Customer, IssuedCoupon
from db.models.points import PointsEntry
from engine.kinds.award_points import AwardPointsRequest, PointsAwarded
from settings import Settings
from tests.workflows.harness import ENTRY, EXIT, compile_ok, default_world, doc, start
from tests.workflows.harness import journey_worker as worker
from workflows import JourneyWorkflow

#: attempts whose answer is lost after the activity committed its ledger row and coupons
LOST_ANSWERS = 2


def _journey() -> Any:
    award = {
        "id": "p",
        "kind": "award_points",
        "label": "生日积分",
        "config": {"points": 200, "coupon_template_ids": ["NEW20", "VIP100"], "reason": "生日礼"},
    }
    wait = {
        "id": "w",
        "kind": "wait",
        "config": {"until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}},
    }
    return compile_ok(
        doc(
            [ENTRY, award, wait, EXIT],
            [("entry", "next", "p"), ("p", "next", "w"), ("w", "next", "done")],
        ),
        journey_id="j-points-retry",
    )


async def test_temporal_retries_a_lost_award_and_the_ledger_holds_it_once(
    env: WorkflowEnvironment, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s:
        s.add(Customer(id="C1", name="李女士"))
        s.add(CouponTemplate(id="NEW20", name="新客券", face_value=20, validity_days=30))
        s.add(CouponTemplate(id="VIP100", name="VIP", face_value=100, validity_days=30, stock=1))
        s.commit()
    real = JourneyActivities(sessions=sessions, settings=Settings())
    attempts: list[int] = []

    @activity.defn(name="award_points")
    async def award_then_lose_the_answer(request: AwardPointsRequest) -> PointsAwarded:
        """The real activity; the first answers never reach the server (a worker killed
        between the commit and the reply)."""
        attempts.append(activity.info().attempt)
        awarded = await real.award_points(request)
        if activity.info().attempt <= LOST_ANSWERS:
            raise ConnectionError("worker lost before its answer reached the server")
        return awarded

    acts = SandboxActivities(default_world)
    others = [a for name, a in acts.activities.items() if name != "award_points"]
    async with worker(env, acts, extra_activities=[award_then_lose_the_answer, *others]) as (
        queue,
        _,
    ):
        handle = await start(env, queue, _journey())
        await handle.result()
        state = await handle.query(JourneyWorkflow.state)

    assert attempts == [1, 2, 3]  # the server retried it, with the journey's retry policy
    step = next(t for t in state.trace if t.node_id == "p")
    assert step.port == "next"
    assert (state.context["p"]["points"], state.context["p"]["balance"]) == (200, 200)
    with sessions() as s:
        entries = s.exec(select(PointsEntry).where(PointsEntry.customer_id == "C1")).all()
        assert [(e.delta, e.reason, e.node_id) for e in entries] == [(200, "生日礼", "p")]
        as_of = (await env.get_current_time()).astimezone(UTC)
        assert points_balance(session=s, customer_id="C1", as_of=as_of) == 200
        coupons = sorted(s.exec(select(IssuedCoupon.template_id)).all())
        assert coupons == ["NEW20", "VIP100"]  # VIP100's only unit, issued once
        vip = s.get(CouponTemplate, "VIP100")
        assert vip is not None and vip.issued_count == 1

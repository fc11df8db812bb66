"""load_facts, update_customer and record_run."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from activities._time import parse_instant
from activities.run_recorder import RunRecorder
from db import crud
from db.crud.runs import RunReport
from db.models import CustomerEventCreate, JourneyCreate, JourneyRun
from engine.effects import (
    EventCountQuery,
    FactsRequest,
    IssueCouponRequest,
    RunRecord,
    UpdateCustomerRequest,
)
from tests.activities.conftest import NOW, ctx


async def test_load_facts_counts_events_in_the_window_and_reads_coupons(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        for n, days in enumerate((1, 6, 8, 40)):
            crud.record_event(
                session=s,
                event=CustomerEventCreate(
                    event_id=f"b{n}",
                    customer_id="C1",
                    type="browse",
                    occurred_at=NOW - timedelta(days=days),
                ),
            )
    env = ActivityEnvironment()
    coupon = await env.run(acts.issue_coupon, IssueCouponRequest(ctx("C1"), "NEW20"))
    facts = await env.run(
        acts.load_facts,
        FactsRequest(
            customer_id="C1",
            as_of=NOW.isoformat(),
            event_counts=[
                EventCountQuery("browse", 7),
                EventCountQuery("browse", 30),
                EventCountQuery("purchase", 30),
            ],
            coupon_ids=[coupon.coupon_id, "unknown"],
        ),
    )
    assert facts.found
    assert facts.event_counts == {"browse:7": 2, "browse:30": 3, "purchase:30": 0}
    assert (facts.guide_id, facts.store_id, facts.birthday, facts.tags) == (
        "G1",
        "S1",
        "1990-06-15",
        ["新客"],
    )
    state = facts.coupons[coupon.coupon_id]
    assert (state.redeemed, state.expires_at) == (False, coupon.expires_at)
    assert list(facts.coupons) == [coupon.coupon_id]

    missing = await env.run(
        acts.load_facts, FactsRequest(customer_id="C404", as_of="2025-06-01T00:00:00Z")
    )
    assert not missing.found


async def test_update_customer_is_idempotent(acts: JourneyActivities) -> None:
    request = UpdateCustomerRequest(
        ctx=ctx("C1"), add_tags=["已二回"], remove_tags=["新客"], set_attributes={"wave": 2}
    )
    env = ActivityEnvironment()
    first = await env.run(acts.update_customer, request)
    second = await env.run(acts.update_customer, request)
    assert first == second
    assert (first.tags, first.attributes) == (["已二回"], {"wave": 2})


async def test_record_run_upserts_one_row(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="j"), by="hq")
    env = ActivityEnvironment()

    def record(status: str, node: str, **extra: object) -> RunRecord:
        return RunRecord(
            workflow_id="wf-1",
            journey_id=journey.id,
            journey_version=1,
            customer_id="C1",
            status=status,
            current_node=node,
            at=NOW.isoformat(),
            **extra,  # type: ignore[arg-type]
        )

    await env.run(acts.record_run, record("running", "entry"))
    await env.run(acts.record_run, record("running", "wait"))
    await env.run(acts.record_run, record("exited", "exit", exit_reason="goal", goal_reached=True))
    with shop() as s:
        runs = list(s.exec(select(JourneyRun)))
    assert [(r.status, r.current_node, r.goal_reached, r.exited_at) for r in runs] == [
        ("exited", "exit", True, NOW)
    ]


def test_a_cancelled_waiter_does_not_stop_the_recorder(shop: sessionmaker[Session]) -> None:
    """A record_run cancelled while its batch is being written (worker shutdown) used to
    kill the writer thread, and every later report of the worker waited forever."""
    with shop() as s:
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="j"), by="hq")
    writing, release = threading.Event(), threading.Event()

    def slow_sessions() -> Session:
        writing.set()
        release.wait(timeout=30)
        return shop()

    recorder = RunRecorder(slow_sessions)  # type: ignore[arg-type]

    def report(workflow_id: str) -> RunReport:
        return RunReport(
            workflow_id=workflow_id,
            journey_id=journey.id,
            journey_version=1,
            customer_id="C1",
            status="running",
            current_node="entry",
            at=NOW,
        )

    first = recorder.submit(report("wf-cancelled"))
    assert writing.wait(timeout=30)
    assert first.cancel()  # its activity gave up while the batch was in flight
    release.set()
    recorder.submit(report("wf-next")).result(timeout=30)
    with shop() as s:
        assert sorted(r.workflow_id for r in s.exec(select(JourneyRun))) == [
            "wf-cancelled",
            "wf-next",
        ]


async def test_load_facts_reads_cycle_stage_points_and_member_since(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    from audiences.metrics import record_order
    from db.crud.points import award_points
    from db.models import OrderCreate

    with shop() as s:
        customer = crud.get_customer(session=s, customer_id="C1")
        assert customer is not None
        customer.created_at = datetime(2024, 2, 29, 17, 0, tzinfo=UTC)  # 01:00 Mar 1 Shanghai
        s.add(customer)
        s.commit()
        for days in (100, 60, 10):
            record_order(
                session=s,
                order_create=OrderCreate(
                    customer_id="C1", amount=100.0, created_at=NOW - timedelta(days=days)
                ),
                now=NOW,
            )
        award_points(session=s, customer_id="C1", points=300, idempotency_key="p", created_at=NOW)
    facts = await ActivityEnvironment().run(
        acts.load_facts, FactsRequest(customer_id="C1", as_of=NOW.isoformat())
    )
    assert facts.member_since == "2024-03-01"  # the day in the customer's zone
    assert facts.purchase_interval_median_days == 45.0  # gaps 40 and 50
    assert facts.lifecycle_stage == "develop"
    assert facts.last_purchase_at is not None
    assert parse_instant(facts.last_purchase_at) == NOW - timedelta(days=10)
    assert facts.points_balance == 300
    bare = await ActivityEnvironment().run(
        acts.load_facts, FactsRequest(customer_id="C2", as_of=NOW.isoformat())
    )
    assert (bare.purchase_interval_median_days, bare.lifecycle_stage, bare.points_balance) == (
        None,
        None,
        0,
    )

"""Assignment: bound guide within daily capacity; overflow next day or to a colleague."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db.assignment import assign
from db.models import Customer, Guide, GuideTask, Store
from engine.effects import CreateTaskRequest, EffectContext, TaskNoticeRequest
from settings import Settings
from tests.tasks.conftest import NOW, TODAY, make_task


def _acts(shop: sessionmaker[Session]) -> JourneyActivities:
    return JourneyActivities(sessions=shop, settings=Settings(), clock=lambda: NOW)


def _request(customer: str, n: int) -> CreateTaskRequest:
    ctx = EffectContext(
        idempotency_key=f"wf-{customer}/t/{n}",
        workflow_id=f"wf-{customer}",
        journey_id="J1",
        journey_version=1,
        node_id="t",
        visit=n,
        customer_id=customer,
        at=NOW.isoformat(),
    )
    return CreateTaskRequest(
        ctx=ctx,
        task_type="call",
        title="",
        instructions="回访 {{ customer.name }}",
        assignee="bound_guide",
        due_at=(NOW + timedelta(hours=24)).isoformat(),
        remind_at=(NOW + timedelta(hours=22)).isoformat(),
        outcomes=["interested", "declined"],
    )


def _fill(shop: sessionmaker[Session], guide: str, n: int, day_offset: int = 0) -> None:
    with shop() as s:
        for _ in range(n):
            make_task(
                s,
                customer_id="C1",
                guide_id=guide,
                store_id="S1",
                created_at=NOW + timedelta(days=day_offset),
            )


def test_within_capacity_the_bound_guide_gets_it_today(shop: sessionmaker[Session]) -> None:
    with shop() as s:
        customer = s.get_one(Customer, "C1")
        result = assign(s, customer, "bound_guide", NOW)
    assert result is not None
    assert (result.guide.id, result.reason, result.scheduled_for, result.defer_days) == (
        "G1",
        "bound_guide",
        TODAY,
        0,
    )


async def test_full_guide_next_day_moves_due_and_reminder(shop: sessionmaker[Session]) -> None:
    _fill(shop, "G1", 2)  # capacity 2: today is full
    _fill(shop, "G1", 2, day_offset=1)  # tomorrow too
    created = await ActivityEnvironment().run(_acts(shop).create_task, _request("C1", 1))
    assert created.guide_id == "G1"
    assert created.due_at == (NOW + timedelta(days=2, hours=24)).isoformat()
    with shop() as s:
        task = s.get_one(GuideTask, created.task_id)
    assert task.scheduled_for == TODAY + timedelta(days=2)
    assert task.assigned_reason == "overflow_next_day"
    assert task.remind_at == NOW + timedelta(days=2, hours=22)


async def test_early_notices_of_a_deferred_task_are_not_sent(shop: sessionmaker[Session]) -> None:
    _fill(shop, "G1", 2)
    acts = _acts(shop)
    env = ActivityEnvironment()
    created = await env.run(acts.create_task, _request("C1", 1))
    # the journey's timers still fire on the original schedule (see docs/guide-tasks.md)
    early = await env.run(acts.task_notice, TaskNoticeRequest(created.task_id, "escalation", "e"))
    assert early.notified == ""
    with shop() as s:
        assert s.get_one(GuideTask, created.task_id).escalated_at is None


async def test_full_guide_other_guide_same_store(shop: sessionmaker[Session]) -> None:
    with shop() as s:
        store = s.get_one(Store, "S1")
        store.task_overflow_policy = "other_guide_same_store"
        s.add(store)
        s.commit()
    _fill(shop, "G1", 2)
    _fill(shop, "G2", 1)
    created = await ActivityEnvironment().run(_acts(shop).create_task, _request("C1", 1))
    # G2 has 1 slot left, the manager GM 20: the roomiest colleague is the manager
    assert created.guide_id == "GM"
    with shop() as s:
        task = s.get_one(GuideTask, created.task_id)
    assert (task.assigned_reason, task.original_guide_id, task.scheduled_for) == (
        "overflow_other_guide",
        "G1",
        TODAY,
    )
    assert created.due_at == (NOW + timedelta(hours=24)).isoformat()


async def test_other_guide_policy_prefers_guides_on_a_tie(shop: sessionmaker[Session]) -> None:
    with shop() as s:
        store = s.get_one(Store, "S1")
        store.task_overflow_policy = "other_guide_same_store"
        s.add(store)
        manager = s.get_one(Guide, "GM")
        manager.daily_capacity = 2
        s.add(manager)
        s.commit()
    _fill(shop, "G1", 2)
    created = await ActivityEnvironment().run(_acts(shop).create_task, _request("C1", 1))
    assert created.guide_id == "G2"  # G2 and GM both have 2 free: the guide takes it


async def test_everyone_full_falls_back_to_next_day(shop: sessionmaker[Session]) -> None:
    with shop() as s:
        store = s.get_one(Store, "S1")
        store.task_overflow_policy = "other_guide_same_store"
        s.add(store)
        manager = s.get_one(Guide, "GM")
        manager.daily_capacity = 1
        s.add(manager)
        s.commit()
    _fill(shop, "G1", 2)
    _fill(shop, "G2", 2)
    _fill(shop, "GM", 1)
    created = await ActivityEnvironment().run(_acts(shop).create_task, _request("C1", 1))
    with shop() as s:
        task = s.get_one(GuideTask, created.task_id)
    assert (task.guide_id, task.assigned_reason) == ("G1", "overflow_next_day")
    assert task.scheduled_for == TODAY + timedelta(days=1)


async def test_cancelled_notice_closes_the_task(shop: sessionmaker[Session]) -> None:
    acts = _acts(shop)
    env = ActivityEnvironment()
    created = await env.run(acts.create_task, _request("C1", 1))
    result = await env.run(acts.task_notice, TaskNoticeRequest(created.task_id, "cancelled", "c"))
    assert result.notified == "G1"
    with shop() as s:
        assert s.get_one(GuideTask, created.task_id).status == "cancelled"

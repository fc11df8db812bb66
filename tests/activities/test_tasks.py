"""create_task and task_notice: assignment with fallback, exactly once, closed tasks."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db import crud
from db.models import GuideTask, TaskNotice
from engine.effects import NO_GUIDE_AVAILABLE, CreateTaskRequest, TaskNoticeRequest
from tests.activities.conftest import ctx

DUE = "2025-06-02T02:00:00Z"


def _request(customer_id: str, assignee: str = "bound_guide") -> CreateTaskRequest:
    return CreateTaskRequest(
        ctx=ctx(customer_id),
        task_type="call",
        title="",
        instructions="给{{ customer.name }}打电话：{{ ctx.coupon }}三天后到期",
        assignee=assignee,
        due_at=DUE,
        remind_at="2025-06-02T00:00:00Z",
        outcomes=["reached", "no_answer"],
        context={"coupon": "20元券"},
    )


@pytest.mark.parametrize(
    ("customer_id", "assignee", "expected"),
    [
        ("C1", "bound_guide", "G1"),  # the bound guide
        ("C2", "bound_guide", "GM"),  # no bound guide → store manager
        ("C5", "bound_guide", "GM"),  # bound guide inactive → store manager
        ("C1", "store_manager", "GM"),
    ],
)
async def test_assignee_and_fallback(
    acts: JourneyActivities, customer_id: str, assignee: str, expected: str
) -> None:
    created = await ActivityEnvironment().run(acts.create_task, _request(customer_id, assignee))
    assert created.guide_id == expected
    assert created.due_at == "2025-06-02T02:00:00+00:00"


async def test_no_guide_and_no_manager(acts: JourneyActivities) -> None:
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.create_task, _request("C3"))
    assert (raised.value.type, raised.value.non_retryable) == (NO_GUIDE_AVAILABLE, True)


async def test_task_is_created_once_with_rendered_text(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    first = await env.run(acts.create_task, _request("C1"))
    assert await env.run(acts.create_task, _request("C1")) == first
    with shop() as s:
        tasks = list(s.exec(select(GuideTask)))
    assert len(tasks) == 1
    task = tasks[0]
    assert task.instructions == "给李C1打电话：20元券三天后到期"
    assert task.title == "电话回访 李C1"
    assert (task.store_id, task.journey_version, task.outcomes) == (
        "S1",
        1,
        ["reached", "no_answer"],
    )


async def test_notices_go_to_guide_then_manager_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    task = await env.run(acts.create_task, _request("C1"))
    remind = TaskNoticeRequest(task_id=task.task_id, kind="reminder", idempotency_key="r1")
    escalate = TaskNoticeRequest(task_id=task.task_id, kind="escalation", idempotency_key="e1")
    assert (await env.run(acts.task_notice, remind)).notified == "G1"
    assert (await env.run(acts.task_notice, remind)).notified == "G1"
    assert (await env.run(acts.task_notice, escalate)).notified == "GM"
    with shop() as s:
        notices = list(s.exec(select(TaskNotice)))
        stored = s.get(GuideTask, task.task_id)
    assert [(n.kind, n.to_guide_id) for n in notices] == [
        ("created", "G1"),  # pushed to the guide's WeCom (activities.guide_notices)
        ("reminder", "G1"),
        ("escalation", "GM"),
    ]
    assert stored is not None and stored.reminded_at and stored.escalated_at


async def test_notice_about_a_completed_task_is_a_no_op(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    task = await env.run(acts.create_task, _request("C1"))
    with shop() as s:
        crud.complete_task(session=s, task_id=task.task_id, outcome="reached")
    for kind in ("reminder", "escalation", "expired"):
        result = await env.run(acts.task_notice, TaskNoticeRequest(task.task_id, kind, f"k-{kind}"))
        assert result.notified == ""
    with shop() as s:
        stored = s.get(GuideTask, task.task_id)
        assert stored is not None and stored.status == "completed"
        assert [n.kind for n in s.exec(select(TaskNotice))] == ["created"]


async def test_expired_notice_closes_the_task(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    env = ActivityEnvironment()
    task = await env.run(acts.create_task, _request("C2"))
    result = await env.run(acts.task_notice, TaskNoticeRequest(task.task_id, "expired", "x1"))
    assert result.notified == "GM"
    with shop() as s:
        stored = s.get(GuideTask, task.task_id)
        assert stored is not None and stored.status == "expired"

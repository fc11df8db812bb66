"""Guide task notices reach the guide's WeCom exactly once: task created, reminder,
escalation, chase (一键催办); transient failures retried by the sweep; recorded without
WeCom."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities, tasks
from activities.channels.wecom import WeComClient, WeComSettings
from activities.guide_notices import GuideNoticePusher, guide_notice_pusher
from db import crud
from db.crud import notice_push
from db.models import GuideTask, TaskNotice
from db.models.messages import ProviderRateBucket
from engine.effects import CreateTaskRequest, EffectContext, TaskNoticeRequest
from settings import Settings
from tests.channels.wx_fake import FakeWx
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    fake,
    http,
    sleeps,
    wecom,
    wecom_settings,
    wx_shop,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
SEND = "/cgi-bin/message/send"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _create(sessions: sessionmaker[Session], customer: str = "C1") -> str:
    with sessions() as s:
        return tasks.create_task(s, _task_request(customer), NOW).task_id


def _task_request(customer: str) -> CreateTaskRequest:
    ctx = EffectContext(
        idempotency_key=f"journey-J1-{customer}/0/task1/1",
        workflow_id=f"journey-J1-{customer}",
        journey_id="J1",
        journey_version=1,
        node_id="task1",
        visit=1,
        customer_id=customer,
        at=NOW.isoformat(),
    )
    request = CreateTaskRequest(
        ctx=ctx,
        task_type="call",
        assignee="bound_guide",
        title="回访 {{ customer.name }}",
        instructions="提醒她20元券3天后到期",
        due_at=(NOW + timedelta(days=1)).isoformat(),
        remind_at=None,
        outcomes=["reached"],
        context={},
    )
    return request


def _notices(sessions: sessionmaker[Session]) -> list[tuple[str, str, str | None]]:
    with sessions() as s:
        rows = s.exec(select(TaskNotice).order_by(col(TaskNotice.id))).all()
        return [(n.kind, n.push_status, n.push_message_id) for n in rows]


def test_created_reminder_and_chase_are_pushed_once_each(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    clock = Clock()
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=clock)
    task_id = _create(wx_shop)
    assert pusher.push_task(task_id).sent == 1
    assert pusher.push_task(task_id).sent == 0  # the activity retried: nothing new
    _create(wx_shop)  # create_task retried: the same task, no second notice
    assert pusher.push_due().sent == 0

    with wx_shop() as s:
        tasks.task_notice(s, TaskNoticeRequest(task_id, "reminder", "k/reminder"), NOW)
        tasks.task_notice(s, TaskNoticeRequest(task_id, "reminder", "k/reminder"), NOW)
    assert pusher.push_task(task_id).sent == 1

    with wx_shop() as s:  # HQ chases from the web app: the sweep pushes it
        task = s.get(GuideTask, task_id)
        assert task is not None
        crud.chase_tasks(session=s, tasks=[task], by_user="hq", scope="guide", scope_id="G1")
    assert pusher.push_due().sent == 1
    assert pusher.push_due().sent == 0

    texts = [c.body["text"]["content"] for c in fake.to(SEND)]
    assert [c.body["touser"] for c in fake.to(SEND)] == ["wangfang"] * 3
    assert texts[0].startswith("【新任务】回访 李女士") and "提醒她20元券" in texts[0]
    assert texts[1].startswith("【任务提醒】") and texts[2].startswith("【催办】")
    assert [(k, st) for k, st, _ in _notices(wx_shop)] == [
        ("created", "sent"),
        ("reminder", "sent"),
        ("chase", "sent"),
    ]


def test_an_escalation_goes_to_the_store_manager(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=Clock())
    task_id = _create(wx_shop)
    with wx_shop() as s:
        tasks.task_notice(s, TaskNoticeRequest(task_id, "escalation", "k/esc"), NOW)
    pusher.push_task(task_id)
    assert [c.body["touser"] for c in fake.to(SEND)] == ["wangfang", "chen"]
    assert "王芳 负责的客户 李女士" in fake.to(SEND)[1].body["text"]["content"]


def test_a_transient_failure_is_retried_by_the_sweep_after_a_backoff(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    clock = Clock()
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=clock)
    fake.script(SEND, 500, 500, 500)
    task_id = _create(wx_shop)
    assert pusher.push_task(task_id).retrying == 1
    assert pusher.push_due().sent == 0  # not before its backoff
    clock.now += timedelta(seconds=16)
    assert pusher.push_due().sent == 1
    assert _notices(wx_shop) == [("created", "sent", "app-msg-1")]


def test_a_sender_that_died_mid_push_leaves_it_to_the_sweep_after_the_lease(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    clock = Clock()
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=clock)
    task_id = _create(wx_shop)
    with wx_shop() as s:  # a sender claimed it, then crashed
        (notice_id,) = notice_push.due_notice_ids(session=s, now=NOW, task_id=task_id)
        assert notice_push.claim_notice(
            session=s, notice_id=notice_id, now=NOW, lease=timedelta(minutes=2)
        )
    assert pusher.push_due().sent == 0  # still held
    clock.now += timedelta(minutes=3)
    assert pusher.push_due().sent == 1
    assert len(fake.to(SEND)) == 1


def test_a_guide_without_wecom_is_a_failed_push_with_the_reason(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=Clock())
    task_id = _create(wx_shop, "C3")  # bound to G2, who has no WeCom userid
    assert pusher.push_task(task_id).failed == 1
    with wx_shop() as s:
        notice = s.exec(select(TaskNotice)).one()
    assert (notice.push_status, notice.push_detail) == ("failed", "guide G2 has no WeCom userid")
    assert fake.to(SEND) == []


def test_without_wecom_notices_are_recorded(wx_shop: sessionmaker[Session]) -> None:
    pusher = GuideNoticePusher(sessions=wx_shop, messenger=None, clock=Clock())
    task_id = _create(wx_shop)
    assert pusher.push_task(task_id).recorded == 0  # the activity adds no write
    assert pusher.push_due().recorded == 1
    assert [(k, st) for k, st, _ in _notices(wx_shop)] == [("created", "recorded")]


async def test_the_activities_push_after_their_commit_and_never_fail_over_a_push(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    acts = JourneyActivities(
        sessions=wx_shop,
        settings=Settings(webhook_secret="s"),
        providers={},
        clock=Clock(),
        notices=GuideNoticePusher(sessions=wx_shop, messenger=wecom, clock=Clock()),
    )
    env = ActivityEnvironment()
    request = _task_request("C1")
    created = await env.run(acts.create_task, request)
    again = await env.run(acts.create_task, request)  # Temporal retried it
    assert again.task_id == created.task_id
    fake.script(SEND, 500, 500, 500)  # WeCom away for the reminder: the activity still ends
    done = await env.run(acts.task_notice, TaskNoticeRequest(created.task_id, "reminder", "k/r"))
    assert done.notified == "G1"
    assert [c.body["text"]["content"][:6] for c in fake.to(SEND)][:1] == ["【新任务】回"]
    assert [(k, st) for k, st, _ in _notices(wx_shop)] == [
        ("created", "sent"),
        ("reminder", "pending"),  # left to the sweep, with its backoff
    ]


def test_the_configured_pusher_sends_through_the_shared_rate_bucket(
    wecom_settings: WeComSettings, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    pusher = guide_notice_pusher(sessions=wx_shop, wecom=wecom_settings, clock=Clock())
    task_id = _create(wx_shop)
    assert pusher.push_task(task_id).sent == 1
    with wx_shop() as s:
        assert s.get(ProviderRateBucket, "wecom_app") is not None
    unconfigured = wecom_settings.model_copy(update={"agent_id": None})
    assert guide_notice_pusher(sessions=wx_shop, wecom=unconfigured).push_due().recorded == 0

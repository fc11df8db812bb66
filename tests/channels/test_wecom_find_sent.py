"""A WeCom message whose answer was lost: WeCom created the group-message template, the
worker heard nothing. The retry finds that template (``get_groupmsg_list_v2`` around the
attempt, the exact text, confirmed by ``get_groupmsg_task`` and
``get_groupmsg_send_result``) and creates no second one; when the first attempt created
nothing, look-alike templates (another customer, another guide, a member's own, outside
the window) are not taken for it."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from activities import JourneyActivities
from activities.channels.wecom import WeComClient, WeComCustomerProvider, WeComSettings
from activities.channels.wx_api import RetryPolicy
from activities.providers import OutboundMessage, TransientDeliveryError
from db.models import Customer, OutboxMessage
from engine.effects import EffectContext, SendMessageRequest
from settings import Settings
from tests.channels.wx_fake import (
    ADD_TEMPLATE,
    LIST_TEMPLATES,
    SEND_RESULTS,
    TEMPLATE_TASKS,
    FakeWx,
)
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    fake,
    sleeps,
    wecom_settings,
    wx_shop,
)

T = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
EPOCH = int(T.timestamp())
TEXT = "李女士，券快到期了"


@pytest.fixture
def slow_http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=0.5) as client:  # the fake holds a "timeout" answer 1.5 s
        yield client


@pytest.fixture
def client(
    wecom_settings: WeComSettings, slow_http: httpx.Client, sleeps: list[float], fake: FakeWx
) -> WeComClient:
    fake.clock = lambda: float(EPOCH)  # WeCom's clock agrees with the worker's
    return WeComClient(
        wecom_settings, slow_http, retry=RetryPolicy(attempts=3), sleep=sleeps.append
    )


def _acts(client: WeComClient, sessions: sessionmaker[Session]) -> JourneyActivities:
    return JourneyActivities(
        sessions=sessions,
        settings=Settings(webhook_secret="s"),
        providers={"wecom": WeComCustomerProvider(client, sessions)},
        clock=lambda: T,
    )


def _request(customer: str = "C1") -> SendMessageRequest:
    ctx = EffectContext(
        idempotency_key=f"journey-J1-{customer}/0/n1/1",
        workflow_id=f"journey-J1-{customer}",
        journey_id="J1",
        journey_version=1,
        node_id="n1",
        visit=1,
        customer_id=customer,
    )
    return SendMessageRequest(ctx=ctx, channel="wecom", content="{{ customer.name }}，券快到期了")


def _row(sessions: sessionmaker[Session]) -> OutboxMessage:
    with sessions() as s:
        (row,) = s.exec(select(OutboxMessage))
        return row


@pytest.mark.parametrize("lost", ["timeout", "drop"])
async def test_a_retry_after_a_lost_answer_finds_the_template_and_creates_no_second(
    client: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx, lost: str
) -> None:
    fake.script(ADD_TEMPLATE, lost)  # WeCom creates the template; its answer never comes
    acts = _acts(client, wx_shop)
    with pytest.raises(TransientDeliveryError, match="not repeated"):
        await acts.send_message(_request())
    (first,) = fake.templates
    assert len(fake.to(ADD_TEMPLATE)) == 1  # not made again inside the attempt
    row = _row(wx_shop)
    assert (row.status, row.provider, row.handed_at) == ("recorded", "wecom", T)

    sent = await acts.send_message(_request())  # Temporal's retry
    assert sent.status == "sent"
    assert len(fake.templates) == 1 and len(fake.to(ADD_TEMPLATE)) == 1
    row = _row(wx_shop)
    assert (row.status, row.provider_message_id) == ("sent", first.msgid)
    assert "created by an earlier attempt" in row.provider_response
    (listing,) = fake.to(LIST_TEMPLATES)
    assert listing.body == {
        "chat_type": "single",
        "start_time": EPOCH - 60,
        "end_time": EPOCH + 300,
        "filter_type": 0,
        "limit": 100,
    }
    assert [c.body for c in fake.to(TEMPLATE_TASKS)] == [{"msgid": first.msgid, "limit": 1000}]
    assert fake.to(SEND_RESULTS)[0].body == {
        "msgid": first.msgid,
        "userid": "wangfang",
        "limit": 1000,
    }
    await acts.send_message(_request())  # a repeat asks nothing
    assert len(fake.to(LIST_TEMPLATES)) == 1


def _look_alikes(fake: FakeWx) -> None:
    """Templates an earlier attempt did not create, on more than one page."""
    fake.add_template(sender="wangfang", external_userids=["wmOTHER"], content=TEXT)
    fake.add_template(sender="chen", external_userids=["wmEXT1"], content=TEXT)
    fake.add_template(
        sender="wangfang",
        external_userids=["wmEXT1"],
        content=TEXT,
        create_type=1,  # the guide's own, not ours
        creator="wangfang",
    )
    fake.add_template(
        sender="wangfang", external_userids=["wmEXT1"], content=TEXT, create_time=EPOCH - 3600
    )
    fake.add_template(sender="wangfang", external_userids=["wmEXT1"], content=TEXT + "！")
    for n in range(120):
        fake.add_template(sender="wangfang", external_userids=[f"wm{n}"], content=f"第{n}条")


async def test_look_alike_templates_are_not_taken_for_the_lost_attempt(
    client: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    _look_alikes(fake)
    before = len(fake.templates)
    fake.script(ADD_TEMPLATE, 502)  # refused before creating anything
    acts = _acts(client, wx_shop)
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(_request())
    sent = await acts.send_message(_request())
    assert len(fake.templates) == before + 1  # the retry created the one template
    new = fake.templates[-1]
    assert (new.sender, list(new.customers), new.content) == ("wangfang", ["wmEXT1"], TEXT)
    assert _row(wx_shop).provider_message_id == new.msgid and sent.status == "sent"
    assert len(fake.to(LIST_TEMPLATES)) == 2  # two pages
    # only the templates with the exact text in the window were asked about: another
    # customer's (its guide confirmed, not the customer) and another guide's
    assert len(fake.to(TEMPLATE_TASKS)) == 2 and len(fake.to(SEND_RESULTS)) == 1


async def test_the_lost_template_is_found_among_look_alikes(
    client: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    _look_alikes(fake)
    fake.script(ADD_TEMPLATE, "timeout")
    acts = _acts(client, wx_shop)
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(_request())
    lost = fake.templates[-1]
    before = len(fake.templates)
    await acts.send_message(_request())
    assert len(fake.templates) == before
    assert _row(wx_shop).provider_message_id == lost.msgid


def test_find_sent_is_none_for_a_customer_no_longer_reachable(
    client: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    with wx_shop() as s:
        customer = s.get(Customer, "C1")
        assert customer is not None
        customer.wecom_external_userid = None
        s.add(customer)
        s.commit()
    message = OutboundMessage(
        message_id="m1",
        idempotency_key="k1",
        customer_id="C1",
        channel="wecom",
        subject="",
        body=TEXT,
        journey_id="J1",
        node_id="n1",
        attempted_at=T,
    )
    assert WeComCustomerProvider(client, wx_shop).find_sent(message) is None
    assert fake.to(LIST_TEMPLATES) == []  # deliver says why it cannot be sent


def test_a_list_wecom_refuses_is_retried_later_not_sent_again(
    client: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    fake.script(LIST_TEMPLATES, {"errcode": 48002, "errmsg": "api forbidden"})
    message = OutboundMessage(
        message_id="m1",
        idempotency_key="k1",
        customer_id="C1",
        channel="wecom",
        subject="",
        body=TEXT,
        journey_id="J1",
        node_id="n1",
        attempted_at=T,
    )
    with pytest.raises(TransientDeliveryError, match="errcode 48002"):
        WeComCustomerProvider(client, wx_shop).find_sent(message)

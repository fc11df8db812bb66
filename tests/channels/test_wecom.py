"""WeCom against a fake qyapi on loopback: customer messages through the guide's
group-message template, app messages to guides, tokens, throttling, 5xx, credentials."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

import logging

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from activities.channels import (
    ChannelSettings,
    ProviderConfigError,
    RateLimitedProvider,
    build_providers,
    configured_providers,
)
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.wecom import WeComClient, WeComCustomerProvider, WeComSettings
from activities.channels.wecom_receipts import poll_wecom_receipts
from activities.providers import (
    MessageRejectedError,
    OutboundMessage,
    ThrottledError,
    TransientDeliveryError,
)
from db.models import OutboxMessage
from db.models.messages import ProviderRateBucket
from engine.effects import MESSAGE_REJECTED, EffectContext, SendMessageRequest
from settings import Settings
from tests.channels.wx_fake import CORP_ID, CORP_SECRET, FakeWx
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    fake,
    http,
    sleeps,
    wecom,
    wecom_settings,
    wx_shop,
)

TEMPLATE = "/cgi-bin/externalcontact/add_msg_template"
APP_SEND = "/cgi-bin/message/send"


def _message(customer: str = "C1", body: str = "李女士，您的20元券3天后到期") -> OutboundMessage:
    return OutboundMessage(
        message_id="m" * 32,
        idempotency_key="wf/1/n1/1",
        customer_id=customer,
        channel="wecom",
        subject="",
        body=body,
        journey_id="J1",
        node_id="n1",
    )


def test_a_customer_message_is_a_template_the_bound_guide_confirms(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    delivery = WeComCustomerProvider(wecom, wx_shop).deliver(_message())
    assert delivery.status == "sent"
    assert delivery.provider_message_id == "msgGCAAAXtWyuj0001"
    assert "waiting for guide wangfang" in delivery.response
    (call,) = fake.to(TEMPLATE)
    assert call.body == {
        "chat_type": "single",
        "external_userid": ["wmEXT1"],
        "sender": "wangfang",
        "allow_select": False,
        "text": {"content": "李女士，您的20元券3天后到期"},
    }
    assert call.query["access_token"] == "tok-1"


@pytest.mark.parametrize(
    ("customer", "reason"),
    [
        ("C2", "customer C2 has no WeCom binding"),
        ("C3", "guide G2 of customer C3 has no WeCom userid"),
        ("NOPE", "customer NOPE does not exist"),
    ],
)
def test_a_customer_without_a_wecom_binding_fails_for_good(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx, customer: str, reason: str
) -> None:
    with pytest.raises(MessageRejectedError, match=reason):
        WeComCustomerProvider(wecom, wx_shop).deliver(_message(customer))
    assert fake.to(TEMPLATE) == []


def test_a_customer_wecom_cannot_reach_is_a_permanent_failure(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    fake.script(TEMPLATE, {"errcode": 0, "errmsg": "ok", "fail_list": ["wmEXT1"], "msgid": "x"})
    with pytest.raises(MessageRejectedError, match="not a contact of guide wangfang"):
        WeComCustomerProvider(wecom, wx_shop).deliver(_message())


def test_an_expired_token_is_refreshed_once(wecom: WeComClient, fake: FakeWx) -> None:
    assert wecom.send_app_text(userid="wangfang", content="a") == "app-msg-1"
    fake.expire_tokens()
    assert wecom.send_app_text(userid="wangfang", content="b") == "app-msg-1"
    assert len(fake.to("/cgi-bin/gettoken")) == 2
    assert [c.query["access_token"] for c in fake.to(APP_SEND)] == ["tok-1", "tok-1", "tok-2"]


def test_a_token_refused_again_after_the_refresh_is_not_refreshed_twice(
    wecom: WeComClient, fake: FakeWx
) -> None:
    fake.script(APP_SEND, {"errcode": 40014, "errmsg": "invalid access_token"})
    fake.script(APP_SEND, {"errcode": 40014, "errmsg": "invalid access_token"})
    with pytest.raises(MessageRejectedError, match="errcode 40014"):
        wecom.send_app_text(userid="wangfang", content="a")
    assert len(fake.to("/cgi-bin/gettoken")) == 2
    assert len(fake.to(APP_SEND)) == 2


def test_the_cached_token_serves_many_calls(wecom: WeComClient, fake: FakeWx) -> None:
    for _ in range(3):
        wecom.send_app_text(userid="wangfang", content="a")
    assert len(fake.to("/cgi-bin/gettoken")) == 1


@pytest.mark.parametrize("errcode", [45009, 45033])
def test_throttling_is_raised_for_the_rate_limiter(
    wecom: WeComClient, fake: FakeWx, errcode: int
) -> None:
    fake.script(APP_SEND, {"errcode": errcode, "errmsg": "api freq out of limit"})
    with pytest.raises(ThrottledError) as caught:
        wecom.send_app_text(userid="wangfang", content="a")
    assert caught.value.retry_after > 0
    assert "access_token" not in str(caught.value) or "tok-" not in str(caught.value)


def test_5xx_and_busy_answers_are_retried_with_backoff(
    wecom: WeComClient, fake: FakeWx, sleeps: list[float]
) -> None:
    fake.script(APP_SEND, 502, {"errcode": -1, "errmsg": "system busy"})
    assert wecom.send_app_text(userid="wangfang", content="a") == "app-msg-1"
    assert sleeps == [0.5, 1.0]
    assert len(fake.to(APP_SEND)) == 3


def test_5xx_that_lasts_is_a_transient_failure(
    wecom: WeComClient, fake: FakeWx, sleeps: list[float]
) -> None:
    fake.script(APP_SEND, 500, 500, 500)
    with pytest.raises(TransientDeliveryError, match="HTTP 500"):
        wecom.send_app_text(userid="wangfang", content="a")
    assert len(sleeps) == 2


def test_an_unreachable_member_is_rejected(wecom: WeComClient, fake: FakeWx) -> None:
    fake.script(APP_SEND, {"errcode": 0, "errmsg": "ok", "invaliduser": "ghost", "msgid": "x"})
    with pytest.raises(MessageRejectedError, match="ghost cannot receive"):
        wecom.send_app_text(userid="ghost", content="a")


def test_app_messages_ask_wecom_to_drop_duplicates(wecom: WeComClient, fake: FakeWx) -> None:
    wecom.send_app_text(userid="wangfang", content="【催办】")
    body = fake.to(APP_SEND)[0].body
    assert body["agentid"] == 1000002 and body["touser"] == "wangfang"
    assert body["enable_duplicate_check"] == 1 and body["duplicate_check_interval"] == 1800


def test_bad_credentials_name_the_variables_never_the_secret(
    wecom_settings: WeComSettings,
    http: httpx.Client,
    fake: FakeWx,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = wecom_settings.model_copy(update={"secret": SecretStr("not-the-secret")})
    client = WeComClient(wrong, http)
    with pytest.raises(ProviderAuthError) as caught:
        client.send_app_text(userid="wangfang", content="a")
    assert "JOURNEYS_WECOM_SECRET" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)
    with pytest.raises(ProviderCheckError, match="JOURNEYS_WECOM_CORP_ID"):
        client.check()
    assert "not-the-secret" not in caplog.text
    assert fake.to(APP_SEND) == []


def test_check_fetches_a_token_and_sends_nothing(
    wecom: WeComClient, fake: FakeWx, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert "corp" in wecom.check()
    assert [c.path for c in fake.calls] == ["/cgi-bin/gettoken"]
    assert CORP_SECRET not in caplog.text and "tok-1" not in caplog.text


def test_settings_problems_name_the_variables() -> None:
    partial = WeComSettings(corp_id="ww1", _env_file=None)  # type: ignore[call-arg]
    assert [p.variable for p in partial.problems()] == [
        "JOURNEYS_WECOM_SECRET",
        "JOURNEYS_WECOM_AGENT_ID",
    ]
    assert WeComSettings(_env_file=None).problems() == []  # type: ignore[call-arg]
    assert "xyz" not in repr(WeComSettings(secret=SecretStr("xyz"), _env_file=None))  # type: ignore[call-arg]


def _channels() -> ChannelSettings:
    return ChannelSettings(_env_file=None)  # type: ignore[call-arg]


def _wecom_env(monkeypatch: pytest.MonkeyPatch, fake: FakeWx, secret: str = CORP_SECRET) -> None:
    for name, value in {
        "JOURNEYS_WECOM_CORP_ID": CORP_ID,
        "JOURNEYS_WECOM_SECRET": secret,
        "JOURNEYS_WECOM_AGENT_ID": "1000002",
        "JOURNEYS_WECOM_BASE_URL": fake.base_url,
    }.items():
        monkeypatch.setenv(name, value)


def test_the_registry_sends_wecom_through_the_shared_rate_limiter(
    monkeypatch: pytest.MonkeyPatch,
    wx_shop: sessionmaker[Session],
    fake: FakeWx,
    http: httpx.Client,
) -> None:
    _wecom_env(monkeypatch, fake)
    registry = build_providers(
        webhook_secret="s", http=http, sessions=wx_shop, channels=_channels()
    )
    provider = registry["wecom"]
    assert isinstance(provider, RateLimitedProvider) and provider.name == "wecom"
    assert registry["wechat_template"].name == "outbox"  # not configured: the outbox keeps it
    assert provider.deliver(_message()).provider_message_id == "msgGCAAAXtWyuj0001"
    with wx_shop() as s:
        assert s.get(ProviderRateBucket, "wecom") is not None


def test_check_providers_checks_wecom_and_names_what_is_missing(
    monkeypatch: pytest.MonkeyPatch, fake: FakeWx, http: httpx.Client
) -> None:
    _wecom_env(monkeypatch, fake)
    checks = configured_providers(_channels(), http)
    assert "corp" in checks["wecom"].check()
    assert all(c.path == "/cgi-bin/gettoken" for c in fake.calls)
    monkeypatch.delenv("JOURNEYS_WECOM_SECRET")
    with pytest.raises(ProviderConfigError, match="JOURNEYS_WECOM_SECRET"):
        configured_providers(_channels(), http)


RESULT = "/cgi-bin/externalcontact/get_groupmsg_send_result"


def test_receipts_are_asked_of_wecom_once_the_guide_sent_it(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    with wx_shop() as s:
        for mid, msgid in (("m1", "msgA"), ("m2", "msgB")):
            s.add(
                OutboxMessage(
                    id=mid,
                    idempotency_key=f"k-{mid}",
                    customer_id="C1",
                    channel="wecom",
                    body="券到期提醒",
                    status="sent",
                    provider="wecom",
                    provider_message_id=msgid,
                )
            )
        s.commit()
    fake.script(
        RESULT,
        {
            "errcode": 0,
            "send_list": [{"external_userid": "wmEXT1", "userid": "wangfang", "status": 0}],
        },
        {
            "errcode": 0,
            "send_list": [
                {
                    "external_userid": "wmEXT1",
                    "userid": "wangfang",
                    "status": 1,
                    "send_time": 1709346000,
                }
            ],
        },
    )
    assert poll_wecom_receipts(client=wecom, sessions=wx_shop) == 1
    with wx_shop() as s:
        statuses = {m: s.get(OutboxMessage, m).status for m in ("m1", "m2")}  # type: ignore[union-attr]
    assert statuses == {"m1": "sent", "m2": "delivered"}  # m1: the guide has not sent it yet
    assert fake.to(RESULT)[0].body == {"msgid": "msgA", "userid": "wangfang", "limit": 1000}
    fake.script(
        RESULT,
        {"errcode": 0, "send_list": [{"external_userid": "wmEXT1", "status": 2}]},
    )
    assert poll_wecom_receipts(client=wecom, sessions=wx_shop) == 1
    with wx_shop() as s:
        row = s.get(OutboxMessage, "m1")
        assert row is not None
        assert (row.status, row.status_detail) == ("failed", "not a contact of the guide")


async def test_send_message_fails_for_good_with_the_reason_when_there_is_no_binding(
    wecom: WeComClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    acts = JourneyActivities(
        sessions=wx_shop,
        settings=Settings(webhook_secret="s"),
        providers={"wecom": WeComCustomerProvider(wecom, wx_shop)},
    )

    def request(customer: str) -> SendMessageRequest:
        ctx = EffectContext(
            idempotency_key=f"journey-J1-{customer}/0/n1/1",
            workflow_id=f"journey-J1-{customer}",
            journey_id="J1",
            journey_version=1,
            node_id="n1",
            visit=1,
            customer_id=customer,
        )
        return SendMessageRequest(
            ctx=ctx, channel="wecom", content="{{ customer.name }}，券快到期了"
        )

    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request("C2"))
    assert (raised.value.type, raised.value.non_retryable) == (MESSAGE_REJECTED, True)
    assert "customer C2 has no WeCom binding" in str(raised.value)
    sent = await ActivityEnvironment().run(acts.send_message, request("C1"))
    assert sent.status == "sent"
    with wx_shop() as s:
        row = s.get(OutboxMessage, sent.message_id)
        assert row is not None
        assert (row.provider, row.provider_message_id) == ("wecom", "msgGCAAAXtWyuj0001")
    assert fake.to(TEMPLATE)[0].body["text"]["content"] == "李女士，券快到期了"

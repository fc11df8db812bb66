"""WeChat official-account subscribe messages (订阅通知) against a fake api.weixin.qq.com, and
their receipts (``subscribe_msg_sent_event``) at the signed callback."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select
from temporalio.exceptions import ApplicationError

from activities.channels.wechat import WeChatClient, WeChatSettings
from activities.channels.wechat_subscribe import WeChatSubscribeProvider, subscribe_payload
from activities.channels.wx_api import RetryPolicy
from activities.channels.wx_crypto import sha1_signature, xml_lists
from activities.channels.wx_providers import wx_providers, wx_rates
from activities.messaging import send_message
from activities.providers import (
    MessageRejectedError,
    OutboundMessage,
    ThrottledError,
    TransientDeliveryError,
)
from canvas_ui.app import create_app
from canvas_ui.routes.wx_callbacks import get_wechat_settings
from db.models import Customer, OutboxMessage
from engine.effects import MESSAGE_REJECTED
from settings import Settings
from tests.channels.conftest import sms
from tests.channels.wx_fake import FakeWx
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    CALLBACK_TOKEN,
    fake,
    http,
    sleeps,
    wechat,
    wechat_settings,
    wx_shop,
)

SEND = "/cgi-bin/message/subscribe/bizsend"
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
TS, NONCE = "1709345000", "n0nce"


@pytest.fixture
def settings(wechat_settings: WeChatSettings) -> WeChatSettings:
    return wechat_settings.model_copy(update={"subscribe_template_id": "SUB-1"})


@pytest.fixture
def provider(
    settings: WeChatSettings,
    http: httpx.Client,
    sleeps: list[float],
    wx_shop: sessionmaker[Session],
) -> WeChatSubscribeProvider:
    client = WeChatClient(settings, http, retry=RetryPolicy(attempts=3), sleep=sleeps.append)
    return WeChatSubscribeProvider(client, wx_shop)


def _message(customer: str = "C1", body: str = "券即将到期") -> OutboundMessage:
    return OutboundMessage(
        message_id="0e" * 16,
        idempotency_key="wf/1/n1/1",
        customer_id=customer,
        channel="wechat_subscribe",
        subject="",
        body=body,
        journey_id="J1",
        node_id="n1",
    )


# ------------------------------------------------------------------------------ sending


def test_a_plain_message_fills_the_default_template_and_waits_for_its_receipt(
    provider: WeChatSubscribeProvider, fake: FakeWx
) -> None:
    delivery = provider.deliver(_message())
    assert (delivery.status, delivery.provider_message_id) == ("sent", "tpl:SUB-1")
    (call,) = fake.to(SEND)
    assert call.body == {
        "touser": "oOPENID1",
        "template_id": "SUB-1",
        "data": {"thing1": {"value": "券即将到期"}},
    }
    assert call.query["access_token"].startswith("tok-")


def test_a_json_message_is_sent_as_written_with_its_jump(
    provider: WeChatSubscribeProvider, fake: FakeWx
) -> None:
    body = json.dumps(
        {
            "template_id": "SUB-9",
            "page": "https://m.example.com/coupon",
            "data": {"thing1": "李女士的20元券", "time2": {"value": "2026-06-03"}},
        },
        ensure_ascii=False,
    )
    provider.deliver(_message(body=body))
    sent = fake.to(SEND)[0].body
    assert sent["template_id"] == "SUB-9" and sent["page"] == "https://m.example.com/coupon"
    assert sent["data"] == {"thing1": {"value": "李女士的20元券"}, "time2": {"value": "2026-06-03"}}
    assert "miniprogram" not in sent


def test_a_miniprogram_jump_replaces_the_page(settings: WeChatSettings) -> None:
    body = '{"data": {"thing1": "会员日"}, "miniprogram": {"appid": "wxMINI", "pagepath": "p/i"}}'
    payload = subscribe_payload(settings, openid="o1", message=_message(body=body))
    assert payload["miniprogram"] == {"appid": "wxMINI", "pagepath": "p/i"}
    assert "page" not in payload


def test_a_refusing_customer_is_a_permanent_failure_naming_the_reason(
    provider: WeChatSubscribeProvider, fake: FakeWx
) -> None:
    fake.script(SEND, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    with pytest.raises(MessageRejectedError, match="43101: the customer refused"):
        provider.deliver(_message())


def test_a_refusal_follows_the_steps_on_failure_and_marks_the_outbox_row(
    provider: WeChatSubscribeProvider, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    fake.script(SEND, {"errcode": 43101, "errmsg": "user refuse to accept the msg"})
    request = sms("C1", channel="wechat_subscribe")
    with pytest.raises(ApplicationError) as caught:
        send_message(wx_shop, provider, request, lambda: NOW)
    assert caught.value.type == MESSAGE_REJECTED and caught.value.non_retryable
    assert "refused this subscribe message" in str(caught.value)
    with wx_shop() as s:
        row = s.exec(select(OutboxMessage).where(OutboxMessage.customer_id == "C1")).one()
        assert row.status == "failed" and "43101" in row.provider_response
        assert row.channel == "wechat_subscribe"


def test_throttling_is_raised_for_the_rate_limiter(
    provider: WeChatSubscribeProvider, fake: FakeWx
) -> None:
    fake.script(SEND, {"errcode": 45009, "errmsg": "reach max api daily quota limit"})
    with pytest.raises(ThrottledError):
        provider.deliver(_message())


def test_5xx_is_retried_then_sent(
    provider: WeChatSubscribeProvider, fake: FakeWx, sleeps: list[float]
) -> None:
    fake.script(SEND, 503, 502)
    assert provider.deliver(_message()).status == "sent"
    assert sleeps == [0.5, 1.0] and len(fake.to(SEND)) == 3


def test_5xx_that_lasts_is_transient(provider: WeChatSubscribeProvider, fake: FakeWx) -> None:
    fake.script(SEND, 503, 503, 503)
    with pytest.raises(TransientDeliveryError, match="HTTP 503"):
        provider.deliver(_message())


def test_a_stale_token_is_refreshed_once(provider: WeChatSubscribeProvider, fake: FakeWx) -> None:
    provider.deliver(_message())
    fake.expire_tokens()
    provider.deliver(_message())
    assert [c.body["force_refresh"] for c in fake.to("/cgi-bin/stable_token")] == [False, True]


def test_a_field_too_long_is_refused_before_wechat_is_asked(
    provider: WeChatSubscribeProvider, fake: FakeWx
) -> None:
    with pytest.raises(MessageRejectedError, match="thing1 takes at most 20 characters"):
        provider.deliver(_message(body="您的20元优惠券将在3天后到期，欢迎到南京西路店使用"))
    assert fake.to(SEND) == []


def test_no_openid_or_no_template_fails_for_good(
    provider: WeChatSubscribeProvider, settings: WeChatSettings, fake: FakeWx
) -> None:
    with pytest.raises(MessageRejectedError, match="customer C2 has no WeChat openid"):
        provider.deliver(_message("C2"))
    bare = settings.model_copy(update={"subscribe_template_id": ""})
    with pytest.raises(MessageRejectedError, match="JOURNEYS_WECHAT_SUBSCRIBE_TEMPLATE_ID"):
        subscribe_payload(bare, openid="o1", message=_message())
    assert fake.to(SEND) == []


def test_the_channel_is_delivered_when_wechat_is_configured(
    settings: WeChatSettings, http: httpx.Client
) -> None:
    found = wx_providers(http=http, sessions=None, wechat=settings)
    assert found["wechat_subscribe"].name == "wechat_subscribe"
    assert wx_rates(wechat=settings)["wechat_subscribe"] == settings.subscribe_rate_per_second


def test_a_body_field_that_is_no_template_field_names_the_variable(
    settings: WeChatSettings,
) -> None:
    wrong = settings.model_copy(update={"subscribe_body_field": "正文"})
    (problem,) = wrong.problems()
    assert problem.variable == "JOURNEYS_WECHAT_SUBSCRIBE_BODY_FIELD"


# ------------------------------------------------------------------------------ receipts


@pytest.fixture
def client(
    engine: Engine, db_url: str, wx_shop: sessionmaker[Session], settings: WeChatSettings
) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, secret_key="cb-secret"), engine=engine)
    app.dependency_overrides[get_wechat_settings] = lambda: settings
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def sent(wx_shop: sessionmaker[Session]) -> sessionmaker[Session]:
    """Two subscribe messages to C1 of template SUB-1 waiting for receipts (m1 first)."""
    with wx_shop() as s:
        for n in (1, 2):
            s.add(
                OutboxMessage(
                    id=f"m{n}",
                    idempotency_key=f"k{n}",
                    customer_id="C1",
                    channel="wechat_subscribe",
                    body="券即将到期",
                    status="sent",
                    provider="wechat_subscribe",
                    provider_message_id="tpl:SUB-1",
                    sent_at=datetime(2026, 6, 1, 2, n, tzinfo=UTC),
                )
            )
        s.commit()
    return wx_shop


def _params(signature: str | None = None) -> dict[str, str]:
    return {
        "signature": signature or sha1_signature(CALLBACK_TOKEN, TS, NONCE),
        "timestamp": TS,
        "nonce": NONCE,
    }


def _sent_event(msgid: str, code: int = 0, status: str = "success", tpl: str = "SUB-1") -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_123456789abc]]></ToUserName>"
        "<FromUserName><![CDATA[oOPENID1]]></FromUserName><CreateTime>1709346000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[subscribe_msg_sent_event]]></Event>"
        f"<SubscribeMsgSentEvent><List><TemplateId><![CDATA[{tpl}]]></TemplateId>"
        f"<MsgID>{msgid}</MsgID><ErrorCode>{code}</ErrorCode>"
        f"<ErrorStatus><![CDATA[{status}]]></ErrorStatus></List></SubscribeMsgSentEvent></xml>"
    )


def _rows(sessions: sessionmaker[Session]) -> list[tuple[str, str, str | None, str]]:
    with sessions() as s:
        rows = s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))).all()
        return [(r.id, r.status, r.provider_message_id, r.status_detail) for r in rows]


def test_receipts_go_to_the_oldest_waiting_message_once(
    client: TestClient, sent: sessionmaker[Session]
) -> None:
    first = client.post("/callbacks/wechat", params=_params(), content=_sent_event("1700"))
    assert (first.status_code, first.text) == (200, "success")
    again = client.post("/callbacks/wechat", params=_params(), content=_sent_event("1700"))
    assert again.status_code == 200  # WeChat repeats: nothing changes
    assert _rows(sent) == [
        ("m1", "delivered", "1700", "success"),
        ("m2", "sent", "tpl:SUB-1", ""),
    ]
    client.post(
        "/callbacks/wechat",
        params=_params(),
        content=_sent_event("1701", code=20004, status="failed:user block"),
    )
    assert _rows(sent)[1] == ("m2", "failed", "1701", "failed:user block (ErrorCode 20004)")


def test_a_receipt_with_a_bad_signature_is_401_and_changes_nothing(
    client: TestClient, sent: sessionmaker[Session]
) -> None:
    answer = client.post("/callbacks/wechat", params=_params("f" * 40), content=_sent_event("1700"))
    assert answer.status_code == 401
    assert [r[1] for r in _rows(sent)] == ["sent", "sent"]


def test_a_receipt_no_message_waits_for_is_404(
    client: TestClient, sent: sessionmaker[Session]
) -> None:
    answer = client.post(
        "/callbacks/wechat", params=_params(), content=_sent_event("1800", tpl="SUB-OTHER")
    )
    assert answer.status_code == 404 and "1800" in answer.json()["detail"]
    assert [r[1] for r in _rows(sent)] == ["sent", "sent"]


def test_a_subscription_choice_is_acknowledged_and_opts_nobody_out(
    client: TestClient, sent: sessionmaker[Session]
) -> None:
    event = (
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName>"
        "<FromUserName><![CDATA[oOPENID1]]></FromUserName><CreateTime>1709346000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe_msg_popup_event]]></Event>"
        "<SubscribeMsgPopupEvent><List><TemplateId><![CDATA[SUB-1]]></TemplateId>"
        "<SubscribeStatusString><![CDATA[reject]]></SubscribeStatusString>"
        "<PopupScene>2</PopupScene></List></SubscribeMsgPopupEvent></xml>"
    )
    assert xml_lists(event) == [
        {"TemplateId": "SUB-1", "SubscribeStatusString": "reject", "PopupScene": "2"}
    ]
    answer = client.post("/callbacks/wechat", params=_params(), content=event)
    assert answer.status_code == 200
    with sent() as s:
        customer = s.get(Customer, "C1")
        assert customer is not None and "wechat_subscribe" not in customer.opted_out_channels

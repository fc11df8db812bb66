"""WeChat official-account template messages against a fake api.weixin.qq.com."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.errors import ProviderAuthError
from activities.channels.wechat import WeChatClient, WeChatSettings, WeChatTemplateProvider
from activities.providers import MessageRejectedError, OutboundMessage, ThrottledError
from tests.channels.wx_fake import APP_SECRET, FakeWx
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    fake,
    http,
    sleeps,
    wechat,
    wechat_settings,
    wx_shop,
)

SEND = "/cgi-bin/message/template/send"


def _message(
    customer: str = "C1", body: str = "您的20元券3天后到期", subject: str = ""
) -> OutboundMessage:
    return OutboundMessage(
        message_id="0f" * 16,
        idempotency_key="wf/1/n1/1",
        customer_id=customer,
        channel="wechat_template",
        subject=subject,
        body=body,
        journey_id="J1",
        node_id="n1",
    )


def test_a_template_message_goes_to_the_openid_with_a_dedupe_id(
    wechat: WeChatClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    delivery = WeChatTemplateProvider(wechat, wx_shop).deliver(_message(subject="券到期提醒"))
    assert (delivery.status, delivery.provider_message_id) == ("sent", "200228332")
    (call,) = fake.to(SEND)
    assert call.body == {
        "touser": "oOPENID1",
        "template_id": "TPL-1",
        "data": {"keyword1": {"value": "您的20元券3天后到期"}, "first": {"value": "券到期提醒"}},
        "client_msg_id": "0f" * 16,
    }
    (token_call,) = fake.to("/cgi-bin/stable_token")
    assert token_call.body["grant_type"] == "client_credential"
    assert token_call.body["force_refresh"] is False


def test_a_body_written_as_template_json_is_sent_as_written(
    wechat: WeChatClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    body = json.dumps(
        {
            "template_id": "TPL-9",
            "url": "https://m.example.com/c",
            "data": {"thing1": "李女士", "time2": {"value": "6月3日"}},
        },
        ensure_ascii=False,
    )
    WeChatTemplateProvider(wechat, wx_shop).deliver(_message(body=body))
    sent = fake.to(SEND)[0].body
    assert sent["template_id"] == "TPL-9" and sent["url"] == "https://m.example.com/c"
    assert sent["data"] == {"thing1": {"value": "李女士"}, "time2": {"value": "6月3日"}}


def test_a_customer_without_an_openid_fails_for_good(
    wechat: WeChatClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    with pytest.raises(MessageRejectedError, match="customer C2 has no WeChat openid"):
        WeChatTemplateProvider(wechat, wx_shop).deliver(_message("C2"))
    assert fake.to(SEND) == []


def test_an_unsubscribed_customer_is_a_permanent_failure_in_words(
    wechat: WeChatClient, wx_shop: sessionmaker[Session], fake: FakeWx
) -> None:
    fake.script(SEND, {"errcode": 43004, "errmsg": "require subscribe"})
    with pytest.raises(MessageRejectedError, match="does not follow the official account"):
        WeChatTemplateProvider(wechat, wx_shop).deliver(_message())


def test_a_stale_token_is_force_refreshed_once(wechat: WeChatClient, fake: FakeWx) -> None:
    wechat.send_template({"touser": "o", "template_id": "t", "data": {}})
    fake.expire_tokens()
    wechat.send_template({"touser": "o", "template_id": "t", "data": {}})
    tokens = fake.to("/cgi-bin/stable_token")
    assert [c.body["force_refresh"] for c in tokens] == [False, True]


def test_quota_errors_are_throttling(wechat: WeChatClient, fake: FakeWx) -> None:
    fake.script(SEND, {"errcode": 45009, "errmsg": "reach max api daily quota limit"})
    with pytest.raises(ThrottledError):
        wechat.send_template({"touser": "o", "template_id": "t", "data": {}})


def test_5xx_is_retried(wechat: WeChatClient, fake: FakeWx, sleeps: list[float]) -> None:
    fake.script(SEND, 503)
    assert wechat.send_template({"touser": "o", "template_id": "t", "data": {}}) == "200228332"
    assert sleeps == [0.5]


def test_bad_credentials_name_the_variables(
    wechat_settings: WeChatSettings, http: httpx.Client, fake: FakeWx
) -> None:
    wrong = wechat_settings.model_copy(update={"secret": SecretStr("wrong-secret")})
    with pytest.raises(ProviderAuthError, match="JOURNEYS_WECHAT_SECRET") as caught:
        WeChatClient(wrong, http).send_template({"touser": "o", "template_id": "t", "data": {}})
    assert "wrong-secret" not in str(caught.value) and APP_SECRET not in str(caught.value)
    assert fake.to(SEND) == []

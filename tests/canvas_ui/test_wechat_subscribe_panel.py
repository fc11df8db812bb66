"""The WeChat subscribe-message channel in the web app: a choice of the message panel, its
content checked with a diagnostic in the marketer's language, previewed like any message
(a test send goes to the sender's own openid), and a filter of the outbox page."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from db.models import Customer, OutboxMessage, UserAccount
from tests.canvas_ui.harness import create_journey, linear_document
from tests.canvas_ui.test_message_preview import _form, _journey
from tests.channels.wx_fake import APP_ID, APP_SECRET, running_fake

HX = {"HX-Request": "true"}
CONTENT = (
    '{"template_id": "SUB-1", "data": {"thing1": "{{ customer.name }}的券", "time2": "6月3日"}}'
)


def test_the_panel_offers_the_channel_and_previews_it(
    client: TestClient, canvas_app: FastAPI
) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C9", name="林小雨", phone="13800009999"))
        s.commit()
    jid = _journey(client)
    panel = client.get(f"/journeys/{jid}/nodes/msg/panel", headers=HX)
    assert panel.status_code == 200 and 'value="wechat_subscribe"' in panel.text
    assert "WeChat subscribe message" in panel.text
    url = f"/journeys/{jid}/nodes/msg"
    preview = client.post(
        f"{url}/preview", data=_form(CONTENT, "C9", channel="wechat_subscribe"), headers=HX
    )
    assert preview.status_code == 200 and "林小雨的券" in preview.text
    # no openid on the tester's profile yet: the panel asks for it
    test = client.post(
        f"{url}/test-send", data=_form(CONTENT, channel="wechat_subscribe"), headers=HX
    )
    assert test.status_code == 422 and 'data-field="wechat_openid"' in test.text
    assert "Your WeChat OpenID" in test.text


def test_content_that_fits_no_template_is_a_diagnostic_in_both_languages(
    client: TestClient,
) -> None:
    doc = linear_document()
    doc["nodes"].insert(
        3,
        {
            "id": "msg",
            "kind": "send_message",
            "label": "到期提醒",
            "position": {"x": 750, "y": 0},
            "config": {
                "channel": "wechat_subscribe",
                "content": '{"data": {"thing1": "这是一段超过二十个字的会员日活动说明文字呀"}}',
            },
        },
    )
    doc["edges"][2] = {"id": "e3", "source": "coupon", "source_port": "next", "target": "msg"}
    doc["edges"].append({"id": "e4", "source": "msg", "source_port": "next", "target": "exit"})
    jid = create_journey(client, doc)
    en = client.post(f"/api/journeys/{jid}/validate")
    zh = client.post(f"/api/journeys/{jid}/validate", headers={"Accept-Language": "zh-CN"})
    (found,) = [d for d in en.json()["diagnostics"] if d["code"] == "WECHAT_SUBSCRIBE_CONTENT"]
    assert "“thing1”" in found["message"] and "20 characters" in found["message"]
    assert "到期提醒" in found["message"]
    (found_zh,) = [d for d in zh.json()["diagnostics"] if d["code"] == "WECHAT_SUBSCRIBE_CONTENT"]
    assert "微信会拒收" in found_zh["message"]


def test_the_outbox_filters_subscribe_messages(client: TestClient, canvas_app: FastAPI) -> None:
    at = datetime.now(UTC)
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C9", name="林小雨"))
        for mid, channel in (("m1", "wechat_subscribe"), ("m2", "sms")):
            s.add(
                OutboxMessage(
                    id=mid,
                    idempotency_key=f"k-{mid}",
                    customer_id="C9",
                    channel=channel,
                    body=f"正文 {mid}",
                    status="sent",
                    provider=channel,
                    created_at=at,
                    sent_at=at,
                )
            )
        s.commit()
    page = client.get("/outbox?channel=wechat_subscribe")
    assert page.status_code == 200
    assert "正文 m1" in page.text and "正文 m2" not in page.text
    assert "WeChat subscribe message" in page.text


def test_a_test_send_goes_to_my_own_openid(
    client: TestClient, canvas_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_fake() as fake:
        for name, value in {
            "APP_ID": APP_ID,
            "SECRET": APP_SECRET,
            "BASE_URL": fake.base_url,
        }.items():
            monkeypatch.setenv(f"JOURNEYS_WECHAT_{name}", value)
        url = f"/journeys/{_journey(client)}/nodes/msg/test-send"
        data = {**_form(CONTENT, channel="wechat_subscribe"), "my_address": "oMyOwnOpenid0001"}
        sent = client.post(url, data=data, headers=HX)
        assert sent.status_code == 200, sent.text
        assert "data-test-sent" in sent.text and "oMyOwnOpenid0001" in sent.text
        (call,) = fake.to("/cgi-bin/message/subscribe/bizsend")
        assert call.body["touser"] == "oMyOwnOpenid0001"
        assert call.body["data"]["thing1"] == {"value": "测试客户的券"}
        with Session(canvas_app.state.engine) as s:
            account = s.exec(select(UserAccount).where(UserAccount.username == "hq")).one()
            assert account.wechat_openid == "oMyOwnOpenid0001"
            (row,) = s.exec(select(OutboxMessage))
            assert (row.is_test, row.provider, row.channel) == (
                True,
                "wechat_subscribe",
                "wechat_subscribe",
            )
        # not subscribed to the template: WeChat's refusal is said, naming the reason
        fake.script(
            "/cgi-bin/message/subscribe/bizsend",
            {"errcode": 43101, "errmsg": "user refuse to accept the msg"},
        )
        refused = client.post(url, data=_form(CONTENT, channel="wechat_subscribe"), headers=HX)
        assert refused.status_code == 422 and 'data-field="provider"' in refused.text
        assert "43101" in refused.text

"""The WeChat subscribe-message channel in the web app: a choice of the message panel, its
content checked with a diagnostic in the marketer's language, previewed like any message
(a test send is refused naming the channel), and a filter of the outbox page."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from db.models import Customer, OutboxMessage
from tests.canvas_ui.harness import create_journey, linear_document
from tests.canvas_ui.test_message_preview import _form, _journey

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
    test = client.post(
        f"{url}/test-send", data=_form(CONTENT, channel="wechat_subscribe"), headers=HX
    )
    assert test.status_code == 422 and 'data-field="channel"' in test.text


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

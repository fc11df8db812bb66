"""The send_message panel's preview and test send (issue 16 item 5): the engine's renderer
for a real or synthetic customer with sample values of upstream steps; a test goes to the
signed-in user's own phone through the configured provider and is recorded as a test; bad
input is a 422 naming what is wrong, never a 500."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from activities.providers import Delivery, MessageRejectedError, OutboundMessage
from db.models import Customer, OutboxMessage, UserAccount
from tests.canvas_ui.harness import create_journey, linear_document

HX = {"HX-Request": "true"}


class FakeSms:
    """Takes every message (or refuses one with ``refuse``) and keeps what it got."""

    name = "outbox"

    def __init__(self, refuse: str = "") -> None:
        self.got: list[OutboundMessage] = []
        self.refuse = refuse

    def deliver(self, message: OutboundMessage) -> Delivery:
        if self.refuse:
            raise MessageRejectedError(self.refuse)
        self.got.append(message)
        return Delivery(status="sent", response="OK", provider_message_id="biz-1")


def _journey(client: TestClient) -> str:
    doc = linear_document()
    doc["nodes"].insert(
        3,
        {
            "id": "msg",
            "kind": "send_message",
            "label": "提醒",
            "position": {"x": 750, "y": 0},
            "config": {"channel": "sms", "content": "x"},
        },
    )
    doc["edges"][2] = {"id": "e3", "source": "coupon", "source_port": "next", "target": "msg"}
    doc["edges"].append({"id": "e4", "source": "msg", "source_port": "next", "target": "exit"})
    return create_journey(client, doc)


def _form(content: str, customer: str = "", channel: str = "sms") -> dict[str, Any]:
    return {
        "config.channel": channel,
        "config.content": content,
        "config.subject": "",
        "preview_customer": customer,
    }


def _seed(app: FastAPI, phone: str = "13912345678") -> None:
    with Session(app.state.engine) as s:
        s.add(Customer(id="C9", name="林小雨", phone="13800009999"))
        account = s.exec(select(UserAccount).where(UserAccount.username == "hq")).one()
        account.phone = phone
        s.add(account)
        s.commit()


def test_preview_renders_for_a_real_and_a_synthetic_customer(
    client: TestClient, canvas_app: FastAPI
) -> None:
    _seed(canvas_app)
    jid = _journey(client)
    text = "{{ customer.name }}您好，券码{{ ctx.coupon.code }}"
    real = client.post(f"/journeys/{jid}/nodes/msg/preview", data=_form(text, "林小"), headers=HX)
    assert real.status_code == 200, real.text
    assert "林小雨您好，券码CPN8F3K2Q" in real.text
    assert "C9" in real.text
    synthetic = client.post(f"/journeys/{jid}/nodes/msg/preview", data=_form(text), headers=HX)
    assert synthetic.status_code == 200
    assert "测试客户您好，券码CPN8F3K2Q" in synthetic.text
    assert "data-opted-out" not in real.text
    with Session(canvas_app.state.engine) as s:
        assert list(s.exec(select(OutboxMessage))) == []  # a preview sends nothing
        customer = s.get(Customer, "C9")
        assert customer is not None
        customer.opted_out_channels = ["sms"]
        s.add(customer)
        s.commit()
    left = client.post(f"/journeys/{jid}/nodes/msg/preview", data=_form(text, "C9"), headers=HX)
    assert left.status_code == 200 and "data-opted-out" in left.text


def test_test_send_goes_to_my_phone_and_is_marked_as_a_test(
    client: TestClient, canvas_app: FastAPI
) -> None:
    _seed(canvas_app)
    fake = FakeSms()
    canvas_app.state.test_send_providers = {"sms": fake}
    jid = _journey(client)
    response = client.post(
        f"/journeys/{jid}/nodes/msg/test-send", data=_form("{{ customer.name }}您好"), headers=HX
    )
    assert response.status_code == 200, response.text
    assert "5678" in response.text and "13912345678" not in response.text
    (got,) = fake.got
    assert (got.phone, got.body, got.channel) == ("13912345678", "测试客户您好", "sms")
    with Session(canvas_app.state.engine) as s:
        (row,) = s.exec(select(OutboxMessage))
    assert (row.is_test, row.status, row.customer_id, row.workflow_id) == (True, "sent", "", None)
    assert (row.journey_id, row.node_id, row.provider_message_id) == (jid, "msg", "biz-1")


def test_bad_input_is_a_422_naming_it(client: TestClient, canvas_app: FastAPI) -> None:
    _seed(canvas_app, phone="")
    canvas_app.state.test_send_providers = {"sms": FakeSms()}
    jid = _journey(client)
    url = f"/journeys/{jid}/nodes/msg"
    cases = [
        ("preview", _form("{{ customer.name", ""), "content"),
        ("preview", _form("   "), "content"),
        ("preview", _form("hi", "nobody-here"), "customer"),
        ("preview", _form("hi", channel="fax"), "channel"),
        ("test-send", _form("hi"), "phone"),  # no phone on the profile
        ("test-send", _form("hi", channel="webhook"), "channel"),
        ("test-send", _form("hi", channel="wechat_template"), "wechat_openid"),  # none yet
    ]
    for action, data, field in cases:
        response = client.post(f"{url}/{action}", data=data, headers=HX)
        assert response.status_code == 422, (action, data, response.text)
        assert f'data-field="{field}"' in response.text, (action, field, response.text)
    missing = client.post("/journeys/nope/nodes/msg/preview", data=_form("hi"), headers=HX)
    assert missing.status_code == 404


def test_a_provider_refusal_is_recorded_and_said(client: TestClient, canvas_app: FastAPI) -> None:
    _seed(canvas_app)
    canvas_app.state.test_send_providers = {"sms": FakeSms(refuse="isv.MOBILE_NUMBER_ILLEGAL")}
    jid = _journey(client)
    response = client.post(f"/journeys/{jid}/nodes/msg/test-send", data=_form("hi"), headers=HX)
    assert response.status_code == 422
    assert "isv.MOBILE_NUMBER_ILLEGAL" in response.text
    with Session(canvas_app.state.engine) as s:
        (row,) = s.exec(select(OutboxMessage))
    assert (row.is_test, row.status) == (True, "failed")


def test_the_panel_offers_preview_and_test(client: TestClient) -> None:
    jid = _journey(client)
    panel = client.get(f"/journeys/{jid}/nodes/msg/panel", headers=HX)
    assert panel.status_code == 200
    assert 'id="message-preview"' in panel.text and "data-test-send" in panel.text
    coupon = client.get(f"/journeys/{jid}/nodes/coupon/panel", headers=HX)
    assert 'id="message-preview"' not in coupon.text


def test_a_missing_phone_is_asked_for_saved_and_used(
    client: TestClient, canvas_app: FastAPI
) -> None:
    _seed(canvas_app, phone="")
    fake = FakeSms()
    canvas_app.state.test_send_providers = {"sms": fake}
    jid = _journey(client)
    url = f"/journeys/{jid}/nodes/msg/test-send"
    asked = client.post(url, data=_form("hi"), headers=HX)
    assert asked.status_code == 422 and 'name="my_address"' in asked.text
    bad = client.post(url, data={**_form("hi"), "my_address": "12345"}, headers=HX)
    assert bad.status_code == 422 and 'data-field="my_address"' in bad.text
    assert 'name="my_address"' in bad.text
    ok = client.post(url, data={**_form("hi"), "my_address": "+86 139-1234-5678"}, headers=HX)
    assert ok.status_code == 200, ok.text
    assert [m.phone for m in fake.got] == ["+8613912345678"]
    with Session(canvas_app.state.engine) as s:
        account = s.exec(select(UserAccount).where(UserAccount.username == "hq")).one()
    assert account.phone == "+8613912345678"


def test_a_wecom_test_goes_to_my_wecom_account(client: TestClient, canvas_app: FastAPI) -> None:
    _seed(canvas_app)
    fake = FakeSms()
    canvas_app.state.test_send_providers = {"wecom": fake}
    jid = _journey(client)
    url = f"/journeys/{jid}/nodes/msg/test-send"
    asked = client.post(url, data=_form("hi", channel="wecom"), headers=HX)
    assert asked.status_code == 422 and 'data-field="wecom_userid"' in asked.text
    ok = client.post(url, data={**_form("hi", channel="wecom"), "my_address": "li.hq"}, headers=HX)
    assert ok.status_code == 200, ok.text
    assert "li.hq" in ok.text and len(fake.got) == 1


def test_the_wecom_app_test_provider_sends_an_app_message() -> None:
    from services.message_preview import WeComAppTest

    class Client:
        sent: list[tuple[str, str]] = []

        def send_app_text(self, *, userid: str, content: str) -> str:
            self.sent.append((userid, content))
            return "msg-1"

    stub = Client()
    provider = WeComAppTest(stub, "li.hq")  # type: ignore[arg-type]
    message = OutboundMessage("m", "k", "", "wecom", "标题", "正文", None, None)
    delivery = provider.deliver(message)
    assert stub.sent == [("li.hq", "标题\n正文")]
    assert (delivery.status, delivery.provider_message_id) == ("sent", "msg-1")


def test_sample_values_of_earlier_steps_come_from_each_kinds_shown_fields() -> None:
    from datetime import UTC, datetime

    from engine.kinds import KINDS
    from services.message_preview import sample_context

    now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    upstream = {k.value: k.value for k in KINDS}
    samples = sample_context({**upstream, "junk": "no_such_kind"}, now)
    assert set(samples) == {k.value for k, s in KINDS.items() if s.shown_fields}
    assert samples["send_coupon"]["code"] == "CPN8F3K2Q"
    assert samples["send_coupon"]["expires_at"].startswith("2026-04-01")  # now + 30 days
    assert samples["award_points"]["points_expire_at"].startswith("2027-03-02")
    for kind, values in samples.items():
        assert set(values) == {f.name for f in KINDS[kind].shown_fields}  # type: ignore[index]

"""The customer card (issue 16): the channels a customer left, how and when, with HQ's
"opt back in"; their last messages with delivery status (sent → delivered / failed, the
provider's detail); test sends are not the customer's messages."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from db.models import Customer, OutboxMessage
from services import opt_outs

HX = {"HX-Request": "true"}
AT = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)


def _message(mid: str, status: str, **fields: Any) -> OutboxMessage:
    return OutboxMessage(
        id=mid,
        idempotency_key=f"k-{mid}",
        customer_id="C000888",
        channel="sms",
        body=f"正文 {mid}",
        status=status,
        created_at=AT,
        sent_at=AT,
        **fields,
    )


def test_card_shows_opt_outs_and_delivery_status(client: TestClient, canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(
            Customer(id="C000888", name="钱女士", phone="13800008888", opted_out_channels=["email"])
        )
        s.commit()
        opt_outs.opt_out(s, customer_id="C000888", channel="sms", source="sms_reply", at=AT)
        s.add(_message("m1", "delivered", delivered_at=AT, status_detail="DELIVRD"))
        s.add(_message("m2", "failed", failed_at=AT, status_detail="UNDELIV:MK:0001"))
        s.add(_message("m3", "sent"))
        s.add(_message("t1", "sent", is_test=True))
        s.commit()
    page = client.get("/customers?q=C000888", headers=HX)
    assert page.status_code == 200
    html = page.text
    assert 'data-channel="sms"' in html and 'data-channel="email"' in html
    assert "SMS reply (T / TD / 退订)" in html and "Customer profile (imported)" in html
    assert 'data-status="delivered"' in html and "DELIVRD" in html
    assert 'data-status="failed"' in html and "UNDELIV:MK:0001" in html
    assert 'data-status="sent"' in html
    assert 'data-message="t1"' not in html  # a test send went to its sender
    # zh-CN words
    zh = client.get("/customers?q=C000888", headers={**HX, "Accept-Language": "zh-CN"})
    assert "已送达" in zh.text and "短信回复退订" in zh.text

    back = client.post(
        "/customers/C000888/opt-in", data={"channel": "sms", "q": "C000888"}, headers=HX
    )
    assert back.status_code == 200
    assert 'data-channel="sms"' not in back.text and 'data-channel="email"' in back.text
    with Session(canvas_app.state.engine) as s:
        assert not opt_outs.is_opted_out(s, customer_id="C000888", channel="sms")


def test_opt_in_bad_input_is_4xx(client: TestClient, canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C000889", name="孙先生", phone="13800008889"))
        s.commit()
    assert (
        client.post("/customers/NOPE/opt-in", data={"channel": "sms"}, headers=HX).status_code
        == 404
    )
    bad = client.post("/customers/C000889/opt-in", data={"channel": "fax"}, headers=HX)
    assert bad.status_code == 422 and "channel" in bad.text
    assert client.post("/customers/C000889/opt-in", data={}, headers=HX).status_code == 422


def test_the_guide_card_shows_the_channels_left(client: TestClient, canvas_app: FastAPI) -> None:
    from db.models import Guide, Region, Store
    from services import accounts

    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Guide(id="G1", store_id="S1", name="王导购", role="guide", daily_capacity=20))
        s.commit()
        s.add(Customer(id="C1", name="李女士", phone="13800001234", store_id="S1", guide_id="G1"))
        s.commit()
        opt_outs.opt_out(s, customer_id="C1", channel="wecom", source="provider_callback", at=AT)
        accounts.create_user(
            session=s, username="g1", password="pw-g1", role="guide", guide_id="G1"
        )
        _principal, cookie = accounts.login(
            session=s, username="g1", password="pw-g1", secret=canvas_app.state.settings.secret_key
        )
    client.cookies.set(accounts.SESSION_COOKIE, cookie)
    page = client.get("/workbench/customers/C1")
    assert page.status_code == 200, page.text
    assert 'data-channel="wecom"' in page.text and "Opted out of WeCom" in page.text
    assert "/opt-in" not in page.text  # opting back in is HQ's, on the HQ card

"""Real Chromium (zh-CN): the message panel's preview and test send (issue 16). The text as
typed (not applied yet) is rendered for a real customer picked by name and for the synthetic
one, with a sample coupon code of the step before; "send a test to me" asks for the user's
phone the first time, then sends through the provider and says where it went."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from activities.providers import Delivery, OutboundMessage
from db.models import Customer
from tests.ui.canvas_driver import open_editor
from tests.ui.test_canvas import _message_document, _open_panel

pytestmark = pytest.mark.ui


class FakeSms:
    name = "fake_sms"

    def __init__(self) -> None:
        self.got: list[OutboundMessage] = []

    def deliver(self, message: OutboundMessage) -> Delivery:
        self.got.append(message)
        return Delivery(status="sent", response="OK", provider_message_id="biz-9")


def test_preview_and_test_send_in_the_panel(
    page: Page, client_for: httpx.Client, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C000321", name="林小雨", phone="13800000321"))
        s.commit()
    fake = FakeSms()
    canvas_app.state.test_send_providers = {"sms": fake}
    doc: dict[str, Any] = _message_document()
    jid = client_for.post("/api/journeys", json={"name": "到期提醒", "document": doc}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    _open_panel(page, "send-message-x1")
    panel = page.locator("#panel")
    panel.locator('textarea[name="config.content"]').fill(
        "{{ customer.name }}您好，券码 {{ ctx.coupon.code }} 即将到期"
    )

    # a real customer, found by part of the name
    panel.locator("#preview-customer").fill("林小")
    panel.get_by_role("button", name="预览", exact=True).click()
    body = panel.locator("[data-preview-body]")
    expect(body).to_have_text("林小雨您好，券码 CPN8F3K2Q 即将到期")
    expect(panel.locator("#message-preview-result")).to_contain_text("C000321")

    # the synthetic customer
    panel.locator("#preview-customer").fill("")
    panel.get_by_role("button", name="预览", exact=True).click()
    expect(body).to_have_text("测试客户您好，券码 CPN8F3K2Q 即将到期")
    panel.screenshot(path=str(artifacts / "message-preview.png"))

    # a broken template says what is wrong, in place
    panel.locator('textarea[name="config.content"]').fill("{{ customer.name 您好")
    panel.get_by_role("button", name="预览", exact=True).click()
    expect(panel.locator('#message-preview-result [data-field="content"]')).to_contain_text(
        "消息内容无法渲染"
    )

    # test send: no phone on the account yet -> asked for, then sent and recorded
    panel.locator('textarea[name="config.content"]').fill("{{ customer.name }}您好")
    send = panel.get_by_role("button", name="发一条测试给我")
    send.click()
    phone = panel.locator('input[name="my_address"]')
    expect(phone).to_be_visible()
    assert fake.got == []
    phone.fill("139 1234 5678")
    send.click()
    done = panel.locator("[data-test-sent]")
    expect(done).to_contain_text("•••• 5678")
    expect(done).to_contain_text("不计入")
    assert [(m.phone, m.body) for m in fake.got] == [("13912345678", "测试客户您好")]
    panel.screenshot(path=str(artifacts / "message-test-send.png"))
    # recorded as a test, and not a message of any customer
    rows = client_for.get("/api/outbox?tests=true").json()
    assert [(r["is_test"], r["customer_id"], r["status"]) for r in rows] == [(True, "", "sent")]
    assert client_for.get("/api/outbox").json() == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_customer_card_opt_outs_and_delivery(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    from datetime import UTC, datetime

    from db.models import OutboxMessage
    from services import opt_outs

    at = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C000654", name="周女士", phone="13800000654"))
        s.commit()
        opt_outs.opt_out(s, customer_id="C000654", channel="sms", source="sms_reply", at=at)
        s.add(
            OutboxMessage(
                id="m-ui-1",
                idempotency_key="k-ui-1",
                customer_id="C000654",
                channel="wecom",
                body="周女士您好，您的券快到期了",
                status="failed",
                created_at=at,
                failed_at=at,
                status_detail="not a WeCom contact of guide G07",
            )
        )
        s.commit()
    page.goto("/customers?q=C000654")
    card = page.locator("article.customer")
    out = card.locator('[data-opt-outs] li[data-channel="sms"]')
    expect(out).to_contain_text("已退订短信")
    expect(out).to_contain_text("短信回复退订")
    expect(card.locator('tr[data-message="m-ui-1"]')).to_contain_text("失败")
    expect(card.locator('tr[data-message="m-ui-1"]')).to_contain_text("not a WeCom contact")
    page.screenshot(path=str(artifacts / "customer-card-opt-outs.png"), full_page=True)
    # HQ opts her back in, after the app's own dialog
    out.get_by_role("button", name="恢复订阅").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("仅在客户本人要求时操作")
    dialog.locator("[data-confirm=ok]").click()
    expect(card.locator('[data-opt-outs] li[data-channel="sms"]')).to_have_count(0)
    expect(card.locator("[data-opt-outs]")).to_contain_text("所有渠道均可接收")
    with Session(canvas_app.state.engine) as s:
        assert not opt_outs.is_opted_out(s, customer_id="C000654", channel="sms")
    assert page.errors == []  # type: ignore[attr-defined]

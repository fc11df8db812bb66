"""Real Chromium: the workbench card on a phone (issue 18, item 18): "Declined" is not the
suggested action, snooze times read 24-hour in the Chinese UI on an English phone, and the
prepared message is shown before it is sent."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import Session, select

from canvas_ui.routes.workbench import snooze_times
from db.models import Customer, Guide, GuideTask, OutboxMessage, Region, Store
from services.accounts import create_user
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui

PHONE = {"width": 375, "height": 812}
SCRIPT = "您好，您的20元券三天后到期，周末来看看新款？"


def _one_task(canvas_app: FastAPI) -> None:
    now = datetime.now(UTC)
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Guide(id="G1", store_id="S1", name="王导购", role="guide", daily_capacity=20))
        s.commit()
        s.add(Customer(id="C1", name="李女士", phone="13800001234", store_id="S1", guide_id="G1"))
        s.commit()
        s.add(
            GuideTask(
                id="T1",
                idempotency_key="test/T1",
                customer_id="C1",
                guide_id="G1",
                store_id="S1",
                task_type="call",
                title="券到期前回访",
                instructions=SCRIPT,
                status="open",
                outcomes=["interested", "declined"],
                due_at=now + timedelta(hours=3),
                created_at=now,
            )
        )
        s.commit()
        create_user(session=s, username="g1", password="pw-g1-secret", role="guide", guide_id="G1")


def test_snooze_times_are_half_hours_later_today() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    now = datetime(2026, 3, 2, 14, 10, tzinfo=zone)
    times, default = snooze_times(now, zone)
    assert times[0] == "14:30" and times[-1] == "23:30" and default == "15:30"
    late = datetime(2026, 3, 2, 23, 40, tzinfo=zone)
    assert snooze_times(late, zone) == ([], "")


def test_card_actions_on_an_english_phone_in_chinese(
    browser: Any, live_server: LiveServer, canvas_app: FastAPI, artifacts: Path
) -> None:
    _one_task(canvas_app)
    # the phone speaks English, the guide chose Chinese: times must not turn into AM/PM
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="en-US")
    context.add_cookies([{"name": "journeys_lang", "value": "zh-CN", "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login?next=/workbench")
        page.locator("#username").fill("g1")
        page.locator("#password").fill("pw-g1-secret")
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/workbench")
        card = page.locator('[data-task-id="T1"]')
        expect(card.locator('button[data-result="interested"]')).to_have_class(
            re.compile(r"\bprimary\b")
        )
        expect(card.locator('button[data-result="declined"]')).not_to_have_class(
            re.compile(r"\bprimary\b")
        )
        expect(card.locator('button[data-result="not_reached"]')).not_to_have_class(
            re.compile(r"\bprimary\b")
        )
        snooze = card.locator('.snooze select[name="until"]')
        if snooze.count():  # none after 23:30 store time: nothing left to snooze to today
            shown = snooze.locator("option").all_inner_texts()
            assert shown and all(re.fullmatch(r"[0-2]\d:[0-5]\d", t) for t in shown), shown
        assert "AM" not in card.inner_text() and "PM" not in card.inner_text()

        # the message is shown first; nothing is sent until the guide confirms
        card.get_by_text("发送预设消息").click()
        preview = card.locator(".msg-preview-body")
        expect(preview).to_be_visible()
        expect(preview).to_contain_text("发给 李女士 的企业微信消息")
        expect(preview).to_contain_text(SCRIPT)
        with Session(canvas_app.state.engine) as s:
            assert s.exec(select(OutboxMessage)).all() == []
        page.screenshot(path=str(artifacts / "workbench-message-preview.png"), full_page=True)
        preview.get_by_role("button", name="发送这条消息").click()
        expect(page.locator('[data-task-id="T1"] .tc-actions .badge.ok')).to_be_visible()
        with Session(canvas_app.state.engine) as s:
            (sent,) = s.exec(select(OutboxMessage)).all()
        assert sent.body == SCRIPT and sent.customer_id == "C1"
        page.screenshot(path=str(artifacts / "workbench-card-actions.png"), full_page=True)
    finally:
        context.close()
    assert errors == []


def test_the_card_says_when_and_how_the_customer_was_last_contacted(
    browser: Any, live_server: LiveServer, canvas_app: FastAPI
) -> None:
    """智能回访 on the phone (issue 15, item 5): the last contact across journeys and how
    many contacts in 7 / 30 days, before the guide calls."""
    from db.models.contact_policy import ContactLedgerEntry

    _one_task(canvas_app)
    now = datetime.now(UTC)
    with Session(canvas_app.state.engine) as s:
        for key, days, channel in (("a", 3, "sms"), ("b", 12, "wecom"), ("c", 1, "coupon")):
            s.add(
                ContactLedgerEntry(
                    decision_key=key,
                    customer_id="C1",
                    channel=channel,
                    category="marketing",
                    outcome="sent",
                    at=now - timedelta(days=days, hours=1),
                )
            )
        s.commit()
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto("/login?next=/workbench")
        page.locator("#username").fill("g1")
        page.locator("#password").fill("pw-g1-secret")
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/workbench")
        card = page.locator('[data-task-id="T1"]')
        # a coupon is no contact: the SMS three days ago is the last one
        expect(card.locator("[data-last-contact] dd")).to_have_text("3 天前 · 短信")
        expect(card.locator("[data-contacts] dd")).to_have_text("1 / 2")
        page.goto("/workbench/customers/C1")
        expect(page.locator("[data-last-contact] dd")).to_have_text("3 天前 · 短信")
    finally:
        context.close()

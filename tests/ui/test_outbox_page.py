"""Real Chromium: on the outbox page HQ picks "failed" and sees, without a page load, only the
failed message with the provider's words; the URL keeps the filter (issue 16)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db.models import Customer, OutboxMessage

pytestmark = pytest.mark.ui

AT = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)


def test_filter_to_failed_messages_shows_the_providers_detail(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C7", name="赵女士", phone="13800007007"))
        s.commit()
        seeds: tuple[tuple[str, str, dict[str, Any]], ...] = (
            ("m1", "delivered", {"delivered_at": AT, "status_detail": "DELIVRD"}),
            ("m2", "failed", {"failed_at": AT, "status_detail": "UNDELIV:MK:0001 空号"}),
            ("m3", "sent", {}),
        )
        for mid, status, extra in seeds:
            s.add(
                OutboxMessage(
                    id=mid,
                    idempotency_key=f"k-{mid}",
                    customer_id="C7",
                    channel="sms",
                    body="赵女士您好，您的优惠券 3 天后到期",
                    status=status,
                    provider="aliyun_sms",
                    created_at=AT + timedelta(minutes=int(mid[1])),
                    sent_at=AT,
                    **extra,
                )
            )
        s.commit()
    page.goto("/outbox")
    rows = page.locator("#outbox-table tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator('.outbox-counts [data-status="failed"]')).to_contain_text("1")
    page.select_option('select[name="status"]', "failed")
    expect(page).to_have_url(re.compile(r"/outbox\?.*status=failed"))
    expect(rows).to_have_count(1)
    row = rows.first
    expect(row).to_have_attribute("data-status", "failed")
    expect(row.locator(".delivery-detail")).to_have_text("UNDELIV:MK:0001 空号")
    expect(row).to_contain_text("赵女士")
    expect(row).to_contain_text("短信")
    page.screenshot(path=str(artifacts / "outbox-failed.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]

"""Real Chromium: a guide's own results on the phone workbench (issue 14 item 4): this
month's attributed orders and sales on the workbench, and per task whether it converted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import Session

from db import crud
from db.models import Customer, Guide, GuideTask, OrderCreate, Region, Store
from services.accounts import create_user
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui

PHONE = {"width": 375, "height": 812}


def _month_of_g1(canvas_app: FastAPI) -> None:
    """G1's month: C1 (bound to G1) bought ¥260 online; G1 called C2 (G2's customer), who
    then bought ¥120 in store (converted); G1 called C3, who bought nothing; C4 of G2 bought
    ¥999 online (G2's, not G1's)."""
    now = datetime.now(UTC)
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        for gid, name in (("G1", "王导购"), ("G2", "赵导购")):
            s.add(Guide(id=gid, store_id="S1", name=name, role="guide"))
        s.commit()
        for cid, name, gid in (
            ("C1", "李女士", "G1"),
            ("C2", "张先生", "G2"),
            ("C3", "陈女士", "G1"),
            ("C4", "周女士", "G2"),
        ):
            customer = Customer(
                id=cid, name=name, store_id="S1", created_at=now - timedelta(days=90)
            )
            s.add(customer)
            s.flush()
            crud.bind_guide(session=s, customer=customer, guide_id=gid, at=customer.created_at)
        s.commit()
        for tid, cid, done in (("T1", "C2", 20), ("T2", "C3", 15)):
            at = now - timedelta(minutes=done)
            s.add(
                GuideTask(
                    id=tid,
                    idempotency_key=f"test/{tid}",
                    customer_id=cid,
                    guide_id="G1",
                    store_id="S1",
                    task_type="call",
                    title="券到期前回访",
                    status="completed",
                    outcome="interested",
                    due_at=at,
                    created_at=at - timedelta(hours=1),
                    completed_at=at,
                )
            )
        s.commit()
        for cid, channel, amount, ago in (
            ("C1", "online", 260, 12),
            ("C2", "store", 120, 10),
            ("C4", "online", 999, 8),
        ):
            crud.create_order(
                session=s,
                order_create=OrderCreate(
                    customer_id=cid,
                    channel=channel,
                    store_id="S1" if channel == "store" else None,
                    amount=amount,
                    created_at=now - timedelta(minutes=ago),
                ),
            )
        create_user(session=s, username="g1", password="pw-g1-secret", role="guide", guide_id="G1")


def test_a_guide_sees_their_month_and_which_tasks_converted(
    browser: Any, live_server: LiveServer, canvas_app: FastAPI, artifacts: Path
) -> None:
    _month_of_g1(canvas_app)
    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/login?next=/workbench")
        page.locator("#username").fill("g1")
        page.locator("#password").fill("pw-g1-secret")
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/workbench")
        summary = page.locator('[data-results="summary"]')
        expect(summary).to_be_visible()
        # ¥260 online (bound customer) + ¥120 after T1: 2 orders, 380; C4's ¥999 is G2's
        expect(summary.locator('[data-count="orders"]')).to_have_text("2")
        expect(summary.locator('[data-count="sales"]')).to_have_text("380")
        expect(summary.locator('[data-count="converted"]')).to_have_text("1/2")
        expect(summary).to_contain_text("本月")
        page.screenshot(path=str(artifacts / "workbench-results-summary.png"), full_page=True)

        summary.click()
        page.wait_for_url("**/workbench/results")
        expect(page.locator('[data-kpi="sales"]')).to_have_text("380")
        t1 = page.locator('[data-task-id="T1"]')
        expect(t1).to_have_attribute("data-converted", "yes")
        expect(t1).to_contain_text("已转化")
        expect(t1).to_contain_text("张先生")
        t2 = page.locator('[data-task-id="T2"]')
        expect(t2).to_have_attribute("data-converted", "no")
        expect(t2).to_contain_text("未转化")
        assert page.locator('[data-table="guides"]').count() == 0  # a guide: no one else's
        assert "999" not in page.inner_text("main")
        page.screenshot(path=str(artifacts / "workbench-results-page.png"), full_page=True)
    finally:
        context.close()
    assert errors == []


def test_hq_reads_the_attribution_page(page: Any, canvas_app: FastAPI, artifacts: Path) -> None:
    from tests.attribution import chain

    with Session(canvas_app.state.engine) as s:
        chain.build(s)
    page.goto("/reports/attribution?from=2026-03-01&to=2026-03-31")
    expect(page.locator('nav a[href="/reports/attribution"]')).to_have_class("active")
    s1 = page.locator('[data-row="store-S1"]')
    expect(s1.locator('[data-col="store"]')).to_have_text("130.00")
    expect(s1.locator('[data-col="guide"]')).to_have_text("320.00")
    expect(page.locator('[data-journey="J2-1"]')).to_contain_text("250.00")
    page.screenshot(path=str(artifacts / "attribution-report.png"), full_page=True)
    # a bad period: the message in the table's place, the filters kept
    page.fill('input[name="from"]', "2026-04-01")
    page.click('form.filters button[type="submit"]')
    expect(page.locator('[data-error-field="from"]')).to_be_visible()
    assert page.errors == []

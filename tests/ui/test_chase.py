"""一键催办 in real Chromium (issue 18, item 11): the app's own confirmation says how many
tasks a chase reaches; only overdue or due-today tasks unless asked; a task chased within
the hour is skipped (and the page says so); HQ chases a whole region; the store manager's
open-task list names the customers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Dialog, Page, expect
from sqlmodel import Session, select

from db.models import Customer, Guide, GuideTask, Region, Store
from services.accounts import create_user
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui


@pytest.fixture
def chain(canvas_app: FastAPI) -> None:
    """R1: S1 (manager GM, guide G1) and S2 (guide G2); R2: S3 (guide H1). S1 has two
    overdue tasks and one due in three days; S2 and S3 one overdue task each."""
    now = datetime.now(UTC)
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.add(Region(id="R2", name="华南"))
        s.commit()
        for sid, region, name in (
            ("S1", "R1", "南京西路店"),
            ("S2", "R1", "淮海路店"),
            ("S3", "R2", "天河店"),
        ):
            s.add(Store(id=sid, region_id=region, name=name, city="上海"))
        s.commit()
        for gid, store, name, role in (
            ("GM", "S1", "王店长", "store_manager"),
            ("G1", "S1", "李导购", "guide"),
            ("G2", "S2", "周导购", "guide"),
            ("H1", "S3", "何导购", "guide"),
        ):
            s.add(Guide(id=gid, store_id=store, name=name, role=role, daily_capacity=20))
        s.commit()
        customers = (
            ("C1", "李女士", "S1", "G1"),
            ("C2", "张先生", "S1", "G1"),
            ("C3", "陈女士", "S1", "G1"),
            ("C4", "赵先生", "S2", "G2"),
            ("C5", "钱女士", "S3", "H1"),
        )
        for cid, name, store, guide in customers:
            s.add(Customer(id=cid, name=name, phone="13800001234", store_id=store, guide_id=guide))
        s.commit()
        due = {"C3": timedelta(days=3)}
        for i, (cid, _name, store, guide) in enumerate(customers):
            s.add(
                GuideTask(
                    id=f"T{i + 1}",
                    idempotency_key=f"test/T{i + 1}",
                    customer_id=cid,
                    guide_id=guide,
                    store_id=store,
                    task_type="call",
                    title=f"回访 {cid}",
                    instructions="您好，您的20元券三天后到期",
                    status="open",
                    outcomes=["interested", "declined"],
                    due_at=now + due.get(cid, -timedelta(hours=2)),
                    created_at=now - timedelta(days=1),
                )
            )
        s.commit()
        create_user(
            session=s, username="gm", password="pw-gm-secret", role="store_manager", guide_id="GM"
        )


def _chased(canvas_app: FastAPI) -> dict[str, int]:
    with Session(canvas_app.state.engine) as s:
        return {t.id: t.chased_count for t in s.exec(select(GuideTask))}


def _no_native_dialogs(page: Page) -> list[str]:
    seen: list[str] = []

    def note(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", note)
    return seen


def _open_chase(page: Page, scope: str) -> None:
    """Click a Chase button and wait for the app's answer (a slow CI machine gets 15 s, and a
    failed answer names its status instead of a missing dialog). The page draws its chart
    after load (ECharts, deferred) and the table moves down with it: click once the chart is
    drawn, or the click can land where the button was (no request at all)."""
    if page.locator('[data-echart="tasks"]').count():
        expect(page.locator('[data-echart="tasks"] canvas').first).to_be_attached(timeout=15_000)
    page.wait_for_load_state("networkidle")
    with page.expect_response(
        lambda r: "/tasks/chase/confirm" in r.url and r.request.method == "GET", timeout=15_000
    ) as answer:
        page.locator(f'[data-chase="{scope}"]').click()
    assert answer.value.status == 200, answer.value.status
    expect(page.locator("dialog#chase-dialog")).to_be_visible(timeout=15_000)


def test_store_manager_confirms_a_chase_and_the_hour_cool_down(
    browser: Any, live_server: LiveServer, canvas_app: FastAPI, chain: None, artifacts: Path
) -> None:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1440, "height": 900}, locale="zh-CN"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    native = _no_native_dialogs(page)
    try:
        page.goto("/login?next=/tasks")
        page.locator("#username").fill("gm")
        page.locator("#password").fill("pw-gm-secret")
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/tasks*")

        # the open-task list names each task's customer
        for tid, name in (("T1", "李女士"), ("T2", "张先生"), ("T3", "陈女士")):
            expect(page.locator(f'tr[data-task-id="{tid}"] td[data-customer]')).to_have_text(name)

        dialog = page.locator("dialog#chase-dialog")
        _open_chase(page, "store-S1")
        expect(dialog).to_contain_text("催办“南京西路店”？")
        expect(dialog.locator(".chase-count")).to_have_text(
            "将催办 2 个未完成任务：导购会立即收到提醒。"
        )
        expect(dialog).to_contain_text("只催办已逾期或今天到期的任务。")
        page.screenshot(path=str(artifacts / "chase-confirm.png"))
        # the one due in three days can be added; the count follows
        also = dialog.get_by_label("同时催办 1 个尚未到期的任务")
        also.check()
        expect(dialog.get_by_role("button", name="催办 3 个任务")).to_be_visible()
        dialog.get_by_label("同时催办 1 个尚未到期的任务").uncheck()
        confirm = dialog.get_by_role("button", name="催办 2 个任务")
        expect(confirm).to_be_visible()
        assert _chased(canvas_app)["T1"] == 0  # nothing is sent before the confirmation
        confirm.click()
        expect(dialog).to_be_hidden()
        expect(page.locator("#board .flash")).to_have_text(
            "已催办 2 个未完成任务。 1 个尚未到期，未催办。"
        )
        assert {k: v for k, v in _chased(canvas_app).items() if v} == {"T1": 1, "T2": 1}
        # the recent chases read by name
        expect(page.locator(".chase-log li").first).to_contain_text("gm → 南京西路店 · 2")

        # again within the hour: nothing to chase, and the dialog says why
        _open_chase(page, "store-S1")
        expect(dialog.locator(".chase-count")).to_have_text("现在没有需要催办的任务。")
        expect(dialog.locator("[data-skipped]")).to_have_text(
            "2 个任务在过去一小时内已催办过，本次跳过。"
        )
        expect(dialog.locator("[data-confirm-chase]")).to_have_count(0)
        page.screenshot(path=str(artifacts / "chase-cool-down.png"))
        dialog.get_by_role("button", name="取消").click()
        expect(dialog).to_be_hidden()
        # a store manager has no region chase
        expect(page.locator('[data-chase^="region-"]')).to_have_count(0)
    finally:
        context.close()
    assert native == [] and errors == []
    assert _chased(canvas_app)["T3"] == 0


def test_hq_chases_a_whole_region(page: Page, canvas_app: FastAPI, chain: None) -> None:
    native = _no_native_dialogs(page)
    page.goto("/tasks")
    _open_chase(page, "region-R1")
    dialog = page.locator("dialog#chase-dialog")
    expect(dialog).to_contain_text("催办“华东”？")
    expect(dialog.locator(".chase-count")).to_have_text(
        "将催办 3 个未完成任务：导购会立即收到提醒。"
    )
    dialog.get_by_role("button", name="催办 3 个任务").click()
    expect(page.locator("#board .flash")).to_contain_text("已催办 3 个未完成任务。")
    chased = {k for k, v in _chased(canvas_app).items() if v}
    assert chased == {"T1", "T2", "T4"}  # R1's overdue tasks; not R2's, not the one due later
    assert native == [] and page.errors == []  # type: ignore[attr-defined]

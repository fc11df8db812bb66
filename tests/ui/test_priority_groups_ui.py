"""Priority groups in Chromium (zh-CN): a group added on the policy page (an empty name refused
in place), two journeys put in it from the editor's journey settings (a taken priority
refused on the field, naming the journey that has it), the journey list and the page show
each journey's group and priority; deleting a group a live journey is in is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db.models import Journey


def test_group_settings(
    page: Page, artifacts: Path, client_for: httpx.Client, canvas_app: FastAPI
) -> None:
    ids = {}
    for name in ("VIP 复购", "新品推荐"):
        created = client_for.post("/api/journeys", json={"name": name})
        assert created.status_code == 201, created.text
        ids[name] = created.json()["id"]

    page.goto("/policy")
    form = page.locator("#group-form")
    form.locator("button[type=submit]").click()
    expect(page.locator("#grouperr-name")).to_contain_text("请为分组起一个")
    page.locator("#group-name").fill("会员营销")
    page.locator("#group-policy").select_option("preempt")
    page.locator("#group-form button[type=submit]").click()
    row = page.locator('#group-table tr[data-group="会员营销"]')
    expect(row.locator("select[name=group_policy]")).to_have_value("preempt")
    expect(row).to_contain_text("还没有旅程")

    for name, priority in (("VIP 复购", "1"), ("新品推荐", "1")):
        page.goto(f"/journeys/{ids[name]}/edit")
        settings = page.locator("#journey-settings")
        expect(settings.locator("h2")).to_have_text("旅程设置")
        settings.locator("#jg-group").select_option(label="会员营销")
        settings.locator("#jg-priority").fill(priority)
        settings.locator("button[type=submit]").click()
    # the second journey asked for priority 1 too: refused on the field, naming the first
    expect(page.locator("#jgerr-priority")).to_contain_text("VIP 复购")
    expect(page.locator("#jg-priority")).to_have_attribute("aria-invalid", "true")
    page.locator("#jg-priority").fill("2")
    page.locator("#journey-settings button[type=submit]").click()
    expect(page.locator("#journey-settings .notice.ok")).to_contain_text("已保存")
    page.screenshot(path=str(artifacts / "priority-group-settings.png"))

    page.goto("/journeys")
    listed = page.locator("#journey-table tr", has_text="新品推荐")
    expect(listed.locator("td.group-place")).to_contain_text("会员营销")
    expect(listed.locator("td.group-place")).to_contain_text("优先级 2")

    with Session(canvas_app.state.engine) as s:
        journey = s.get(Journey, ids["VIP 复购"])
        assert journey is not None
        journey.status = "live"
        s.add(journey)
        s.commit()
    page.goto("/policy")
    row = page.locator('#group-table tr[data-group="会员营销"]')
    expect(row.locator('[data-priority="1"]')).to_contain_text("VIP 复购")
    expect(row.locator('[data-priority="2"]')).to_contain_text("新品推荐")
    page.screenshot(path=str(artifacts / "priority-groups-policy.png"), full_page=True)
    row.locator("button", has_text="删除").click()
    page.locator('dialog.confirm-dialog [data-confirm="ok"]').click()  # the app's own dialog
    expect(page.locator("#toast")).to_contain_text("VIP 复购")
    expect(page.locator('#group-table tr[data-group="会员营销"]')).to_have_count(1)
    assert page.errors == []  # type: ignore[attr-defined]

"""The contact policy page in Chromium (zh-CN): quiet hours with equal start and end and a
cap of 0 are refused in the form (the 422 swapped in place, the field marked), good values
are saved, a guide's daily capacity is set, and every change is listed with who made it."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db.models import Guide, Region, Store


def test_edit_the_contact_policy(page: Page, artifacts: Path, canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="RP", name="华东"))
        s.flush()
        s.add(Store(id="SP", region_id="RP", name="南京西路店", city="上海"))
        s.flush()
        s.add(Guide(id="GP", store_id="SP", name="王芳", daily_capacity=20))
        s.commit()
    page.goto("/policy")
    expect(page.locator("h1")).to_have_text("触达策略")
    expect(page.locator("nav.mainnav a.active")).to_have_text("触达策略")

    quiet = page.locator("#quiet-hours-form")
    page.locator("#pol-quiet_start").fill("22:00")
    page.locator("#pol-quiet_end").fill("22:00")
    quiet.locator("button[type=submit]").click()
    expect(page.locator("#polerr-quiet_end")).to_contain_text("不同的开始和结束时间")
    expect(page.locator("#pol-quiet_end")).to_have_attribute("aria-invalid", "true")
    page.locator("#pol-quiet_end").fill("08:00")
    page.locator("#quiet-hours-form button[type=submit]").click()
    expect(page.locator("#policy .notice.ok")).to_have_text("已保存。")
    expect(page.locator("#pol-quiet_start")).to_have_value("22:00")

    page.locator("#cap-id").fill("mkt7")
    page.locator("#cap-channel").select_option("message")
    page.locator("#cap-category").select_option("marketing")
    page.locator("#cap-max_contacts").fill("0")
    page.locator("#cap-window_days").fill("7")
    page.locator("#cap-form button[type=submit]").click()
    expect(page.locator("#caperr-max_contacts")).to_contain_text("上限为 0 会拦下所有触达")
    expect(page.locator("#cap-id")).to_have_value("mkt7")  # the form keeps what was typed
    page.locator("#cap-max_contacts").fill("2")
    page.locator("#cap-form button[type=submit]").click()
    row = page.locator('#cap-table tr[data-cap="mkt7"]')
    expect(row).to_contain_text("所有消息")
    expect(row).to_contain_text("仅营销")
    expect(row).to_contain_text("7 天内 2 次")

    guide = page.locator('#capacity-table tr[data-guide="GP"]')
    expect(guide.locator("input[name=capacity]")).to_have_value("20")
    guide.locator("input[name=capacity]").fill("12")
    guide.locator("button[type=submit]").click()
    expect(page.locator('#capacity-table tr[data-guide="GP"] input')).to_have_value("12")

    changes = page.locator("#change-table tbody tr")
    expect(changes).to_have_count(3)
    expect(changes.nth(0)).to_contain_text("王芳 的每日任务数")
    expect(changes.nth(0).locator("td").nth(3)).to_have_text("20")
    expect(changes.nth(0).locator("td").nth(4)).to_have_text("12")
    expect(changes.nth(1)).to_contain_text("频次上限 mkt7")
    expect(changes.nth(1).locator("td").nth(3)).to_have_text("无")
    expect(changes.nth(1).locator("td").nth(4)).to_have_text("7 天内 2 次 · 所有消息 · 仅营销")
    expect(changes.nth(2)).to_contain_text("22:00–08:00")
    expect(changes.nth(0).locator("td").nth(1)).to_have_text("hq")
    page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar at the top of the shot
    page.screenshot(path=str(artifacts / "policy-page.png"), full_page=True)

    # points per step (issue 13): refused in place, then saved and listed
    page.locator("#pol-max_points_per_step").fill("很多")
    page.locator("#points-rule-form button[type=submit]").click()
    expect(page.locator("#polerr-max_points_per_step")).to_contain_text("1 到 1,000,000")
    page.locator("#pol-max_points_per_step").fill("2000")
    page.locator("#points-rule-form button[type=submit]").click()
    expect(page.locator("#policy .notice.ok")).to_have_text("已保存。")
    expect(page.locator("#change-table tbody tr").nth(0)).to_contain_text("每步积分上限")

    # removing a cap asks in the app's own dialog (never the browser's confirm()); Cancel
    # keeps it
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(d.message)))
    page.locator('#cap-table tr[data-cap="mkt7"] button[type=submit]').click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("mkt7")
    dialog.get_by_role("button", name="取消").click()
    expect(page.locator('#cap-table tr[data-cap="mkt7"]')).to_have_count(1)
    page.locator('#cap-table tr[data-cap="mkt7"] button[type=submit]').click()
    dialog.locator('[data-confirm="ok"]').click()
    expect(page.locator('#cap-table tr[data-cap="mkt7"]')).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]

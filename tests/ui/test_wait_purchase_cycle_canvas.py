"""A marketer adds "wait for purchase cycle" in real Chromium (zh-CN): from the palette, 90%
of the customer's own cycle, 14 days for customers with fewer than two purchases, at 10:00;
the node's summary fits its line and the journey checks clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.canvas_driver import connect, drop_from_palette, node_ids, saved

pytestmark = pytest.mark.ui


def test_a_purchase_cycle_wait_from_the_palette(page: Page) -> None:
    page.goto("/journeys")
    page.get_by_role("button", name="新建旅程").first.click()
    page.locator("#new-journey input[name=name]").fill("复购提醒")
    page.get_by_role("button", name="创建并打开").click()
    page.wait_for_url("**/edit")
    page.wait_for_function("window.__canvasReady > 0")
    ids = node_ids(page)
    entry, exit_ = ids["entry"][0], ids["exit"][0]
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    at = (box["x"] + 260, box["y"] + box["height"] * 0.3)

    node = drop_from_palette(page, "wait_purchase_cycle", at)
    panel = page.locator(f'#panel[data-node-id="{node}"]')
    expect(panel).to_be_visible()
    expect(panel.get_by_text("占客户购买周期的比例")).to_be_visible()
    expect(panel.get_by_text("不足两次购买时等待")).to_be_visible()
    panel.locator('[name="config.percent"]').fill("90")
    panel.locator('[name="config.at_time"]').fill("10:00")
    panel.locator('[name="label"]').fill("周期九成时提醒")
    panel.get_by_role("button", name="应用").click()
    expect(page.locator("#panel .notice.ok")).to_be_visible()
    cell = page.locator(f'#canvas [data-cell-id="{node}"]')
    expect(cell.get_by_text("周期的 90% · 否则 14d")).to_be_visible()

    connect(page, entry, "next", node)
    connect(page, node, "next", exit_)
    page.get_by_role("button", name="检查").click()
    expect(page.locator("#diagnostics .diag-summary")).to_have_text("没有发现问题，可以发布。")
    saved(page)
    assert page.errors == []  # type: ignore[attr-defined]

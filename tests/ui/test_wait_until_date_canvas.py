"""A marketer adds "wait until date" in real Chromium: from the palette, a due date 7 days
before at 10:00, once; the 'passed' output appears and the journey checks clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.ui.canvas_driver import connect, drop_from_palette, node_ids, port, saved

pytestmark = pytest.mark.ui


def test_a_due_date_wait_from_the_palette(page: Page) -> None:
    page.goto("/journeys")
    page.get_by_role("button", name="新建旅程").first.click()
    page.locator("#new-journey input[name=name]").fill("孕期关怀")
    page.get_by_role("button", name="创建并打开").click()
    page.wait_for_url("**/edit")
    page.wait_for_function("window.__canvasReady > 0")
    ids = node_ids(page)
    entry, exit_ = ids["entry"][0], ids["exit"][0]
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    at = (box["x"] + 260, box["y"] + box["height"] * 0.3)

    node = drop_from_palette(page, "wait_until_date", at)
    panel = page.locator(f'#panel[data-node-id="{node}"]')
    expect(panel).to_be_visible()  # a dropped step opens its panel
    expect(panel.get_by_text("提前或推后天数")).to_be_visible()
    panel.locator('[name="config.source"]').select_option("attribute")
    panel.locator('[name="config.attribute"]').fill("due_date")
    panel.locator('[name="config.mode"]').select_option("date")
    panel.locator('[name="config.offset_days"]').fill("7")
    panel.locator('[name="label"]').fill("预产期前一周")
    panel.get_by_role("button", name="应用").click()
    expect(page.locator("#panel .notice.ok")).to_be_visible()
    cell = page.locator(f'#canvas [data-cell-id="{node}"]')
    expect(cell.get_by_text("预产期前7 天 10:00")).to_be_visible()
    expect(page.locator(port(node, "passed"))).to_have_count(1)  # the once-only date's output

    connect(page, entry, "next", node)
    connect(page, node, "next", exit_)
    connect(page, node, "passed", exit_)
    page.get_by_role("button", name="检查").click()
    expect(page.locator("#diagnostics .diag-summary")).to_have_text("没有发现问题，可以发布。")
    saved(page)
    assert page.errors == []  # type: ignore[attr-defined]

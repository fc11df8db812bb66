"""Real Chromium: saving a journey as a template and the gallery's cards (issue 18, item 16):
the template is named in a dialog, a thumbnail reads step names (not kind ids), no empty
"Goal:" line, a template draft's description follows its parameters, a clone in the English
UI is "… (copy)"; and the journeys table's action cell keeps the row's borders (item 17)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.canvas_ui.harness import linear_document
from tests.ui.test_wording import in_english

pytestmark = pytest.mark.ui


def test_save_as_template_asks_for_a_name(page: Page, client_for: Any, artifacts: Path) -> None:
    doc = linear_document("店庆回访")
    jid = client_for.post("/api/journeys", json={"name": doc["name"], "document": doc}).json()["id"]
    page.goto("/templates#from-journeys")
    row = page.locator(f'tr[data-journey-id="{jid}"]')
    # the action cell is a table cell: the row's border runs under it as under the others
    cells = row.locator("td")
    assert cells.last.evaluate("(td) => getComputedStyle(td).display") == "table-cell"
    boxes = [cells.nth(i).bounding_box() for i in range(cells.count())]
    assert all(b is not None for b in boxes)
    assert len({round(b["height"]) for b in boxes if b}) == 1, boxes

    row.locator(f'[data-save-template="{jid}"]').click()
    dialog = page.locator(f"#save-template-{jid}")
    expect(dialog).to_be_visible()
    page.screenshot(path=str(artifacts / "gallery-save-as-template-dialog.png"))
    dialog.locator("input[name=name]").fill("店庆回访模板")
    dialog.locator("input[name=goal]").fill("30 天内再次到店")
    dialog.get_by_role("button", name="保存模板").click()
    page.wait_for_url("**/templates?saved=*")
    card = page.locator("#saved-templates article").first
    expect(card.locator("h3")).to_have_text("店庆回访模板")
    expect(card.locator(".goal")).to_contain_text("30 天内再次到店")
    # the thumbnail names steps as the canvas does: a label, else the kind's name
    labels = card.locator("svg.tpl-preview text").all_text_contents()
    assert "等三天" in labels and "入口" in labels, labels
    assert not {"entry", "wait", "send_coupon", "exit"} & set(labels), labels
    page.screenshot(path=str(artifacts / "gallery-saved-template.png"), full_page=True)

    # deleting it asks in the app's own dialog, never the browser's confirm()
    page.on("dialog", lambda d: (_ for _ in ()).throw(AssertionError(d.message)))
    card.get_by_role("button", name="删除").click()
    ask = page.locator("dialog.confirm-dialog")
    expect(ask).to_contain_text("删除这个模板")
    ask.locator('[data-confirm="ok"]').click()
    expect(page.locator("#saved-templates article h3", has_text="店庆回访模板")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_no_empty_goal_and_description_follows_parameters(
    page: Page, client_for: Any, artifacts: Path
) -> None:
    doc = linear_document("无目标")
    jid = client_for.post("/api/journeys", json={"name": doc["name"], "document": doc}).json()["id"]
    tpl = client_for.post(f"/api/journeys/{jid}/save-as-template", json={}).json()
    page.goto(f"/templates/{tpl['id']}/use")
    expect(page.get_by_text("目标:")).to_have_count(0)
    expect(page.get_by_text("目标：")).to_have_count(0)

    page.goto("/templates/second_purchase/use")
    page.fill("#p-care_delay_days", "2")
    page.fill("#p-remind_days_before_expiry", "5")
    page.click("#use-form button[type=submit]")
    page.wait_for_url("**/journeys/*/edit")
    new_id = page.url.split("/")[-2]
    description = client_for.get(f"/api/journeys/{new_id}").json()["document"]["description"]
    assert "第2天" in description and "到期前5天" in description, description
    assert "次日" not in description and "到期前3天" not in description


def test_clone_in_english_is_a_copy(
    page: Page, live_server: Any, client_for: Any, artifacts: Path
) -> None:
    doc = linear_document("Anniversary")
    jid = client_for.post("/api/journeys", json={"name": doc["name"], "document": doc}).json()["id"]
    in_english(page, live_server)
    page.goto("/templates")
    page.click(f'[data-clone="{jid}"]')
    page.wait_for_url(lambda url: url.endswith("/edit") and jid not in url)
    clone_id = page.url.split("/")[-2]
    assert client_for.get(f"/api/journeys/{clone_id}").json()["journey"]["name"] == (
        "Anniversary (copy)"
    )
    page.goto("/templates")
    page.screenshot(path=str(artifacts / "gallery-en-journeys.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]

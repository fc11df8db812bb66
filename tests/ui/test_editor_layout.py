"""Real Chromium: the editor's layout (issue 18, item 17): port and connection names clear of
the steps' text, tooltips inside the canvas (not over the panel), a step dropped from the
palette selected with its panel open, Validate's results brought into view below an open
panel, and Publish asked in the app's own dialog instead of the browser's confirm()."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.ui.canvas_driver import drop_from_palette, open_editor

pytestmark = pytest.mark.ui


def _branchy() -> dict[str, Any]:
    """entry → branch with long-named rules (three outputs) → exits; the rightmost step sits
    at the canvas's right edge."""
    rule = {
        "match": "all",
        "conditions": [{"type": "attribute", "field": "member_level", "value": "gold"}],
    }
    nodes = [
        {
            "id": "entry",
            "kind": "entry",
            "label": "",
            "position": {"x": 0, "y": 120},
            "config": {"trigger": {"type": "manual"}},
        },
        {
            "id": "branch",
            "kind": "branch",
            "label": "会员分流（金卡/银卡）",
            "position": {"x": 300, "y": 120},
            "config": {
                "rules": [
                    {"id": "gold", "label": "金卡会员走专属路线", **rule},
                    {"id": "silver", "label": "银卡会员普通路线", **rule},
                ]
            },
        },
        {"id": "x1", "kind": "exit", "label": "", "position": {"x": 620, "y": 0}, "config": {}},
        {"id": "x2", "kind": "exit", "label": "", "position": {"x": 620, "y": 120}, "config": {}},
        {"id": "x3", "kind": "exit", "label": "", "position": {"x": 620, "y": 240}, "config": {}},
        {
            "id": "lonely",
            "kind": "wait",
            "label": "孤立的等待",
            "position": {"x": 900, "y": 120},
            "config": {},
        },
    ]
    edges = [
        {"id": "e0", "source": "entry", "source_port": "next", "target": "branch"},
        {"id": "e1", "source": "branch", "source_port": "gold", "target": "x1"},
        {"id": "e2", "source": "branch", "source_port": "silver", "target": "x2"},
        {"id": "e3", "source": "branch", "source_port": "else", "target": "x3"},
    ]
    return {
        "schema_version": 1,
        "name": "布局",
        "description": "",
        "settings": {},
        "nodes": nodes,
        "edges": edges,
    }


#: Boxes (client rects) of every step's name and summary, port name and connection name.
BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
    return {l: r.left, t: r.top, r: r.right, b: r.bottom, w: r.width, text: el.textContent}; };
  const q = (sel) => Array.from(document.querySelectorAll('#canvas ' + sel))
    .filter((el) => el.textContent.trim()).map(box).filter((b) => b.w > 0);
  return {
    nodeTexts: q('.x6-node text[selector="label"], .x6-node text[selector="summary"]'),
    portLabels: q('text.x6-port-label'),
    edgeLabels: q('.x6-edge-label text'),
  };
}"""


def _overlap(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a["l"] < b["r"] and b["l"] < a["r"] and a["t"] < b["b"] and b["t"] < a["b"]


def test_labels_clear_of_step_text_and_tooltips_inside(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post("/api/journeys", json={"name": "布局", "document": _branchy()}).json()[
        "id"
    ]
    open_editor(page, f"/journeys/{jid}/edit")
    page.evaluate("() => window.journeyCanvas.graph.zoomTo(1)")
    page.evaluate(
        "() => window.journeyCanvas.graph.centerCell("
        "window.journeyCanvas.graph.getCellById('branch'))"
    )
    boxes = page.evaluate(BOXES)
    assert len(boxes["portLabels"]) == 3, boxes["portLabels"]
    for label in boxes["portLabels"] + boxes["edgeLabels"]:
        for text in boxes["nodeTexts"]:
            assert not _overlap(label, text), (label, text)
    for port in boxes["portLabels"]:
        for edge in boxes["edgeLabels"]:
            assert not _overlap(port, edge), (port, edge)
    page.screenshot(path=str(artifacts / "editor-port-labels.png"))

    # the unconnected wait at the right edge: its tooltip stays off the side panel
    expect(page.locator('#canvas [data-cell-id="lonely"] rect').first).to_have_attribute(
        "stroke", "#d92d20"
    )
    page.evaluate(
        "() => window.journeyCanvas.graph.centerCell(window.journeyCanvas.graph.getCellById('x2'))"
    )
    lonely = page.locator('#canvas [data-cell-id="lonely"] rect').first
    box = lonely.bounding_box()
    canvas = page.locator("#canvas").bounding_box()
    assert box and canvas
    page.mouse.move(
        min(box["x"] + box["width"] - 8, canvas["x"] + canvas["width"] - 6), box["y"] + 10
    )
    tip = page.locator(".node-tip")
    expect(tip).to_be_visible()
    tip_box = tip.bounding_box()
    sidebar = page.locator(".sidebar").bounding_box()
    assert tip_box and sidebar
    assert tip_box["x"] + tip_box["width"] <= sidebar["x"], (tip_box, sidebar)
    page.screenshot(path=str(artifacts / "editor-tooltip-inside-canvas.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_drop_select_validate_in_view_and_publish_dialog(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    native: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        native.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    jid = client_for.post("/api/journeys", json={"name": "新旅程"}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    canvas = page.locator("#canvas").bounding_box()
    assert canvas
    new_id = drop_from_palette(
        page, "send_coupon", (canvas["x"] + canvas["width"] / 2, canvas["y"] + 120)
    )
    # dropped: selected, and its panel open to set it up
    expect(page.locator(f'#panel[data-node-id="{new_id}"]')).to_be_visible()
    selected = page.evaluate(
        "() => window.journeyCanvas.selection.getSelectedCells().map((c) => c.id)"
    )
    assert selected == [new_id]

    # the panel is open; Validate's results come into view below it
    page.get_by_role("button", name="检查").click()
    diagnostics = page.locator("#diagnostics")
    expect(diagnostics).to_be_visible()
    expect(diagnostics.locator(".diag-summary")).to_be_in_viewport()
    page.screenshot(path=str(artifacts / "editor-validate-results-in-view.png"))

    # Publish asks in the app's dialog; Cancel publishes nothing
    page.locator(f'#canvas g[data-cell-id="{new_id}"] rect').first.click(position={"x": 70, "y": 8})
    page.keyboard.press("Delete")
    page.wait_for_function(f"!window.journeyCanvas.graph.getCellById('{new_id}')")
    page.locator("#canvas").click(position={"x": 20, "y": 20})
    page.locator(".editor-toolbar").get_by_role("button", name="发布").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("发布为新版本")
    page.screenshot(path=str(artifacts / "editor-publish-dialog.png"))
    dialog.get_by_role("button", name="取消").click()
    expect(dialog).to_have_count(0)
    expect(page.locator("#status-badge")).to_have_text("草稿")
    assert native == []
    assert page.errors == []  # type: ignore[attr-defined]


def test_keyboard_added_step_is_selected(page: Page, client_for: httpx.Client) -> None:
    jid = client_for.post("/api/journeys", json={"name": "键盘"}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    page.locator('.palette-item[data-kind="wait"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_function(
        "window.journeyCanvas.selection.getSelectedCells().some((c) => c.getData().kind === 'wait')"
    )
    expect(page.locator("#panel[data-node-id]")).to_be_visible()

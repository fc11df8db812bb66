"""Real Chromium: an "earlier step" picker offers the steps before the edited one, by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.canvas_ui.test_panel import picker_document
from tests.ui.canvas_driver import center, open_editor

pytestmark = pytest.mark.ui


def _laid_out() -> dict[str, Any]:
    """The picker journey with its steps left to right (the upper row is branch a)."""
    doc = picker_document()
    row = {"coupon-other": 1, "exit-b": 1}
    for i, node in enumerate(doc["nodes"]):
        node["position"] = {"x": 280 * i, "y": 140 * row.get(node["id"], 0)}
    return doc


def test_earlier_step_picker_in_the_panel(page: Page, client_for: Any, artifacts: Path) -> None:
    doc = _laid_out()
    jid = client_for.post("/api/journeys", json={"name": "picker", "document": doc}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    page.evaluate("window.journeyCanvas.runOverlay.focus('wait')")
    page.mouse.click(*center(page, '#canvas [data-cell-id="wait"] rect'))
    select = page.locator('#panel select[name="config.until.node_id"]')
    expect(select).to_be_visible()
    options = select.locator("option").all_inner_texts()
    # nearest first; the unlabelled task by its kind; the later coupon is marked, not offered
    assert options == ["导购任务", "首单券", "“二次券”（不在此步骤之前）"]
    assert select.input_value() == "coupon-late"
    page.screenshot(path=str(artifacts / "panel-earlier-step-picker.png"))
    assert page.errors == []  # type: ignore[attr-defined]

"""ECharts in real Chromium (issue 14, item 6): the journey report's per-day and variant
lift charts, and the task dashboard's completion chart, draw a canvas without errors."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.api.test_variants_api import _seed, split_document

pytestmark = pytest.mark.ui


def _console_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        if msg.type == "error":
            errors.append(msg.text)

    page.on("console", on_console)
    return errors


def test_report_and_task_charts_render(
    page: Page, client_for: httpx.Client, canvas_app: FastAPI, artifacts: Path
) -> None:
    doc = split_document()
    created = client_for.post("/api/journeys", json={"name": doc["name"], "document": doc})
    jid = created.json()["id"]
    assert client_for.post(f"/api/journeys/{jid}/publish").status_code == 200
    _seed(canvas_app, jid, {"a": (200, 30), "hold": (100, 8)})
    console = _console_errors(page)

    page.goto(f"/journeys/{jid}/edit")
    page.locator("#report-link").click()
    page.wait_for_url(f"**/journeys/{jid}/results")
    page.goto(f"/journeys/{jid}/results?version=1&from=2026-11-01&to=2026-11-30")
    daily = page.locator('[data-echart="daily"] canvas')
    lift = page.locator('[data-echart="lift"] canvas')
    expect(daily).to_have_count(1)
    expect(lift).to_have_count(1)
    daily_box, lift_box = daily.bounding_box(), lift.bounding_box()
    assert daily_box is not None and daily_box["width"] > 300
    assert lift_box is not None and lift_box["height"] > 100
    row = page.locator('[data-split="s"] tr[data-variant="a"]')
    expect(row.locator("[data-lift]")).to_contain_text("+7.0")
    expect(page.locator('[data-kpi="entries"]')).to_have_text("300")
    page.screenshot(path=str(artifacts / "journey-report-charts.png"), full_page=True)

    page.goto("/tasks")
    tasks = page.locator('[data-echart="tasks"] canvas')
    expect(tasks).to_have_count(1)
    assert page.locator("svg.chart").count() == 0  # the hand-drawn chart is gone
    page.locator('select[name="days"]').select_option("7")  # htmx swaps the board
    expect(page.locator('[data-echart="tasks"] canvas')).to_have_count(1)
    page.screenshot(path=str(artifacts / "task-dashboard-chart.png"), full_page=True)

    assert page.errors == []  # type: ignore[attr-defined]
    assert console == []

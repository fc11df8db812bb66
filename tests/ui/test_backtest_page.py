"""The backtest in real Chromium (issue 17 item 1): from the editor's 'Backtest' button, a
period nobody entered in is explained in the form; a good one runs in the background, the
page follows its progress and then shows the report with its ECharts charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlmodel import Session

from services import backtest
from services.backtest import BacktestSettings
from tests.services.backtest_chain import seed

pytestmark = pytest.mark.ui


def _in_a_thread(engine: Any, backtest_id: int, timezone: str) -> None:
    # the app's own background path, with the simulation in this process
    backtest.start_in_background(
        engine=engine,
        backtest_id=backtest_id,
        timezone=timezone,
        settings=BacktestSettings(workers=0),
    )


def test_backtest_from_the_editor(page: Page, canvas_app: FastAPI, artifacts: Path) -> None:
    canvas_app.state.backtest_runner = _in_a_thread
    with Session(canvas_app.state.engine) as session:
        jid = seed(session)
    errors: list[str] = []

    def on_console(msg: ConsoleMessage) -> None:
        # the refused period's 422 is the answer the form swaps in, not a failure
        if msg.type == "error" and "status of 422" not in msg.text:
            errors.append(msg.text)

    page.on("console", on_console)
    page.goto(f"/journeys/{jid}/edit")
    page.locator("#backtest-link").click()
    page.wait_for_url(f"**/journeys/{jid}/backtest")
    form = page.locator("#backtest-form")
    # nobody entered in May: the form says when they did, in place
    form.locator("input[name=from]").fill("2026-05-01")
    form.locator("input[name=to]").fill("2026-05-31")
    page.locator("#backtest-run").click()
    expect(page.locator('#backtest-form [data-field="from"]')).to_contain_text("2026-03-02")
    page.screenshot(path=str(artifacts / "backtest-no-entries.png"))
    form = page.locator("#backtest-form")
    form.locator("input[name=from]").fill("2026-03-01")
    form.locator("input[name=to]").fill("2026-03-31")
    page.locator("#backtest-run").click()
    page.wait_for_url(f"**/journeys/{jid}/backtest/*")
    # the poll reloads the page once the backtest is done: the report replaces the progress
    expect(page.locator('#backtest-progress[data-status="done"]')).to_have_count(1, timeout=20_000)
    coupons = page.locator('[data-kpi="coupons"]')
    expect(coupons.locator('[data-side="baseline"]')).to_have_text("1")
    expect(coupons.locator('[data-side="candidate"]')).to_have_text("2")
    chart = page.locator('[data-echart="compare"] canvas')
    expect(chart).to_have_count(1)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    expect(page.locator('[data-echart="daily"] canvas')).to_have_count(2)
    expect(
        page.locator('#backtest-nodes tr[data-node="wfe"][data-port="matched"]')
    ).to_contain_text("+1")
    expect(page.locator("#backtest-guides tr[data-guide=G1]")).to_contain_text("王导购")
    page.screenshot(path=str(artifacts / "backtest-report.png"), full_page=True)
    assert errors == []
    assert page.errors == []  # type: ignore[attr-defined]

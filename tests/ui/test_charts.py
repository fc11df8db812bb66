"""ECharts in real Chromium (issue 14, item 6): the journey report's per-day, variant lift
and steps (funnel) charts, the attribution report's chart by store / guide (also after its
htmx swap), and the task dashboard's completion chart draw a canvas without errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import ConsoleMessage, Page, expect
from sqlmodel import Session

from tests.api.test_variants_api import _seed, split_document
from tests.attribution import chain
from tests.results.fixtures import seed_small_chain

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
    # these runs were recorded without their steps: the steps card says so, no chart frame
    expect(page.locator('[data-empty="steps"]')).to_contain_text("开始按步骤计数之前")
    expect(page.locator('[data-echart="funnel"]')).to_have_count(0)
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


def _drawn(page: Page, holder: str) -> dict[str, Any]:
    """The option of the ECharts instance drawn on ``holder``'s canvas (fails if none)."""
    option: dict[str, Any] = page.evaluate(
        """(sel) => {
            const chart = echarts.getInstanceByDom(document.querySelector(sel));
            return chart ? JSON.parse(JSON.stringify(chart.getOption())) : null;
        }""",
        f"{holder} .echart-canvas",
    )
    assert option is not None, f"no chart drawn in {holder}"
    return option


def _show_tip(page: Page, holder: str, index: int) -> None:
    """Open the tooltip of bar ``index`` (the server-written words, through the formatter)."""
    page.evaluate(
        """([sel, i]) => echarts.getInstanceByDom(document.querySelector(sel))
            .dispatchAction({ type: "showTip", seriesIndex: 0, dataIndex: i })""",
        [f"{holder} .echart-canvas", index],
    )


def test_steps_chart_on_the_journey_report(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    """The small chain of tests/results: its steps in path order with how many reached
    each, labelled in words (the unlabelled coupon step by its kind), conversions last."""
    with Session(canvas_app.state.engine) as session:
        jid = seed_small_chain(session)
    console = _console_errors(page)
    page.goto(f"/journeys/{jid}/results?version=1&from=2026-03-01&to=2026-03-31")
    expect(page.locator('[data-echart="funnel"] canvas')).to_have_count(1)
    option = _drawn(page, '[data-echart="funnel"]')
    assert option["yAxis"][0]["data"] == ["首购", "等到店", "发优惠券", "转化", "结束", "已转化"]
    assert [d["value"] for d in option["series"][0]["data"]] == [4, 4, 1, 1, 2, 2]
    box = page.locator('[data-echart="funnel"] canvas').bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 150
    _show_tip(page, '[data-echart="funnel"]', 1)
    expect(page.locator('[data-echart="funnel"]')).to_contain_text("1 人正在此等待")
    page.screenshot(path=str(artifacts / "journey-report-steps.png"), full_page=True)
    # a period nobody entered: the empty message, no chart frame
    page.goto(f"/journeys/{jid}/results?version=1&from=2026-01-01&to=2026-01-31")
    expect(page.locator(".steps-card .empty")).to_be_visible()
    expect(page.locator('[data-echart="funnel"]')).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]
    assert console == []


def test_attribution_chart_by_store_then_guide(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    """HQ's March of the hand-computed chain: stores by sales, store- and guide-attributed
    stacked; choosing guides swaps the report (htmx) and the chart is drawn again."""
    with Session(canvas_app.state.engine) as session:
        chain.build(session)
    console = _console_errors(page)
    page.goto("/reports/attribution?from=2026-03-01&to=2026-03-31")
    expect(
        page.locator('[data-group-by="store"] [data-echart="attribution"] canvas')
    ).to_have_count(1)
    option = _drawn(page, '[data-echart="attribution"]')
    assert option["yAxis"][0]["data"] == ["南京西路店", "徐家汇店", "天河店"]
    store, guide = option["series"]
    assert (store["name"], store["data"]) == ("归门店", [130, 0, 65])
    assert (guide["name"], guide["data"]) == ("归导购", [320, 300, 0])
    assert store["stack"] == guide["stack"]
    _show_tip(page, '[data-echart="attribution"]', 0)
    expect(page.locator('[data-echart="attribution"]')).to_contain_text("总数: 450.00")
    page.screenshot(path=str(artifacts / "attribution-chart-stores.png"), full_page=True)

    page.locator('select[name="group_by"]').select_option("guide")
    page.locator("form.filters button[type=submit]").click()
    holder = '[data-group-by="guide"] [data-echart="attribution"]'
    expect(page.locator(f"{holder} canvas")).to_have_count(1)
    option = _drawn(page, holder)
    assert option["yAxis"][0]["data"] == ["导购G3", "导购G1", "导购G2"]
    assert option["series"][1]["data"] == [300, 270, 50]
    assert "group_by=guide" in page.url
    page.screenshot(path=str(artifacts / "attribution-chart-guides.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    assert console == []

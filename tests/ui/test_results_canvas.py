"""The canvas's Results toggle in real Chromium (issue 14, item 2): on a published version
each step shows how many entered, wait there and ended (converted), each output its count
and share; the period and version pickers reload it; an empty period says so; off puts
the canvas back and nothing is saved. zh-CN on the version view, English in the editor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from canvas_ui.i18n import COOKIE_NAME
from tests.results.fixtures import seed_small_chain
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui

BADGES = """() => Object.fromEntries(window.journeyCanvas.graph.getNodes().map((n) => [
  n.id,
  {
    badge: n.attr("resText/display") === "block" ? n.attr("resText/text") : null,
    ports: n.getPorts().filter((p) => p.group === "out")
      .map((p) => n.getPortProp(p.id, "attrs/text/text")),
  },
]))"""


def _period(page: Page, start: str, end: str) -> None:
    page.locator("#results-from").fill(start)
    page.locator("#results-to").fill(end)
    page.locator("#results-to").dispatch_event("change")


def test_results_on_the_version_view_and_the_editor(
    page: Page, canvas_app: FastAPI, live_server: LiveServer, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        jid = seed_small_chain(session)

    # the version view, in Chinese
    page.goto(f"/journeys/{jid}/versions/1")
    canvas = page.locator("#canvas")
    expect(canvas).to_have_attribute("data-ready", "true")
    expect(page.locator("#results-bar")).to_be_hidden()
    page.locator("#results-toggle").click()
    expect(page.locator("#results-toggle")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#results-version")).to_have_value("1")
    _period(page, "2026-03-01", "2026-03-31")
    expect(canvas).to_have_attribute("data-results", "shown")
    expect(page.locator("#results-summary")).to_have_text("进入 4 人 · 转化 2 人（50%）· 收入 420")
    badges: dict[str, Any] = page.evaluate(BADGES)
    assert badges["wfe"]["badge"] == "4 人进入 · 1 人等待中"
    assert badges["entry"] == {"badge": "4 人进入", "ports": ["4 · 100%"]}
    assert [p.split(" ")[-3:] for p in badges["wfe"]["ports"]] == [
        ["1", "·", "25%"],
        ["2", "·", "50%"],
    ]
    assert badges["done"]["badge"] == "2 人进入 · 2 人结束 (1 人转化)"
    assert badges["goal"]["badge"] == "1 人进入 · 1 人结束 (1 人转化)"
    csv = page.locator("#results-csv").get_attribute("href") or ""
    assert csv.endswith("results.csv?version=1&from=2026-03-01&to=2026-03-31")
    page.screenshot(path=str(artifacts / "results-canvas-zh.png"))

    # all versions: the same numbers; a bad period: the server's reason, no crash
    page.locator("#results-version").select_option("")
    expect(canvas).to_have_attribute("data-results", "shown")
    _period(page, "2026-03-31", "2026-03-01")
    expect(canvas).to_have_attribute("data-results", "error")

    # the editor of the published journey, in English: an empty period says so
    page.context.add_cookies([{"name": COOKIE_NAME, "value": "en", "url": live_server.url}])
    page.goto(f"/journeys/{jid}/edit")
    expect(canvas).to_have_attribute("data-ready", "true")
    page.locator("#results-toggle").click()
    _period(page, "2025-01-01", "2025-01-31")
    expect(canvas).to_have_attribute("data-results", "empty")
    expect(page.locator("#results-summary")).to_have_text("No customers entered in this period.")
    assert page.evaluate(BADGES)["wfe"]["badge"] == "0 entered"
    _period(page, "2026-03-01", "2026-03-31")
    expect(page.locator("#results-summary")).to_have_text(
        "4 entered · 2 converted (50%) · revenue 420"
    )
    expect(canvas).to_have_attribute("data-results", "shown")
    assert page.evaluate(BADGES)["wfe"]["ports"][0] == "happened 1 · 25%"  # its label kept
    page.screenshot(path=str(artifacts / "results-canvas-en.png"))

    # off: the canvas as the server drew it, and nothing to save
    page.locator("#results-toggle").click()
    expect(page.locator("#results-bar")).to_be_hidden()
    after = page.evaluate(BADGES)
    assert all(b["badge"] is None for b in after.values())
    assert after["entry"]["ports"] == [""]
    expect(page.locator("#save-state")).to_have_attribute("data-state", "saved")
    assert page.errors == []  # type: ignore[attr-defined]

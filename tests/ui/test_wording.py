"""Real Chromium: words and signals that read as a user expects (issue 18, item 22):
nothing red on zero overdue tasks, "Condition 1" and "1 day" (not "Conditions 1", "1 days"),
no cool-down field unless re-entry is "After a cool-down", and a real /favicon.ico."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.canvas_ui.harness import linear_document
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui


def in_english(page: Page, live_server: LiveServer) -> None:
    """Switch the browser's UI language to English (the switch's cookie)."""
    page.context.add_cookies([{"name": "journeys_lang", "value": "en", "url": live_server.url}])


def _document() -> dict[str, Any]:
    doc = copy.deepcopy(linear_document("wording"))
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 1
    doc["nodes"].insert(
        3,
        {
            "id": "branch",
            "kind": "branch",
            "label": "",
            "position": {"x": 600, "y": 200},
            "config": {
                "rules": [
                    {
                        "id": "gold",
                        "label": "Gold",
                        "conditions": [
                            {"type": "attribute", "field": "member_level", "value": "gold"}
                        ],
                    }
                ]
            },
        },
    )
    return doc


def test_units_and_list_items_read_singular(
    page: Page, live_server: LiveServer, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post("/api/journeys", json={"name": "w", "document": _document()}).json()["id"]
    in_english(page, live_server)
    page.goto(f"/journeys/{jid}/nodes/wait/panel")
    unit = page.locator('#panel select[name="config.until.duration.unit"]')
    expect(unit.locator("option:checked")).to_have_text("day")
    amount = page.locator('#panel input[name="config.until.duration.amount"]')
    amount.fill("3")
    expect(unit.locator("option:checked")).to_have_text("days")
    page.goto(f"/journeys/{jid}/nodes/branch/panel")
    panel = page.locator("#panel")
    expect(panel.get_by_text("Condition 1", exact=True)).to_be_visible()
    expect(panel.get_by_text("Conditions 1")).to_have_count(0)
    page.screenshot(path=str(artifacts / "panel-branch-en-singular.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_cool_down_only_with_its_policy(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post("/api/journeys", json={"name": "w", "document": _document()}).json()["id"]
    page.goto(f"/journeys/{jid}/nodes/entry/panel")
    policy = page.locator('#panel select[name="config.reentry.policy"]')
    cooldown = page.locator('#panel input[name="config.reentry.cooldown_days"]')
    expect(policy).to_have_value("never")
    expect(cooldown).to_be_hidden()
    policy.select_option("cooldown")
    expect(cooldown).to_be_visible()
    cooldown.fill("1")
    expect(page.locator("#panel .with-unit .unit")).to_have_text("天")
    page.screenshot(path=str(artifacts / "panel-entry-cooldown.png"))
    policy.select_option("after_exit")
    expect(cooldown).to_be_hidden()
    page.screenshot(path=str(artifacts / "panel-entry-reentry-after-exit.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_zero_overdue_is_not_red_and_the_favicon_is_served(
    page: Page, live_server: LiveServer, artifacts: Path
) -> None:
    page.goto("/tasks")
    overdue = page.locator('[data-kpi="overdue"]')
    expect(overdue).to_have_text("0")
    expect(overdue.locator("xpath=..")).not_to_have_class("card kpi warn")
    colour = overdue.evaluate("(el) => getComputedStyle(el).color")
    danger = page.evaluate(
        "() => getComputedStyle(document.documentElement).getPropertyValue('--danger')"
    )
    assert colour != danger.strip()
    page.screenshot(path=str(artifacts / "tasks-dashboard-zero-overdue.png"))
    icon = httpx.get(live_server.url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"
    assert page.errors == []  # type: ignore[attr-defined]

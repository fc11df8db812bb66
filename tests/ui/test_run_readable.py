"""Real Chromium: the run view's step pane reads as values, not JSON (issue 18, item 19):
local times instead of UTC with microseconds, short ids instead of 32 hex digits, and the
raw JSON one click away."""

from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import Session

from tests.runs.harness import add_run, publish_every_kind, simulated_state
from tests.ui.test_run_view import FakeGateway

UTC_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
HEX_ID = re.compile(r"\b[0-9a-f]{32}\b")


def test_step_pane_shows_readable_values(
    page: Any, canvas_app: FastAPI, live_server: Any, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, journey = publish_every_kind(session)
        add_run(session, journey_id, "journey-every-kind-C1")
    with ThreadPoolExecutor(1) as pool:
        state = pool.submit(asyncio.run, simulated_state(journey)).result()
    canvas_app.state.temporal = FakeGateway(state)

    page.goto("/runs/journey-every-kind-C1")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    items = page.locator("#run-timeline li")
    pane = page.locator("#step-state")
    seen_time = False
    for i in range(items.count()):
        items.nth(i).click()
        expect(pane.locator("details.raw")).to_have_count(1)
        shown = page.evaluate(
            """() => { const c = document.getElementById('step-state').cloneNode(true);
                c.querySelectorAll('details.raw').forEach((d) => d.remove());
                return c.innerText; }"""
        )
        assert not UTC_STAMP.search(shown), shown
        assert not HEX_ID.search(shown), shown
        assert "{" not in shown, shown  # no JSON outside the raw block
        seen_time = seen_time or bool(re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", shown))
        if i == 0 or "优惠券" in items.nth(i).inner_text():
            page.screenshot(path=str(artifacts / f"run-step-pane-{i}.png"))
    assert seen_time, "a recorded moment is shown in local time"

    # the raw record is one click away, whole
    raw = pane.locator("details.raw")
    expect(raw.locator("pre")).to_be_hidden()
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_be_visible()
    record = json.loads(raw.locator("pre").inner_text())
    assert set(record) == {"inputs", "result", "context", "events"}
    page.screenshot(path=str(artifacts / "run-step-pane-raw.png"))
    assert page.errors == []  # type: ignore[attr-defined]

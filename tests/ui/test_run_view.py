"""Real Chromium: open a run through every node kind, step through it, and test-run a draft."""

from __future__ import annotations

import asyncio
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import Session

from engine.runtime import RunState
from tests.runs.harness import add_run, publish_every_kind, simulated_state


class _Handle:
    def __init__(self, state: RunState) -> None:
        self.state = state

    async def query(self, *_a: Any, **_kw: Any) -> RunState:
        return self.state

    async def fetch_history(self) -> Any:
        raise RuntimeError("no history in this test")


class _Client:
    def __init__(self, state: RunState) -> None:
        self.state = state

    def get_workflow_handle(self, *_a: Any, **_kw: Any) -> _Handle:
        return _Handle(self.state)


class FakeGateway:
    """A worker that answers the ``state`` query with a run of the same interpreter."""

    def __init__(self, state: RunState) -> None:
        self._client = _Client(state)

    async def client(self) -> _Client:
        return self._client


def _stroke(page: Any, node_id: str) -> str:
    return str(
        page.evaluate(
            "(id) => window.journeyCanvas.graph.getCellById(id).attr('body/stroke')", node_id
        )
    )


def test_open_a_run_and_step_through(
    page: Any, canvas_app: FastAPI, live_server: Any, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, journey = publish_every_kind(session)
        add_run(session, journey_id, "journey-every-kind-C1")
    # Playwright's sync API owns this thread's loop: simulate on another thread
    with ThreadPoolExecutor(1) as pool:
        state = pool.submit(asyncio.run, simulated_state(journey)).result()
    canvas_app.state.temporal = FakeGateway(state)

    page.goto("/runs?q=journey-every-kind-C1")
    page.click("text=打开")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    items = page.locator("#run-timeline li")
    assert items.count() == len(state.trace) == 10
    assert "分支: " in page.locator("#run-timeline").inner_text()
    assert "已结束：达成目标" in page.locator("#run-current").inner_text()
    assert _stroke(page, "coupon") == "#12b76a"  # on the path
    assert _stroke(page, "done") == "#d0d5dd"  # not on it
    assert "/namespaces/default/workflows/journey-every-kind-C1" in str(
        page.get_attribute("#temporal-link", "href")
    )
    page.screenshot(path=str(artifacts / "run_view.png"))

    # step back to the branch: the coupon is not reached yet, the branch is current
    page.locator("#step-slider").fill("3")
    assert page.get_attribute("#step-label", "data-node") == "rfm"
    assert _stroke(page, "coupon") == "#d0d5dd"
    assert _stroke(page, "rfm") == "#2f6fed"
    page.click("#step-next")
    assert page.get_attribute("#step-label", "data-node") == "coupon"
    # the result reads as named values (券码 SIM…), the raw ids under "Raw data (JSON)"
    assert "券码" in page.locator("#step-state").inner_text()
    assert "coupon_id" in page.locator("#step-state details.raw pre").text_content()
    page.screenshot(path=str(artifacts / "run_view_step.png"))
    assert page.errors == []


def test_test_run_of_a_draft(
    page: Any, canvas_app: FastAPI, live_server: Any, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, _journey = publish_every_kind(session)
    page.goto(f"/journeys/{journey_id}/edit")
    page.click("#test-run-link")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    page.select_option("select[name=rfm_class]", "重要挽留")
    page.fill(
        "textarea[name=script]", "purchase ¥300 on day 1.5\ntask outcome interested on day 1.8"
    )
    page.click("text=开始测试")
    page.wait_for_function("document.getElementById('test-run-form').dataset.done === 'true'")
    assert page.locator("#run-timeline li").count() == 10
    assert _stroke(page, "goal") == "#12b76a"
    page.screenshot(path=str(artifacts / "test_run.png"))
    assert page.errors == []


def test_test_run_shows_messages_as_text_and_clears_on_error(
    page: Any, canvas_app: FastAPI, live_server: Any, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, _journey = publish_every_kind(session)
    page.goto(f"/journeys/{journey_id}/test-run")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    page.select_option("select[name=rfm_class]", "重要挽留")
    page.fill("textarea[name=script]", "purchase ¥300 on day 1.5")
    page.click("text=开始测试")
    page.wait_for_function("document.getElementById('test-run-form').dataset.done === 'true'")

    # what the customer would read, as text, with its step; a click opens that step
    sent = page.locator("#test-run-sent")
    expect(sent).to_be_visible()
    message = sent.locator("li", has_text="测试客户 送您券 SIM00001")
    expect(message).to_contain_text("企业微信")
    message.click()
    assert page.get_attribute("#step-label", "data-node") == "msg"
    pane = page.locator("#step-state")
    expect(pane.locator(".rendered-text")).to_have_text("测试客户 送您券 SIM00001")
    raw = pane.locator("details.raw")
    expect(raw.locator("pre")).to_be_hidden()  # the raw JSON is one click away
    raw.locator("summary").click()
    expect(raw.locator("pre")).to_contain_text('"message_id": "SIM-MSG')
    # the guide's task, rendered
    expect(sent.locator("li", has_text="回访 测试客户")).to_be_visible()
    page.screenshot(path=str(artifacts / "test_run_message_text.png"))

    # a script that does not parse: the error, and nothing left of the last result
    page.fill("textarea[name=script]", "purchase on the moon")
    page.click("text=开始测试")
    page.wait_for_function("document.getElementById('test-run-form').dataset.done === 'error'")
    status = page.locator("#test-run-status")
    expect(status).to_have_class(re.compile(r"\berr\b"))
    expect(status).to_contain_text("moon")
    assert page.locator("#run-timeline li").count() == 0
    expect(sent).to_be_hidden()
    expect(page.locator("#run-current")).to_have_text("")
    expect(page.locator("#step-state")).to_have_text("")
    assert _stroke(page, "goal") == "#d0d5dd"  # the path is gone from the canvas
    page.screenshot(path=str(artifacts / "test_run_parse_error.png"))
    assert page.errors == []

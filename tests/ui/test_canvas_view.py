"""Real Chromium: journeys open at a readable zoom, remember the user's view per journey,
and the run view pans to the step shown."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page
from sqlmodel import Session

from tests.runs.harness import add_run, publish_every_kind, simulated_state
from tests.ui.canvas_driver import open_editor
from tests.ui.test_run_view import FakeGateway

pytestmark = pytest.mark.ui

READABLE = 0.7  # canvas.js READABLE_SCALE


def _scale(page: Page) -> float:
    return float(page.evaluate("window.journeyCanvas.graph.transform.getScale().sx"))


def _on_screen(page: Page, node_id: str) -> bool:
    """Is the whole step inside the canvas's visible box?"""
    canvas = page.locator("#canvas").bounding_box()
    node = page.locator(f'#canvas [data-cell-id="{node_id}"]').bounding_box()
    assert canvas is not None
    if node is None:  # not rendered: virtual rendering draws only what is in view
        return False
    return (
        node["x"] >= canvas["x"]
        and node["y"] >= canvas["y"]
        and node["x"] + node["width"] <= canvas["x"] + canvas["width"]
        and node["y"] + node["height"] <= canvas["y"] + canvas["height"]
    )


def test_editor_opens_readable_and_remembers_the_view(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, _ = publish_every_kind(session)
        other_id, _ = publish_every_kind(session)
    open_editor(page, f"/journeys/{journey_id}/edit")
    # 16 steps in a wide row: too wide to fit readably, so it opens at the floor, on its entry
    assert _scale(page) == pytest.approx(READABLE, abs=0.01)
    assert page.locator("#zoom-level").inner_text() == "70%"
    assert _on_screen(page, "entry")
    page.screenshot(path=str(artifacts / "canvas-open-readable.png"))

    # the wheel pans (no Ctrl): the rest of the journey is a scroll away
    box = page.locator("#canvas").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    t0 = page.evaluate("window.journeyCanvas.graph.translate()")
    page.mouse.wheel(0, 120)
    moved = "([axis, to]) => window.journeyCanvas.graph.translate()[axis] === to"
    page.wait_for_function(moved, arg=["ty", t0["ty"] - 120])
    page.keyboard.down("Shift")
    page.mouse.wheel(0, 400)  # Shift + a plain wheel: sideways
    page.keyboard.up("Shift")
    page.wait_for_function(moved, arg=["tx", t0["tx"] - 400])
    assert _scale(page) == pytest.approx(READABLE, abs=0.01)  # panned, not zoomed

    # the user's zoom and place come back on the next visit of this journey …
    page.click('[data-cmd="zoom-in"]')
    page.click('[data-cmd="zoom-in"]')
    zoomed = _scale(page)
    assert zoomed == pytest.approx(0.9, abs=0.01)
    page.wait_for_function(
        "(k) => JSON.parse(localStorage.getItem(k) || 'null')?.scale === 0.9",
        arg=f"jc:view:{journey_id}",
    )
    before = page.evaluate("window.journeyCanvas.graph.getGraphArea().getCenter()")
    open_editor(page, f"/journeys/{journey_id}/edit")
    assert _scale(page) == pytest.approx(zoomed, abs=0.01)
    after = page.evaluate("window.journeyCanvas.graph.getGraphArea().getCenter()")
    assert abs(after["x"] - before["x"]) <= 2 and abs(after["y"] - before["y"]) <= 2

    # … and only of this journey: another one opens at its own readable view
    open_editor(page, f"/journeys/{other_id}/edit")
    assert _scale(page) == pytest.approx(READABLE, abs=0.01)
    assert page.errors == []  # type: ignore[attr-defined]


def test_small_journey_fits_and_test_run_opens_readable(
    page: Page, canvas_app: FastAPI, client_for: Any
) -> None:
    from tests.canvas_ui.harness import linear_document

    four = client_for.post("/api/journeys", json={"name": "四步", "document": linear_document()})
    open_editor(page, f"/journeys/{four.json()['id']}/edit")
    assert READABLE - 0.01 <= _scale(page) <= 1  # the whole width, readable
    for node in ("entry", "wait", "coupon", "exit"):
        assert _on_screen(page, node), node
    two = client_for.post("/api/journeys", json={"name": "两步"})  # entry → exit
    open_editor(page, f"/journeys/{two.json()['id']}/edit")
    assert _scale(page) == pytest.approx(1.0)  # never blown up past 100 %

    with Session(canvas_app.state.engine) as session:
        journey_id, _ = publish_every_kind(session)
    page.goto(f"/journeys/{journey_id}/test-run")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    assert _scale(page) >= READABLE - 0.01
    assert page.errors == []  # type: ignore[attr-defined]


def test_run_view_is_readable_and_step_through_pans_to_the_step(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as session:
        journey_id, journey = publish_every_kind(session)
        add_run(session, journey_id, "journey-every-kind-C1")
    with ThreadPoolExecutor(1) as pool:
        state = pool.submit(asyncio.run, simulated_state(journey)).result()
    canvas_app.state.temporal = FakeGateway(state)

    page.goto("/runs/journey-every-kind-C1")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    assert _scale(page) >= READABLE - 0.01
    # the run ended at the goal, far right: the view went there
    page.wait_for_function("() => document.querySelector('#canvas [data-cell-id=\"goal\"]')")
    assert _on_screen(page, "goal")
    page.screenshot(path=str(artifacts / "run_view_readable.png"))

    # step back to the start: the canvas follows to the entry, then forward again
    page.locator("#step-slider").fill("0")
    page.wait_for_function("() => document.querySelector('#canvas [data-cell-id=\"entry\"]')")
    assert page.get_attribute("#step-label", "data-node") == "entry"
    assert _on_screen(page, "entry")
    for _ in range(len(state.trace) - 1):
        page.click("#step-next")
        node = page.get_attribute("#step-label", "data-node")
        assert node is not None
        page.wait_for_function(
            '(id) => document.querySelector(`#canvas [data-cell-id="${id}"]`)', arg=node
        )
        assert _on_screen(page, node), node
    page.screenshot(path=str(artifacts / "run_view_step_follows.png"))

    # the zoom is remembered here too (the place follows the run)
    page.click('[data-cmd="zoom-out"]')
    zoomed = _scale(page)
    page.wait_for_function(
        "([k, s]) => JSON.parse(localStorage.getItem(k) || 'null')?.scale === s",
        arg=[f"jc:view:{journey_id}", round(zoomed, 2)],
    )
    page.reload()
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    assert _scale(page) == pytest.approx(zoomed, abs=0.01)
    assert page.errors == []  # type: ignore[attr-defined]

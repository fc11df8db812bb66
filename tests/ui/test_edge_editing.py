"""Editing connections in real Chromium: outcomes that remain keep their connections,
replacing a connection by dragging from a connected output, "+" on a connection to insert a
step (issue 18, items 7 and 8)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from templates_lib.registry import instantiate
from tests.ui.canvas_driver import document, open_editor, saved

pytestmark = pytest.mark.ui


def _edges_from(page: Page, node_id: str) -> dict[str, str]:
    """Output port → target of ``node_id``'s connections, as the canvas would save them."""
    return {
        e["source_port"]: e["target"] for e in document(page)["edges"] if e["source"] == node_id
    }


def test_changing_outcomes_keeps_the_connections_of_those_that_remain(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    doc = instantiate("dormant_wakeup")
    task = next(n for n in doc["nodes"] if n["kind"] == "assign_guide_task")
    assert task["config"]["outcomes"] == ["will_visit", "no_answer", "declined"]
    jid = client_for.post("/api/journeys", json={"name": "唤醒", "document": doc}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    before = _edges_from(page, task["id"])
    assert set(before) == {"will_visit", "no_answer", "declined", "expired"}

    page.evaluate(
        "(id) => window.journeyCanvas.graph.centerCell(window.journeyCanvas.graph.getCellById(id))",
        task["id"],
    )
    page.locator(f'#canvas [data-cell-id="{task["id"]}"] rect').first.click(
        position={"x": 70, "y": 8}
    )
    outcomes = page.locator('#panel textarea[name="config.outcomes"]')
    expect(outcomes).to_have_value("will_visit\nno_answer\ndeclined")
    # as a person edits: replace the last line by typing (the textarea used to stop taking
    # keys, or cut the text, at 8 characters: the limit of 8 outcomes)
    outcomes.click()
    page.keyboard.press("Control+End")
    for _ in range(len("declined")):
        page.keyboard.press("Backspace")
    page.keyboard.type("回访成功\n已购买")
    expect(outcomes).to_have_value("will_visit\nno_answer\n回访成功\n已购买")
    page.locator("#panel").get_by_role("button", name="应用").click()
    expect(page.locator("#panel .notice.ok")).to_be_visible()
    saved(page)

    after = _edges_from(page, task["id"])
    assert after == {k: v for k, v in before.items() if k != "declined"}
    # the user is told which connection went, by the output's name
    expect(page.locator("#toast")).to_contain_text("“declined”")
    ports = page.evaluate(
        "(id) => window.journeyCanvas.graph.getCellById(id).getPorts().map((p) => p.id)",
        task["id"],
    )
    assert ports == [
        "in",
        "out:will_visit",
        "out:no_answer",
        "out:回访成功",
        "out:已购买",
        "out:expired",
    ]
    page.screenshot(path=str(artifacts / "outcomes-kept.png"))

    # the draft on the server agrees; Undo brings the removed connection back
    saved_doc = client_for.get(f"/api/journeys/{jid}").json()["document"]
    assert {e["source_port"] for e in saved_doc["edges"] if e["source"] == task["id"]} == {
        "will_visit",
        "no_answer",
        "expired",
    }
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.wait_for_function(
        "(id) => window.journeyCanvas.graph.getEdges()"
        ".some((e) => e.getSourceCellId() === id && e.getSourcePortId() === 'out:declined')",
        arg=task["id"],
    )
    assert page.errors == []  # type: ignore[attr-defined]

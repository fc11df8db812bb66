"""Editing connections in real Chromium: outcomes that remain keep their connections,
replacing a connection by dragging from a connected output, "+" on a connection to insert a
step (issue 18, items 7 and 8)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from templates_lib.registry import instantiate
from tests.canvas_ui.harness import linear_document
from tests.ui.canvas_driver import (
    center,
    document,
    drag,
    edge_count,
    node_ids,
    open_editor,
    port,
    saved,
)

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
    # the removed output is named as the user reads it (its outcome in words), not its id
    expect(page.locator("#toast")).to_contain_text("“已拒绝”")
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


def _node_boxes(page: Page) -> dict[str, dict[str, float]]:
    boxes: dict[str, dict[str, float]] = page.evaluate(
        """() => Object.fromEntries(window.journeyCanvas.graph.getNodes().map((n) => {
          const b = n.getBBox();
          return [n.id, { x: b.x, y: b.y, w: b.width, h: b.height }];
        }))"""
    )
    return boxes


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def test_dragging_from_a_connected_output_replaces_its_connection(
    page: Page, client_for: httpx.Client
) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "x", "document": linear_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    assert _edges_from(page, "wait") == {"next": "coupon"}

    # wait → coupon becomes wait → exit (the drag used to do nothing at all)
    drag(page, center(page, port("wait", "next")), center(page, port("exit", "in")))
    page.wait_for_function(
        "() => window.journeyCanvas.graph.getEdges().some((e) => e.getSourceCellId() === 'wait'"
        " && e.getTargetCellId() === 'exit')"
    )
    assert _edges_from(page, "wait") == {"next": "exit"}
    assert edge_count(page) == 3  # the old connection went; the others stayed
    expect(page.locator("#toast")).to_contain_text("“等三天”现在连到“出口”")
    saved(page)
    draft = client_for.get(f"/api/journeys/{jid}").json()["document"]
    assert {(e["source"], e["target"]) for e in draft["edges"]} == {
        ("entry", "wait"),
        ("wait", "exit"),
        ("coupon", "exit"),
    }

    # one Undo puts the old connection back and takes the new one away
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.wait_for_function(
        "() => window.journeyCanvas.graph.getEdges().some((e) => e.getSourceCellId() === 'wait'"
        " && e.getTargetCellId() === 'coupon')"
    )
    assert _edges_from(page, "wait") == {"next": "coupon"}
    assert edge_count(page) == 3

    # still refused: into an entry, into the step itself
    drag(page, center(page, port("coupon", "next")), center(page, port("coupon", "in")))
    assert _edges_from(page, "coupon") == {"next": "exit"}
    assert page.errors == []  # type: ignore[attr-defined]


def test_plus_on_a_connection_inserts_a_step_in_between(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "x", "document": linear_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    before = _node_boxes(page)

    # hover the middle of wait → coupon: "+" appears there
    mid = page.evaluate(
        """() => {
          const g = window.journeyCanvas.graph;
          const e = g.getEdges().find((x) => x.getSourceCellId() === 'wait');
          const p = g.findViewByCell(e).getPointAtRatio(0.5);
          const c = g.localToClient(p.x, p.y);
          return [c.x, c.y];
        }"""
    )
    page.mouse.move(mid[0], mid[1] - 20)
    page.mouse.move(mid[0], mid[1], steps=4)
    plus = page.locator("#canvas circle.edge-insert")
    expect(plus).to_have_count(1)
    plus.click()
    menu = page.get_by_role("menu", name="插入步骤")
    expect(menu).to_be_visible()
    # the chooser offers the kinds that go in the middle of a path (no entry, no exit)
    kinds = menu.locator("[data-insert-kind]").evaluate_all(
        "els => els.map((e) => e.dataset.insertKind)"
    )
    assert "send_message" in kinds and "entry" not in kinds and "exit" not in kinds
    page.screenshot(path=str(artifacts / "edge-insert-menu.png"))
    menu.get_by_role("menuitem", name="发消息").click()

    page.wait_for_function("() => window.journeyCanvas.graph.getNodes().length === 5")
    (new_id,) = set(node_ids(page)["send_message"])
    assert _edges_from(page, "wait") == {"next": new_id}
    assert _edges_from(page, new_id) == {"next": "coupon"}
    # its panel opens, the step selected
    expect(page.locator(f'#panel[data-node-id="{new_id}"]')).to_be_visible()
    # laid out sanely: between its neighbours, on their line, overlapping nothing; the
    # steps from the coupon on moved right together to make room
    boxes = _node_boxes(page)
    new = boxes.pop(new_id)
    assert boxes["wait"]["x"] + boxes["wait"]["w"] < new["x"]
    assert new["x"] + new["w"] < boxes["coupon"]["x"]
    assert abs(new["y"] + new["h"] / 2 - (boxes["wait"]["y"] + boxes["wait"]["h"] / 2)) < 20
    assert not any(_overlap(new, b) for b in boxes.values())
    shift = boxes["coupon"]["x"] - before["coupon"]["x"]
    assert shift > 0 and boxes["exit"]["x"] - before["exit"]["x"] == shift
    assert boxes["wait"] == before["wait"] and boxes["entry"] == before["entry"]
    saved(page)
    page.screenshot(path=str(artifacts / "edge-insert.png"))
    draft = client_for.get(f"/api/journeys/{jid}").json()["document"]
    assert {(e["source"], e["target"]) for e in draft["edges"]} == {
        ("entry", "wait"),
        ("wait", new_id),
        (new_id, "coupon"),
        ("coupon", "exit"),
    }

    # one Undo takes the inserted step away and puts the connection and places back
    page.locator("#canvas").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    page.wait_for_function("() => window.journeyCanvas.graph.getNodes().length === 4")
    assert _edges_from(page, "wait") == {"next": "coupon"}
    assert _node_boxes(page) == before
    assert page.errors == []  # type: ignore[attr-defined]

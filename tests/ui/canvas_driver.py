"""Small helpers that drive the X6 canvas like a person: palette drags, port-to-port drags.

X6 reacts to real mouse sequences (down → several moves → up), so drags use
``mouse.down/move(steps=…)/up`` rather than ``drag_and_drop``.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page


def center(page: Page, selector: str) -> tuple[float, float]:
    """Centre of the first element matching ``selector``, in page coordinates."""
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page: Page, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Press at ``start``, move in steps, release at ``end``."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(start[0] + 5, start[1] + 5, steps=2)
    page.mouse.move(*end, steps=12)
    page.mouse.up()


def node_ids(page: Page) -> dict[str, list[str]]:
    """Node ids on the canvas by kind."""
    result: dict[str, list[str]] = page.evaluate(
        """() => {
          const out = {};
          for (const n of window.journeyCanvas.graph.getNodes()) {
            (out[n.getData().kind] = out[n.getData().kind] || []).push(n.id);
          }
          return out;
        }"""
    )
    return result


def drop_from_palette(page: Page, kind: str, at: tuple[float, float]) -> str:
    """Drag ``kind`` from the palette to ``at``; returns the new node's id."""
    before = set(node_ids(page).get(kind, []))
    drag(page, center(page, f'.palette-item[data-kind="{kind}"]'), at)
    page.wait_for_function(
        "([kind, n]) => window.journeyCanvas.graph.getNodes()"
        ".filter((x) => x.getData().kind === kind).length > n",
        arg=[kind, len(before)],
    )
    (new_id,) = set(node_ids(page)[kind]) - before
    return new_id


def port(node_id: str, name: str) -> str:
    """Selector of a node's port circle (``in`` or an output port name)."""
    port_id = "in" if name == "in" else f"out:{name}"
    return f'#canvas [data-cell-id="{node_id}"] circle[port="{port_id}"]'


def edge_count(page: Page) -> int:
    """Edges with both ends connected."""
    count: int = page.evaluate(
        "() => window.journeyCanvas.graph.getEdges().filter((e) => e.getTargetCellId()).length"
    )
    return count


def connect(page: Page, source: str, source_port: str, target: str) -> None:
    """Drag from ``source``'s output port to ``target``'s input; waits for the new edge."""
    before = edge_count(page)
    drag(page, center(page, port(source, source_port)), center(page, port(target, "in")))
    page.wait_for_function(
        "(n) => window.journeyCanvas.graph.getEdges()"
        ".filter((e) => e.getTargetCellId()).length > n",
        arg=before,
    )


def saved(page: Page) -> None:
    """Wait until the autosave indicator says everything is saved."""
    page.wait_for_selector('#save-state[data-state="saved"]')


def open_editor(page: Page, url: str) -> None:
    """Navigate to an editor URL and wait until the graph is interactive."""
    page.goto(url)
    page.wait_for_function("window.__canvasReady > 0")


def document(page: Page) -> dict[str, Any]:
    """The document as the canvas would save it."""
    doc: dict[str, Any] = page.evaluate("() => window.journeyCanvas.toDocument()")
    return doc

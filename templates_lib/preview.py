"""A small read-only picture of a journey: boxes at the nodes' canvas positions, edges as lines.

Geometry only (no colours, no HTML): the gallery template draws it as inline SVG with the
editor's kind colours, so a card shows the journey's shape without loading the canvas.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NODE_W = 232  # the editor's node size (canvas.js), so proportions match the canvas
NODE_H = 68
PAD = 24


@dataclass(frozen=True)
class PreviewNode:
    id: str
    kind: str
    label: str
    x: float
    y: float
    w: float = NODE_W
    h: float = NODE_H


@dataclass(frozen=True)
class PreviewEdge:
    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def path(self) -> str:
        """A horizontal S-curve from the source's right side to the target's left side."""
        mid = (self.x1 + self.x2) / 2
        return (
            f"M{self.x1:.0f},{self.y1:.0f} C{mid:.0f},{self.y1:.0f} "
            f"{mid:.0f},{self.y2:.0f} {self.x2:.0f},{self.y2:.0f}"
        )


@dataclass(frozen=True)
class Preview:
    view_box: str
    nodes: tuple[PreviewNode, ...]
    edges: tuple[PreviewEdge, ...]


def preview(document: Mapping[str, Any], titles: Mapping[str, str] | None = None) -> Preview:
    """The preview of a (possibly half-built) document; tolerant of missing fields.

    A step reads as its label, else as its kind's name from ``titles`` (as the canvas shows
    it), never as the kind's id."""
    nodes: dict[str, PreviewNode] = {}
    names = titles or {}
    for raw in document.get("nodes") or []:
        if not isinstance(raw, Mapping) or not raw.get("id"):
            continue
        pos = raw.get("position") or {}
        nodes[str(raw["id"])] = PreviewNode(
            id=str(raw["id"]),
            kind=str(raw.get("kind", "")),
            label=str(raw.get("label") or names.get(str(raw.get("kind"))) or raw.get("kind") or ""),
            x=float(pos.get("x", 0) or 0),
            y=float(pos.get("y", 0) or 0),
        )
    edges = []
    for raw in document.get("edges") or []:
        if not isinstance(raw, Mapping):
            continue
        s, t = nodes.get(str(raw.get("source"))), nodes.get(str(raw.get("target")))
        if s and t:
            edges.append(PreviewEdge(s.x + s.w, s.y + s.h / 2, t.x, t.y + t.h / 2))
    if not nodes:
        return Preview("0 0 400 120", (), ())
    xs = [n.x for n in nodes.values()]
    ys = [n.y for n in nodes.values()]
    left, top = min(xs) - PAD, min(ys) - PAD
    width = max(x + NODE_W for x in xs) + PAD - left
    height = max(y + NODE_H for y in ys) + PAD - top
    return Preview(
        f"{left:.0f} {top:.0f} {width:.0f} {height:.0f}", tuple(nodes.values()), tuple(edges)
    )

"""A small helper to write journey documents by hand: nodes on a grid, edges by port.

>>> d = DocBuilder("潜客激活", "…")
>>> d.node("entry", "entry", "进入", (0, 1), trigger={"type": "manual"})
>>> d.edge("entry", "wait")

Grid cells become canvas positions spaced for the editor's node size, so a template opens
laid out left to right with its branches on separate rows.
"""

from __future__ import annotations

from typing import Any

COL_WIDTH = 300
ROW_HEIGHT = 150
ORIGIN = (60, 60)


class DocBuilder:
    def __init__(self, name: str, description: str, *, settings: dict[str, Any] | None = None):
        self.doc: dict[str, Any] = {
            "schema_version": 1,
            "name": name,
            "description": description,
            "settings": settings or {},
            "nodes": [],
            "edges": [],
        }

    def node(
        self, node_id: str, kind: str, label: str, cell: tuple[float, float], **config: Any
    ) -> None:
        col, row = cell
        self.doc["nodes"].append(
            {
                "id": node_id,
                "kind": kind,
                "label": label,
                "position": {"x": ORIGIN[0] + col * COL_WIDTH, "y": ORIGIN[1] + row * ROW_HEIGHT},
                "config": config,
            }
        )

    def edge(self, source: str, target: str, port: str = "next") -> None:
        self.doc["edges"].append(
            {
                "id": f"e-{source}-{port}-{target}",
                "source": source,
                "source_port": port,
                "target": target,
            }
        )

    def build(self) -> dict[str, Any]:
        return self.doc


# ---- config snippets used by several templates


def days(n: int) -> dict[str, Any]:
    return {"amount": n, "unit": "days"}


def hours(n: int) -> dict[str, Any]:
    return {"amount": n, "unit": "hours"}


def minutes(n: int) -> dict[str, Any]:
    return {"amount": n, "unit": "minutes"}


#: When a person would send: customers are not messaged at night (DOMAIN: frequency matters).
SEND_WINDOW = {"start": "10:00", "end": "20:00", "timezone": "customer"}


def wait_for(duration: dict[str, Any], *, window: bool = True) -> dict[str, Any]:
    cfg: dict[str, Any] = {"until": {"type": "duration", "duration": duration}}
    if window:
        cfg["window"] = dict(SEND_WINDOW)
    return cfg


def purchase_goal() -> dict[str, Any]:
    return {"event_type": "purchase"}

"""The shape a saved draft must have, and a new journey's starting document.

A draft may be half-built (unconnected nodes, unfinished configs: the compiler reports
those), but its *structure* is checked on every save so the canvas can always load it
again: known kinds, well-formed ids, positions, edges with endpoints.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from canvas_ui.kinds import KINDS
from engine.compiler import MAX_NODES
from engine.document import SCHEMA_VERSION, Edge, NodeKind, Position


class DraftNode(BaseModel):
    """A node as the canvas saves it; its ``config`` is checked by the compiler, not here."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    kind: NodeKind
    label: str = Field(default="", max_length=120)
    position: Position = Field(default_factory=Position)
    config: dict[str, Any] = Field(default_factory=dict)


class DraftDocument(BaseModel):
    """A journey document as saved by the canvas or imported from a file."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    settings: dict[str, Any] = Field(default_factory=dict)
    nodes: list[DraftNode] = Field(default_factory=list, max_length=MAX_NODES)
    edges: list[Edge] = Field(default_factory=list, max_length=MAX_NODES * 4)

    def to_json(self) -> dict[str, Any]:
        """The document as stored (plain JSON types)."""
        return self.model_dump(mode="json")


def starter_document(name: str, description: str = "") -> dict[str, Any]:
    """A new journey: an entry and an exit, ready to be filled in between."""
    entry = KINDS[NodeKind.ENTRY]
    exit_ = KINDS[NodeKind.EXIT]
    return DraftDocument(
        name=name,
        description=description,
        nodes=[
            DraftNode(
                id="entry",
                kind=NodeKind.ENTRY,
                position=Position(x=80, y=200),
                config=dict(entry.default_config),
            ),
            DraftNode(
                id="exit",
                kind=NodeKind.EXIT,
                position=Position(x=620, y=200),
                config=dict(exit_.default_config),
            ),
        ],
    ).to_json()

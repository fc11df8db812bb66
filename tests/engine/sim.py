"""Helpers for engine tests that run journeys on the virtual clock."""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

from engine.document import AnyNode
from engine.runtime import RunState
from engine.simulation import SandboxWorld

#: node kind → its document model
NODE_MODELS: dict[str, type[BaseModel]] = {
    cls.model_fields["kind"].default.value: cls for cls in typing.get_args(AnyNode)
}


def journey_doc(
    nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]], **settings: Any
) -> dict[str, Any]:
    """A journey document from nodes and ``(source, port, target)`` edges."""
    return {
        "name": "engine test",
        "settings": settings,
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


def assert_end_recorded(state: RunState, world: SandboxWorld) -> None:
    """The run ended, and the last record (the database row) says the same end."""
    assert state.status in ("exited", "stopped"), (state.status, state.current)
    assert state.current is None and state.waiting is None
    assert world.records, "the run's end was never recorded"
    row = world.records[-1]
    assert (row.status, row.exit_reason, row.goal_reached) == (
        state.status,
        state.exit_reason,
        state.goal_reached,
    ), (row, state.status, state.exit_reason)

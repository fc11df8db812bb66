"""Journey documents the benchmarks share."""

from __future__ import annotations

import copy
from typing import Any

_WAIT_FOR_PURCHASE: dict[str, Any] = {
    "name": "bench: wait for purchase",
    "nodes": [
        {"id": "entry", "kind": "entry"},
        {
            "id": "wfe",
            "kind": "wait_for_event",
            "config": {"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
        },
        {
            "id": "thanks",
            "kind": "send_message",
            "config": {"channel": "wecom", "content": "{{ customer.name }}，感谢光临！"},
        },
        {"id": "x", "kind": "exit", "config": {"goal_reached": True}},
        {"id": "late", "kind": "exit"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "wfe"},
        {"id": "2", "source": "wfe", "source_port": "matched", "target": "thanks"},
        {"id": "3", "source": "wfe", "source_port": "timeout", "target": "late"},
        {"id": "4", "source": "thanks", "target": "x"},
    ],
}


def wait_for_purchase(*, name: str | None = None, entry_event: str | None = None) -> dict[str, Any]:
    """entry → wait up to 3 days for a purchase → a thank-you message → exit (goal); a
    fresh copy, entered manually or by ``entry_event``."""
    doc = copy.deepcopy(_WAIT_FOR_PURCHASE)
    if name:
        doc["name"] = name
    if entry_event:
        doc["nodes"][0]["config"] = {"trigger": {"type": "event", "event_type": entry_event}}
    return doc

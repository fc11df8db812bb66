"""The backtest's report: both versions' tallies side by side and as a difference.

A counter of the difference lists only what differs (candidate − baseline), so a version
against itself has an empty one (:func:`is_zero`).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from services.backtest_sim import Tally


def build_report(
    tallies: dict[str, Tally],
    *,
    docs: dict[str, dict[str, Any]],
    capacity: dict[str, tuple[str, int]],
    horizon: datetime,
    timezone: str,
) -> dict[str, Any]:
    """Side by side (``baseline`` / ``candidate``) and as ``diff`` (candidate − baseline;
    a counter lists only what differs, so a version against itself has an empty diff)."""
    b, c = tallies["baseline"], tallies["candidate"]
    nodes = _nodes(docs)
    ports = sorted(
        set(b.ports) | set(c.ports), key=lambda k: (nodes.get(k.split("|")[0], (99,))[0], k)
    )
    node_rows = []
    for key in ports:
        node_id, port = key.split("|", 1)
        node_rows.append(
            {
                "node_id": node_id,
                "label": nodes.get(node_id, (0, node_id, ""))[1],
                "kind": nodes.get(node_id, (0, "", ""))[2],
                "port": port,
                "baseline": b.ports.get(key, 0),
                "candidate": c.ports.get(key, 0),
            }
        )
    for node_id in sorted(set(b.waiting) | set(c.waiting)):
        node_rows.append(
            {
                "node_id": node_id,
                "label": nodes.get(node_id, (0, node_id, ""))[1],
                "kind": nodes.get(node_id, (0, "", ""))[2],
                "port": "(waiting)",
                "baseline": b.waiting.get(node_id, 0),
                "candidate": c.waiting.get(node_id, 0),
            }
        )
    messages = [
        {
            "channel": k.split("|")[0],
            "day": k.split("|")[1],
            "baseline": b.messages.get(k, 0),
            "candidate": c.messages.get(k, 0),
        }
        for k in sorted(set(b.messages) | set(c.messages), key=lambda k: (k.split("|")[1], k))
    ]
    tasks: list[dict[str, Any]] = []
    for k in sorted(set(b.tasks) | set(c.tasks), key=lambda k: (k.split("|")[1], k)):
        guide, day = k.split("|")
        name, cap = capacity.get(guide, (guide, 0))
        tasks.append(
            {
                "guide_id": guide,
                "guide": name,
                "day": day,
                "capacity": cap,
                "baseline": b.tasks.get(k, 0),
                "candidate": c.tasks.get(k, 0),
            }
        )
    over = {
        side: sum(1 for t in tasks if 0 < int(t["capacity"]) < int(t[side]))
        for side in ("baseline", "candidate")
    }
    diff = {
        "ports": _counter_diff(b.ports, c.ports),
        "waiting": _counter_diff(b.waiting, c.waiting),
        "messages": _counter_diff(b.messages, c.messages),
        "tasks": _counter_diff(b.tasks, c.tasks),
        "coupons": c.coupons - b.coupons,
        "coupon_value": round(c.coupon_value - b.coupon_value, 2),
        "conversions": c.conversions - b.conversions,
        "revenue": round(c.revenue - b.revenue, 2),
        "beyond_history": c.beyond_history - b.beyond_history,
        "guide_days_over_capacity": over["candidate"] - over["baseline"],
    }
    notes = ["behaviour"]
    if c.beyond_history or b.beyond_history:
        notes.append("beyond_history")
    return {
        "customers": b.customers,
        "runs": b.runs,
        "horizon": horizon.isoformat(),
        "timezone": timezone,
        "baseline": b.to_dict(),
        "candidate": c.to_dict(),
        "nodes": node_rows,
        "messages": messages,
        "tasks": tasks,
        "over_capacity": over,
        "diff": diff,
        "notes": notes,
    }


def is_zero(diff: dict[str, Any]) -> bool:
    """No difference at all between the two sides."""
    return all(not v for v in diff.values())


def _counter_diff(b: Counter[str], c: Counter[str]) -> dict[str, int]:
    return {
        k: c.get(k, 0) - b.get(k, 0) for k in sorted(set(b) | set(c)) if c.get(k, 0) != b.get(k, 0)
    }


def _nodes(docs: dict[str, dict[str, Any]]) -> dict[str, tuple[int, str, str]]:
    """node id → (order, label, kind) over both documents (the candidate's words first)."""
    out: dict[str, tuple[int, str, str]] = {}
    for side in ("candidate", "baseline"):
        for i, n in enumerate(docs.get(side, {}).get("nodes") or []):
            nid = str(n.get("id", ""))
            if nid and nid not in out:
                out[nid] = (i, str(n.get("label") or nid), str(n.get("kind", "")))
    return out

"""What changed between two journey documents, node by node (the approval's diff and the
audit log's save summary). Plain dicts in, plain dicts out: it reads drafts that may not
compile yet. Positions are layout, not behaviour, so moving a node is no change."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Node fields that are layout only.
_LAYOUT = ("position",)


def _nodes(document: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    nodes = (document or {}).get("nodes") or []
    return {str(n["id"]): n for n in nodes if isinstance(n, Mapping) and n.get("id")}


def _edges(document: Mapping[str, Any] | None) -> set[tuple[str, str, str]]:
    edges = (document or {}).get("edges") or []
    return {
        (str(e.get("source")), str(e.get("source_port") or "next"), str(e.get("target")))
        for e in edges
        if isinstance(e, Mapping)
    }


def _ref(node: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": str(node["id"]),
        "kind": str(node.get("kind", "")),
        "label": node.get("label", ""),
    }


def _changed_fields(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    fields = []
    for key in sorted(set(old) | set(new)):
        if key in _LAYOUT or key == "config":
            continue
        if old.get(key) != new.get(key):
            fields.append(key)
    old_config = old.get("config") or {}
    new_config = new.get("config") or {}
    if isinstance(old_config, Mapping) and isinstance(new_config, Mapping):
        for key in sorted(set(old_config) | set(new_config)):
            if old_config.get(key) != new_config.get(key):
                fields.append(f"config.{key}")
    elif old_config != new_config:
        fields.append("config")
    return fields


def diff_documents(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, Any]:
    """Nodes added, removed and changed (with the fields that changed), connections added
    and removed (source, port, target) and journey settings changed, from ``old`` to
    ``new`` (``old`` None: everything is new)."""
    before, after = _nodes(old), _nodes(new)
    changed = []
    for node_id in sorted(before.keys() & after.keys()):
        fields = _changed_fields(before[node_id], after[node_id])
        if fields:
            changed.append({**_ref(after[node_id]), "fields": fields})
    old_edges, new_edges = _edges(old), _edges(new)
    old_settings = (old or {}).get("settings") or {}
    new_settings = (new or {}).get("settings") or {}
    settings = sorted(
        k
        for k in set(old_settings) | set(new_settings)
        if old_settings.get(k) != new_settings.get(k)
    )
    if (old or {}).get("goal") != (new or {}).get("goal") and "goal" not in settings:
        settings.append("goal")
    return {
        "added": [_ref(after[i]) for i in sorted(after.keys() - before.keys())],
        "removed": [_ref(before[i]) for i in sorted(before.keys() - after.keys())],
        "changed": changed,
        "edges_added": [list(e) for e in sorted(new_edges - old_edges)],
        "edges_removed": [list(e) for e in sorted(old_edges - new_edges)],
        "settings": settings,
    }


def is_empty(diff: Mapping[str, Any]) -> bool:
    """Whether ``diff`` says nothing changed."""
    return not any(
        diff.get(k)
        for k in ("added", "removed", "changed", "edges_added", "edges_removed", "settings")
    )


def diff_summary(diff: Mapping[str, Any]) -> str:
    """One line for the audit log: ``+2 nodes, -1, 3 changed, connections +1/-0``."""
    if is_empty(diff):
        return "no change to steps or connections"
    parts = []
    for key, word in (("added", "added"), ("removed", "removed"), ("changed", "changed")):
        if diff.get(key):
            parts.append(f"{len(diff[key])} step(s) {word}")
    if diff.get("edges_added") or diff.get("edges_removed"):
        parts.append(
            f"connections +{len(diff.get('edges_added') or [])}"
            f"/-{len(diff.get('edges_removed') or [])}"
        )
    if diff.get("settings"):
        parts.append("settings: " + ", ".join(diff["settings"]))
    return "; ".join(parts)


def diff_counts(diff: Mapping[str, Any]) -> dict[str, int]:
    """How many steps were added, removed and changed, and connections added and removed
    (what the audit log keeps of a save, worded by the page in the reader's language)."""
    return {
        key: len(diff.get(key) or [])
        for key in ("added", "removed", "changed", "edges_added", "edges_removed")
    }

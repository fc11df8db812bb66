"""Parse: raw JSON → a typed :class:`JourneyDocument`, one diagnostic per broken node or edge.

Nodes and edges are validated one at a time so that a bad config on one node does not hide
the problems of the others, and so every diagnostic can name the node it is about.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.document import (
    AnyNode,
    Edge,
    JourneyDocument,
    JourneySettings,
    Node,
    NodeKind,
)

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_NODES = 500
MAX_EDGES = 2000

_NODE_ADAPTER: TypeAdapter[AnyNode] = TypeAdapter(Node)


def document_size(data: Any) -> int:
    """The size :data:`MAX_DOCUMENT_BYTES` limits: the document's JSON in UTF-8 bytes (the
    one measure at create, save, import and publish)."""
    return len(json.dumps(data, ensure_ascii=False, default=str).encode())


@dataclass
class Parsed:
    """What parsing recovered. ``document`` is None only when the top level is unusable."""

    document: JourneyDocument | None
    #: every node id seen with a usable id, valid config or not (so edges to a node whose
    #: config is broken are not also reported as edges to an unknown node)
    known_ids: dict[str, str] = field(default_factory=dict)
    broken_ids: set[str] = field(default_factory=set)


def _format_errors(err: ValidationError, drop: int = 0) -> str:
    parts = []
    for e in err.errors():
        # a discriminated union prefixes the path with the member's tag: drop it
        loc = ".".join(str(p) for p in e["loc"][drop:])
        parts.append(f"{loc or 'value'}: {e['msg']}")
    return "; ".join(parts[:6]) + ("; …" if len(parts) > 6 else "")


def error_params(err: ValidationError, drop: int = 0) -> list[dict[str, Any]]:
    """The errors as data for a UI to word: location, type and plain-valued context."""
    return [
        {
            "loc": list(e["loc"][drop:]),
            "type": e["type"],
            "ctx": {
                k: v
                for k, v in (e.get("ctx") or {}).items()
                if isinstance(v, str | int | float | bool)
            },
        }
        for e in err.errors()[:6]
    ]


def parse(raw: Any, diags: Diagnostics) -> Parsed:
    """Turn ``raw`` (bytes, str or already-decoded JSON) into a document, collecting diagnostics."""
    if isinstance(raw, bytes | str):
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > MAX_DOCUMENT_BYTES:
            diags.error(
                Code.TOO_LARGE,
                f"The document is {size // 1024} KB; the limit is {MAX_DOCUMENT_BYTES // 1024} KB.",
                hint="Split the journey into smaller journeys.",
            )
            return Parsed(None)
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            diags.error(Code.INVALID_DOCUMENT, f"Not valid JSON: {exc.msg} at line {exc.lineno}.")
            return Parsed(None)
    elif document_size(raw) > MAX_DOCUMENT_BYTES:
        diags.error(
            Code.TOO_LARGE,
            f"The document is larger than {MAX_DOCUMENT_BYTES // 1024} KB.",
            hint="Split the journey into smaller journeys.",
        )
        return Parsed(None)

    if not isinstance(raw, dict):
        diags.error(Code.INVALID_DOCUMENT, "A journey document must be a JSON object.")
        return Parsed(None)

    unknown_keys = set(raw) - set(JourneyDocument.model_fields)
    if unknown_keys:
        diags.error(
            Code.INVALID_DOCUMENT,
            f"Unknown top-level field(s): {', '.join(sorted(unknown_keys))}.",
            hint=did_you_mean(sorted(unknown_keys)[0], JourneyDocument.model_fields),
        )
    if raw.get("schema_version", 1) != 1:
        diags.error(
            Code.INVALID_DOCUMENT,
            f"schema_version {raw.get('schema_version')!r} is not supported; this server "
            "reads version 1.",
        )
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        diags.error(
            Code.INVALID_DOCUMENT,
            "The journey needs a name (1–120 characters).",
            hint='Set "name", e.g. "新客二回 · 30天券".',
        )
        name = "(unnamed)"
    description = raw.get("description", "")
    if not isinstance(description, str):
        diags.error(Code.INVALID_DOCUMENT, '"description" must be a string.')
        description = ""

    try:
        settings = JourneySettings.model_validate(raw.get("settings") or {})
    except ValidationError as exc:
        diags.error(Code.INVALID_DOCUMENT, f"settings: {_format_errors(exc)}")
        settings = JourneySettings()

    raw_nodes = raw.get("nodes", [])
    raw_edges = raw.get("edges", [])
    if not isinstance(raw_nodes, list) or not isinstance(raw_edges, list):
        diags.error(Code.INVALID_DOCUMENT, '"nodes" and "edges" must be lists.')
        return Parsed(None)
    if len(raw_nodes) > MAX_NODES:
        diags.error(
            Code.TOO_MANY_NODES,
            f"The journey has {len(raw_nodes)} nodes; the limit is {MAX_NODES}.",
            hint="Split the journey into smaller journeys.",
        )
        return Parsed(None)
    if len(raw_edges) > MAX_EDGES:
        diags.error(Code.TOO_MANY_NODES, f"The journey has more than {MAX_EDGES} edges.")
        return Parsed(None)

    parsed = Parsed(None)
    nodes: list[AnyNode] = []
    for i, rn in enumerate(raw_nodes):
        node = _parse_node(i, rn, diags, parsed)
        if node is not None:
            if node.id in parsed.known_ids and node.id not in parsed.broken_ids:
                diags.error(
                    Code.DUPLICATE_NODE_ID,
                    f"Two nodes have the id '{node.id}'.",
                    nodes=[node.id],
                    hint="Node ids must be unique; give one of them a new id.",
                )
                continue
            parsed.known_ids[node.id] = node.kind.value
            nodes.append(node)

    edges: list[Edge] = []
    seen_edges: set[str] = set()
    for i, re_ in enumerate(raw_edges):
        try:
            edge = Edge.model_validate(re_)
        except ValidationError as exc:
            edge_id = re_.get("id") if isinstance(re_, dict) else None
            diags.error(
                Code.INVALID_EDGE,
                f"Edge #{i + 1}{f' ({edge_id})' if edge_id else ''}: {_format_errors(exc)}",
                edges=[str(edge_id)] if isinstance(edge_id, str) else [],
            )
            continue
        if edge.id in seen_edges:
            diags.error(
                Code.DUPLICATE_EDGE_ID, f"Two edges have the id '{edge.id}'.", edges=[edge.id]
            )
            continue
        seen_edges.add(edge.id)
        edges.append(edge)

    parsed.document = JourneyDocument.model_construct(
        schema_version=1,
        name=name,
        description=description,
        settings=settings,
        nodes=nodes,
        edges=edges,
    )
    return parsed


def _parse_node(i: int, rn: Any, diags: Diagnostics, parsed: Parsed) -> AnyNode | None:
    if not isinstance(rn, dict):
        diags.error(Code.INVALID_DOCUMENT, f"Node #{i + 1} is not an object.")
        return None
    node_id = rn.get("id")
    label = f"'{rn.get('label') or node_id}'"
    if not isinstance(node_id, str) or not node_id:
        diags.error(Code.INVALID_CONFIG, f"Node #{i + 1} has no id.")
        return None
    kind = rn.get("kind")
    if kind not in NodeKind.__members__.values():
        diags.error(
            Code.UNKNOWN_KIND,
            f"Node {label} has an unknown kind {kind!r}.",
            nodes=[node_id],
            hint=did_you_mean(str(kind), [k.value for k in NodeKind]),
            params={"kind": str(kind)},
        )
        parsed.known_ids.setdefault(node_id, str(kind))
        parsed.broken_ids.add(node_id)
        return None
    try:
        return _NODE_ADAPTER.validate_python(rn)
    except ValidationError as exc:
        diags.error(
            Code.INVALID_CONFIG,
            f"Node {label} ({kind}): {_format_errors(exc, drop=1)}",
            nodes=[node_id],
            hint="Open the node's panel and correct the highlighted fields.",
            params={"kind": str(kind), "errors": error_params(exc, drop=1)},
        )
        parsed.known_ids.setdefault(node_id, str(kind))
        parsed.broken_ids.add(node_id)
        return None

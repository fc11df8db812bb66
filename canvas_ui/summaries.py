"""One-line summaries of node configs ("等待 3 天", "优惠券 ¥20 · 30天", "导购电话回访 · 24h").

Computed here, server-side, in the request's locale, and shipped with the node data so the
canvas never formats config itself. :func:`node_meta` also gives a node's output ports (from
:func:`engine.ports.output_ports`) and their display labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import KINDS
from canvas_ui.texts import (
    CHANNEL_LABELS,
    TASK_LABELS,
    CouponInfo,
    SummaryContext,
    duration_text,
    short_duration,
)
from canvas_ui.words import outcome_name
from engine import document as d
from engine.contact_policy import CAPPED
from engine.ports import (
    COMPLETED,
    ELSE,
    EXPIRED,
    FAILED,
    MATCHED,
    NEXT,
    STATIC_PORTS,
    TIMEOUT,
    output_ports,
)

__all__ = [
    "CHANNEL_LABELS",
    "PORT_LABELS",
    "TASK_LABELS",
    "CouponInfo",
    "SummaryContext",
    "document_meta",
    "duration_text",
    "node_meta",
    "parse_node",
    "port_label",
    "short_duration",
]

_NODE = TypeAdapter(d.Node)

PORT_LABELS: dict[str, str] = {
    NEXT: lazy("next"),
    MATCHED: lazy("happened"),
    TIMEOUT: lazy("timed out"),
    ELSE: lazy("otherwise"),
    COMPLETED: lazy("done"),
    EXPIRED: lazy("overdue"),
    FAILED: lazy("failed"),
    CAPPED: lazy("capped"),
}


def _summary(node: d.AnyNode, ctx: SummaryContext) -> str:
    info = KINDS.get(node.kind)
    return info.summary(node.config, ctx) if info is not None else ""


def parse_node(raw: Mapping[str, Any]) -> d.AnyNode | None:
    """The typed node, or None when its config does not validate (yet)."""
    try:
        return _NODE.validate_python(dict(raw))
    except ValidationError:
        return None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _lenient_ports(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Best-effort ports of a node whose config does not validate, so edges keep their port."""
    try:
        kind = d.NodeKind(str(raw.get("kind", "")))
    except ValueError:
        return (NEXT,)
    info = KINDS.get(kind)
    if info is not None and info.lenient_ports is not None:
        return info.lenient_ports(_as_dict(raw.get("config")))
    return STATIC_PORTS.get(kind, (NEXT,))


def _port_label(node: d.AnyNode | None, port: str) -> str:
    info = KINDS.get(node.kind) if node is not None else None
    if node is not None and info is not None and info.port_label is not None:
        label = info.port_label(node.config, port)
        if label is not None:
            return label
    # a guide task's outcome reads as the workbench's button does, not as its id
    return gettext(PORT_LABELS[port]) if port in PORT_LABELS else outcome_name(port)


def port_label(raw: Mapping[str, Any], port: str) -> str:
    """The label of output ``port`` of a (possibly half-configured) document node."""
    return _port_label(parse_node(raw), port)


def node_meta(raw: Mapping[str, Any], ctx: SummaryContext) -> dict[str, Any]:
    """Summary, ports and port labels of one (possibly half-configured) document node."""
    node = parse_node(raw)
    if node is None:
        ports = _lenient_ports(raw)
        summary = gettext("Not configured yet — click to set up")
        valid = False
    else:
        ports = output_ports(node)
        summary = _summary(node, ctx)
        valid = True
    return {
        "summary": summary,
        "ports": list(ports),
        "port_labels": {p: _port_label(node, p) for p in ports},
        "configured": valid,
    }


def document_meta(document: Mapping[str, Any], ctx: SummaryContext) -> dict[str, dict[str, Any]]:
    """:func:`node_meta` of every node of a document, keyed by node id."""
    nodes = _as_list(document.get("nodes"))
    labels = {str(n.get("id")): str(n.get("label") or "") for n in nodes if isinstance(n, dict)}
    ctx = SummaryContext(coupons=ctx.coupons, node_labels={**labels, **ctx.node_labels})
    return {str(n["id"]): node_meta(n, ctx) for n in nodes if isinstance(n, dict) and n.get("id")}

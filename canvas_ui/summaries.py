"""One-line summaries of node configs ("等待 3 天", "优惠券 ¥20 · 30天", "导购电话回访 · 24h").

Computed here, server-side, in the request's locale, and shipped with the node data so the
canvas never formats config itself. :func:`node_meta` also gives a node's output ports (from
:func:`engine.ports.output_ports`) and their display labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from canvas_ui.i18n import gettext, lazy, ngettext
from engine import document as d
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

_NODE = TypeAdapter(d.Node)


@dataclass(frozen=True)
class CouponInfo:
    """What a summary shows of a coupon template."""

    name: str
    face_value: float
    validity_days: int


@dataclass(frozen=True)
class SummaryContext:
    """Lookup data a summary may need: coupon templates by id, node labels by id."""

    coupons: Mapping[str, CouponInfo] = field(default_factory=dict)
    node_labels: Mapping[str, str] = field(default_factory=dict)


PORT_LABELS: dict[str, str] = {
    NEXT: lazy("next"),
    MATCHED: lazy("happened"),
    TIMEOUT: lazy("timed out"),
    ELSE: lazy("otherwise"),
    COMPLETED: lazy("done"),
    EXPIRED: lazy("overdue"),
    FAILED: lazy("failed"),
}

CHANNEL_LABELS: dict[str, str] = {
    "sms": lazy("SMS"),
    "wecom": lazy("WeCom"),
    "wechat_template": lazy("WeChat template"),
    "email": lazy("Email"),
    "webhook": lazy("Webhook"),
}

TASK_LABELS: dict[str, str] = {
    "call": lazy("Guide phone call"),
    "wecom_chat": lazy("Guide WeCom chat"),
    "store_invite": lazy("Guide store invitation"),
}


def duration_text(amount: int, unit: str) -> str:
    """ "3 天" / "3 days"."""
    if unit == "minutes":
        return ngettext("%(num)d minute", "%(num)d minutes", amount) % {"num": amount}
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", amount) % {"num": amount}
    return ngettext("%(num)d day", "%(num)d days", amount) % {"num": amount}


def short_duration(amount: int, unit: str) -> str:
    """Compact form for tight spots: "24h", "3d", "30min"."""
    suffix = {"minutes": "min", "hours": "h"}.get(unit, "d")
    return f"{amount}{suffix}"


def _money(value: float) -> str:
    return f"¥{value:g}"


def _summary(node: d.AnyNode, ctx: SummaryContext) -> str:  # noqa: C901 - one arm per kind
    c = node.config
    if isinstance(c, d.EntryConfig):
        t = c.trigger
        if isinstance(t, d.EventTrigger):
            return gettext("On event %(event)s") % {"event": t.event_type}
        if isinstance(t, d.SegmentTrigger):
            when = {"once": gettext("once"), "daily": gettext("daily"), "weekly": gettext("weekly")}
            return gettext("Segment %(segment)s · %(when)s %(time)s") % {
                "segment": t.segment_id,
                "when": when[t.schedule],
                "time": t.at_time,
            }
        return gettext("Manual enrolment")
    if isinstance(c, d.WaitConfig):
        text = _wait_summary(c.until, ctx)
        if c.window:
            text += f" · {c.window.start}–{c.window.end}"
        return text
    if isinstance(c, d.WaitForEventConfig):
        return gettext("Wait for %(event)s · up to %(timeout)s") % {
            "event": c.event_type,
            "timeout": duration_text(c.timeout.amount, c.timeout.unit),
        }
    if isinstance(c, d.BranchConfig):
        return ngettext("%(num)d rule + otherwise", "%(num)d rules + otherwise", len(c.rules)) % {
            "num": len(c.rules)
        }
    if isinstance(c, d.SplitConfig):
        return " / ".join(
            f"{v.label or v.id} {v.weight}%" + (" ∅" if v.holdout else "") for v in c.variants
        ) or gettext("No variants")
    if isinstance(c, d.SendCouponConfig):
        info = ctx.coupons.get(c.coupon_template_id)
        if info is None:
            return gettext("Coupon %(template)s") % {"template": c.coupon_template_id}
        return gettext("Coupon %(value)s · %(days)d days") % {
            "value": _money(info.face_value),
            "days": info.validity_days,
        }
    if isinstance(c, d.SendMessageConfig):
        content = c.content.strip().replace("\n", " ")
        if len(content) > 18:
            content = content[:18] + "…"
        return f"{gettext(CHANNEL_LABELS[c.channel.value])} · {content}"
    if isinstance(c, d.AssignGuideTaskConfig):
        return f"{gettext(TASK_LABELS[c.task_type.value])} · " + short_duration(
            c.due_in.amount, c.due_in.unit
        )
    if isinstance(c, d.UpdateCustomerConfig):
        parts = [f"+{t}" for t in c.add_tags] + [f"−{t}" for t in c.remove_tags]
        parts += [f"{k}={v}" for k, v in c.set_attributes.items()]
        return " ".join(parts) or gettext("No changes")
    if isinstance(c, d.ExitConfig):
        return gettext("Goal reached") if c.goal_reached else gettext("End")
    return ""


def _wait_summary(until: Any, ctx: SummaryContext) -> str:
    if isinstance(until, d.WaitDuration):
        amount, unit = until.duration.amount, until.duration.unit
        return gettext("Wait %(duration)s") % {"duration": duration_text(amount, unit)}
    if isinstance(until, d.WaitUntilContext):
        fields = {
            "expires_at": gettext("expiry"),
            "issued_at": gettext("issue"),
            "due_at": gettext("task due time"),
        }
        anchor = f"{ctx.node_labels.get(until.node_id) or until.node_id} {fields[until.field]}"
        return _offset_text(anchor, until.offset, until.direction)
    if isinstance(until, d.WaitUntilCustomerDate):
        anchor = (
            gettext("birthday") if until.field == "birthday" else gettext("birthday month start")
        )
        return _offset_text(anchor, until.offset, until.direction)
    if isinstance(until, d.WaitUntilAbsolute):
        return gettext("Until %(at)s") % {"at": until.at.strftime("%Y-%m-%d %H:%M")}
    return ""


def _offset_text(anchor: str, offset: d.Duration, direction: str) -> str:
    if offset.amount == 0:
        return gettext("Until %(anchor)s") % {"anchor": anchor}
    template = (
        gettext("%(duration)s before %(anchor)s")
        if direction == "before"
        else gettext("%(duration)s after %(anchor)s")
    )
    return template % {"duration": duration_text(offset.amount, offset.unit), "anchor": anchor}


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
    kind = str(raw.get("kind", ""))
    config = _as_dict(raw.get("config"))
    if kind == d.NodeKind.BRANCH:
        rules = _as_list(config.get("rules"))
        return (*(str(r["id"]) for r in rules if isinstance(r, dict) and r.get("id")), ELSE)
    if kind == d.NodeKind.SPLIT:
        variants = _as_list(config.get("variants"))
        return tuple(str(v["id"]) for v in variants if isinstance(v, dict) and v.get("id"))
    try:
        return STATIC_PORTS[d.NodeKind(kind)]
    except (ValueError, KeyError):
        return (NEXT,)


def _port_label(node: d.AnyNode | None, port: str) -> str:
    if node is not None and isinstance(node.config, d.BranchConfig):
        rule = next((r for r in node.config.rules if r.id == port), None)
        if rule is not None:
            return rule.label or rule.id
    if node is not None and isinstance(node.config, d.SplitConfig):
        variant = next((v for v in node.config.variants if v.id == port), None)
        if variant is not None:
            return f"{variant.label or variant.id} {variant.weight}%"
    return gettext(PORT_LABELS[port]) if port in PORT_LABELS else port


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

"""Helpers the node kinds' validation and build share: durations, send windows, event
filters, message templates (validation), and filters/conditions (lowering to the IR).

Imports no node kind and not :mod:`engine.document`, so every kind module can use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import networkx as nx

from engine import ir_parts as ir
from engine.compiler.diagnostics import Code, Diagnostics
from engine.compiler.templates import CUSTOMER_FIELDS, check_template, context_expression
from engine.document_parts import (
    AttributeCondition,
    CompareOp,
    Condition,
    ContextCondition,
    Duration,
    EventCountCondition,
    LastContactChannelCondition,
    LifecycleStageCondition,
    MetricCondition,
    NodeBase,
    PropertyFilter,
    RfmCondition,
    SegmentCondition,
    TagCondition,
    TimeUnit,
)

if TYPE_CHECKING:
    from engine.compiler.passes import Context

MAX_WAIT_SECONDS = 90 * 86400
_UNIT_SECONDS = {TimeUnit.MINUTES: 60, TimeUnit.HOURS: 3600, TimeUnit.DAYS: 86400}
#: ``check_duration``'s wording of a duration → the config field it is.
_DURATION_FIELDS = {"the wait": "duration", "the offset": "offset"}


def seconds(d: Duration) -> int:
    return d.amount * _UNIT_SECONDS[d.unit]


def close_matches(word: str, choices: Collection[str]) -> list[str]:
    return difflib.get_close_matches(word, sorted(choices), n=3, cutoff=0.5)


def label(node: NodeBase) -> str:
    return node.label or node.id


# ------------------------------------------------------------------ validation


def check_duration(
    node_id: str, label: str, what: str, d: Duration, diags: Diagnostics, *, allow_zero=False
) -> None:
    s = seconds(d)
    if s == 0 and not allow_zero:
        diags.error(
            Code.INVALID_WAIT,
            f"'{label}': {what} must be at least 1 minute.",
            nodes=[node_id],
            params={"field": _DURATION_FIELDS.get(what, what), "problem": "zero"},
        )
    elif s > MAX_WAIT_SECONDS:
        diags.error(
            Code.INVALID_WAIT,
            f"'{label}': {what} of {d.amount} {d.unit.value} is longer than 90 days.",
            nodes=[node_id],
            hint="Waits can be at most 90 days; chain a second wait for longer pauses.",
            params={"field": _DURATION_FIELDS.get(what, what), "problem": "too_long"},
        )


def check_filters(node_id: str, filters: list[PropertyFilter], diags: Diagnostics) -> None:
    for f in filters:
        if f.op in (CompareOp.IN, CompareOp.NOT_IN) and not isinstance(f.value, list):
            diags.error(
                Code.INVALID_FILTER,
                f"Filter on '{f.field}' uses '{f.op.value}' but its value is not a list.",
                nodes=[node_id],
                hint='Give a list, e.g. ["A", "B"].',
                params={"property": f.field, "problem": "not_a_list"},
            )
        elif (
            f.op not in (CompareOp.EXISTS, CompareOp.NOT_EXISTS, CompareOp.IN, CompareOp.NOT_IN)
            and f.value is None
        ):
            diags.error(
                Code.INVALID_FILTER,
                f"Filter on '{f.field}' ({f.op.value}) needs a value.",
                nodes=[node_id],
                params={"property": f.field, "problem": "no_value"},
            )


def check_template_text(
    ctx: Context, node: NodeBase, field_name: str, text: str, diags: Diagnostics
) -> None:
    """A message/task template parses, names known customer fields and uses double braces."""
    if not text:
        return
    check = check_template(text)
    if check.error:
        diags.error(
            Code.TEMPLATE_SYNTAX,
            f"'{label(node)}': the {field_name} template does not parse ({check.error}).",
            nodes=[node.id],
            hint="Variables look like {{ customer.name }} or {{ ctx.<node id>.expires_at }}.",
            params={"field": field_name, "error": check.error},
        )
        return
    if check.unknown_customer_fields:
        unknown = sorted(check.unknown_customer_fields)
        diags.warning(
            Code.TEMPLATE_SYNTAX,
            f"'{label(node)}': unknown customer field(s) {', '.join(unknown)} render as empty.",
            nodes=[node.id],
            params={"field": field_name, "unknown_fields": unknown},
        )
    for placeholder in check.single_braces:
        fix = _placeholder_fix(ctx, node.id, placeholder)
        diags.warning(
            Code.SINGLE_BRACE_PLACEHOLDER,
            f"'{label(node)}': the {field_name} has the placeholder {placeholder}, which is "
            "sent as written: placeholders take double braces"
            + (f"; write {fix}." if fix else ", e.g. {{ customer.name }}."),
            nodes=[node.id],
            hint=f"Replace {placeholder} with {fix or '{{ customer.<field> }}'}.",
            params={"field": field_name, "placeholder": placeholder, "fix": fix},
        )


def template_refs(*texts: str) -> list[tuple[str, str | None]]:
    """The ``ctx.<node>`` references of templates (for the context-reference pass)."""
    return [(r, None) for text in texts for r in check_template(text).context_refs]


#: What marketers used to write in single braces, and the coupon field it meant.
_COUPON_WORDS = {
    "coupon": "code",
    "coupon_code": "code",
    "code": "code",
    "coupon_value": "face_value",
    "face_value": "face_value",
    "amount": "face_value",
    "coupon_expiry": "expires_at",
    "expiry": "expires_at",
    "expires_at": "expires_at",
    "expire_date": "expires_at",
}


def _placeholder_fix(ctx: Context, node_id: str, placeholder: str) -> str:
    """The double-brace placeholder ``{name}`` most likely meant, or "" when unclear."""
    name = placeholder.strip("{} ")
    if name.startswith(("customer.", "ctx.")):
        return "{{ " + name + " }}"
    if name in CUSTOMER_FIELDS:
        return "{{ customer." + name + " }}"
    coupon_field = _COUPON_WORDS.get(name)
    if coupon_field:
        upstream = nx.ancestors(ctx.graph, node_id) if node_id in ctx.graph else set()
        coupons = [
            n.id
            for n in ctx.doc.nodes
            if n.id in upstream and ctx.known_ids.get(n.id) == "send_coupon"
        ]
        expr = (
            context_expression(coupons[0], coupon_field)
            if coupons
            else f"ctx.<coupon step>.{coupon_field}"
        )
        return "{{ " + (expr + "[:10]" if coupon_field == "expires_at" else expr) + " }}"
    close = difflib.get_close_matches(name, sorted(CUSTOMER_FIELDS), n=1, cutoff=0.6)
    return "{{ customer." + close[0] + " }}" if close else ""


# ------------------------------------------------------------------ lowering to the IR


def value(v: object) -> ir.Value:
    return tuple(v) if isinstance(v, list) else v  # type: ignore[return-value]


def filters(items: list[PropertyFilter]) -> tuple[ir.Filter, ...]:
    return tuple(ir.Filter(f.field, ir.Op(f.op.value), value(f.value)) for f in items)


def cond(c: Condition) -> ir.Cond:
    if isinstance(c, AttributeCondition):
        return ir.AttributeCond(c.field, ir.Op(c.op.value), value(c.value))
    if isinstance(c, TagCondition):
        return ir.TagCond(c.tag, c.present)
    if isinstance(c, RfmCondition):
        return ir.RfmCond(tuple(c.classes))
    if isinstance(c, EventCountCondition):
        return ir.EventCountCond(c.event_type, c.window_days, ir.Op(c.op.value), c.value)
    if isinstance(c, ContextCondition):
        return ir.ContextCond(c.node_id, c.field, ir.Op(c.op.value), value(c.value))
    if isinstance(c, SegmentCondition):
        return ir.SegmentCond(c.segment_id, c.member)
    if isinstance(c, MetricCondition):
        return ir.MetricCond(c.field, ir.Op(c.op), c.value)
    if isinstance(c, LifecycleStageCondition):
        return ir.LifecycleStageCond(tuple(c.stages))
    if isinstance(c, LastContactChannelCondition):
        return ir.LastContactChannelCond(tuple(c.channels))
    raise TypeError(f"unknown condition {type(c).__name__}")  # pragma: no cover


#: The longest an action waits for a frequency cap to allow it.
MAX_CAP_WAIT_SECONDS = 30 * 86400


def contact_rule(config: Any) -> ir.ContactRule:
    """An action config's ``category`` / ``when_capped`` / ``max_wait`` as the IR's rule."""
    return ir.ContactRule(
        category=config.category.value,
        when_capped=config.when_capped.value,
        max_wait_seconds=seconds(config.max_wait),
    )


def check_contact_rule(node: Any, diags: Diagnostics) -> None:
    """The contact policy fields of an action node: a cap wait of 1 minute to 30 days."""
    config = node.config
    if config.when_capped.value != "wait":
        return
    s = seconds(config.max_wait)
    if s == 0 or s > MAX_CAP_WAIT_SECONDS:
        diags.error(
            Code.INVALID_WAIT,
            f"'{label(node)}': the longest wait for a frequency cap (max_wait) must be "
            f"between 1 minute and 30 days (got {config.max_wait.amount} "
            f"{config.max_wait.unit.value}).",
            nodes=[node.id],
            hint="Shorten the wait, or let the step skip or take the 'capped' port instead.",
            params={"field": "max_wait", "problem": "zero" if s == 0 else "cap_wait_too_long"},
        )


def on_failure(v: StrEnum) -> ir.OnFailure:
    """A document ``OnFailure`` as the IR's."""
    return ir.OnFailure(v.value)

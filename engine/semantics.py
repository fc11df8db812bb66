"""Pure semantics the interpreter uses: comparisons, filters, branch rules, split buckets
and time arithmetic (send windows, birthdays). No I/O, no clock: callers pass ``now``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from engine import ir_parts as ir
from engine.effect_parts import CustomerFacts, EventCountQuery
from engine.metrics import metric_value
from engine.metrics import parse_time as parse_time  # semantics.parse_time, as kinds read it

if TYPE_CHECKING:
    from engine.kinds.branch import BranchStep
    from engine.kinds.split import SplitStep, Variant
    from engine.kinds.wait import Window


def lookup(data: dict[str, Any], dotted: str) -> Any:
    """``lookup({"sku": {"cat": "shoes"}}, "sku.cat") == "shoes"``; missing → None."""
    cur: Any = data
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def compare(op: ir.Op, actual: Any, expected: Any) -> bool:
    """Compare like a marketer means it: numbers as numbers, lists as sets, None never > x."""
    if op is ir.Op.EXISTS:
        return actual is not None and actual != "" and actual != []
    if op is ir.Op.NOT_EXISTS:
        return actual is None or actual == "" or actual == []
    if op in (ir.Op.IN, ir.Op.NOT_IN):
        options = expected if isinstance(expected, list | tuple) else (expected,)
        if isinstance(actual, list | tuple):
            hit = any(a in options for a in actual)
        else:
            hit = actual in options
        return hit if op is ir.Op.IN else not hit
    if op is ir.Op.CONTAINS:
        if isinstance(actual, list | tuple | str):
            return expected in actual
        return False
    if op is ir.Op.EQ:
        return _num(actual) == _num(expected) if _both_num(actual, expected) else actual == expected
    if op is ir.Op.NE:
        return not compare(ir.Op.EQ, actual, expected)
    if actual is None or expected is None:
        return False
    a, b = (_num(actual), _num(expected)) if _both_num(actual, expected) else (actual, expected)
    try:
        if op is ir.Op.GT:
            return bool(a > b)
        if op is ir.Op.GTE:
            return bool(a >= b)
        if op is ir.Op.LT:
            return bool(a < b)
        if op is ir.Op.LTE:
            return bool(a <= b)
    except TypeError:
        return False
    return False  # pragma: no cover


def _both_num(a: Any, b: Any) -> bool:
    return _is_num(a) and _is_num(b)


def _is_num(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    if isinstance(v, int | float):
        return True
    if isinstance(v, str):
        try:
            float(v)
        except ValueError:
            return False
        return True
    return False


def _num(v: Any) -> float:
    return float(v)


def match_filters(filters: tuple[ir.Filter, ...], properties: dict[str, Any]) -> bool:
    return all(compare(f.op, lookup(properties, f.field), f.value) for f in filters)


def event_matches(
    event_type: str, filters: tuple[ir.Filter, ...], ev_type: str, props: dict[str, Any]
) -> bool:
    return ev_type == event_type and match_filters(filters, props)


# ------------------------------------------------------------------ branch


@dataclass(frozen=True)
class FactsNeeded:
    """What evaluating a branch reads beyond the profile."""

    event_counts: list[EventCountQuery]
    coupon_ids: list[str]
    segment_ids: list[str]


def facts_needed(step: BranchStep, context: dict[str, dict[str, Any]]) -> FactsNeeded:
    """Which event counts, coupon states and segment memberships evaluating ``step`` needs."""
    counts: dict[str, EventCountQuery] = {}
    coupons: list[str] = []
    segments: list[str] = []
    for rule in step.rules:
        for c in rule.conditions:
            if isinstance(c, ir.EventCountCond):
                q = EventCountQuery(c.event_type, c.window_days)
                counts[q.key] = q
            elif isinstance(c, ir.ContextCond) and c.field == "redeemed":
                coupon_id = context.get(c.node_id, {}).get("coupon_id")
                if coupon_id:
                    coupons.append(coupon_id)
            elif isinstance(c, ir.SegmentCond) and c.segment_id not in segments:
                segments.append(c.segment_id)
    return FactsNeeded(list(counts.values()), coupons, segments)


def condition_value(
    c: ir.Cond, facts: CustomerFacts, context: dict[str, dict[str, Any]]
) -> tuple[str, Any]:
    """The (name, value) a condition looks at — recorded in the trace as a decision input."""
    if isinstance(c, ir.AttributeCond):
        profile = {
            "member_level": facts.member_level,
            "store_id": facts.store_id,
            "guide_id": facts.guide_id,
            "rfm_class": facts.rfm_class,
            "birthday": facts.birthday,
            "name": facts.name,
        }
        if c.field in profile:
            return c.field, profile[c.field]
        key = c.field.removeprefix("attributes.")
        return c.field, lookup(facts.attributes, key)
    if isinstance(c, ir.TagCond):
        return f"tag:{c.tag}", c.tag in facts.tags
    if isinstance(c, ir.RfmCond):
        return "rfm_class", facts.rfm_class
    if isinstance(c, ir.EventCountCond):
        key = EventCountQuery(c.event_type, c.window_days).key
        return f"{c.event_type}[{c.window_days}d]", facts.event_counts.get(key, 0)
    if isinstance(c, ir.SegmentCond):
        return f"segment:{c.segment_id}", facts.segments.get(c.segment_id, False)
    if isinstance(c, ir.MetricCond):
        return c.field, metric_value(c.field, facts)
    if isinstance(c, ir.LastContactChannelCond):
        return "last_contact_channel", facts.last_contacted_channel
    if isinstance(c, ir.LifecycleStageCond):
        return "lifecycle_stage", facts.lifecycle_stage
    entry = context.get(c.node_id, {})
    if c.field == "redeemed":
        coupon = facts.coupons.get(entry.get("coupon_id", ""))
        return f"{c.node_id}.redeemed", bool(coupon and coupon.redeemed)
    if c.field == "issued":
        return f"{c.node_id}.issued", bool(entry.get("coupon_id"))
    return f"{c.node_id}.{c.field}", entry.get(c.field)


def condition_holds(c: ir.Cond, value: Any) -> bool:
    if isinstance(c, ir.TagCond):
        return bool(value) == c.present
    if isinstance(c, ir.SegmentCond):
        return bool(value) == c.member
    if isinstance(c, ir.RfmCond):
        return value in c.classes
    if isinstance(c, ir.AttributeCond | ir.EventCountCond | ir.ContextCond | ir.MetricCond):
        return compare(c.op, value, c.value)
    if isinstance(c, ir.LifecycleStageCond):
        return value in c.stages
    if isinstance(c, ir.LastContactChannelCond):
        return value in c.channels
    return False  # pragma: no cover


def evaluate_branch(
    step: BranchStep, facts: CustomerFacts, context: dict[str, dict[str, Any]]
) -> tuple[str, dict[str, Any], str]:
    """→ (port, inputs, summary). First matching rule wins; none → ``else``."""
    inputs: dict[str, Any] = {}
    for index, rule in enumerate(step.rules, start=1):
        results = []
        for c in rule.conditions:
            name, value = condition_value(c, facts, context)
            inputs[name] = value
            results.append(condition_holds(c, value))
        if (all(results) if rule.match_all else any(results)) and results:
            shown = ", ".join(f"{k}={v}" for k, v in inputs.items())
            return rule.id, inputs, f"{shown} → {rule.label or f'rule {index}'}"
    shown = ", ".join(f"{k}={v}" for k, v in inputs.items())
    return "else", inputs, f"{shown} → else" if shown else "else"


# ------------------------------------------------------------------ split


def split_bucket(seed: str) -> int:
    """A stable 0–99 bucket for ``seed`` (:func:`split_seed`; before SEMANTICS_V4 runs: workflow
    id + enrollment + node + visit)."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % 100


def split_seed(journey_id: str, customer_id: str, node_id: str) -> str:
    """The seed of a split's bucket since SEMANTICS_V4: the same for every entry and visit
    of one customer in one journey (``services.lift`` recomputes no bucket; runs record
    the side they took)."""
    return f"{journey_id}/{customer_id}/{node_id}"


def choose_variant(step: SplitStep, seed: str) -> tuple[Variant, int]:
    bucket = split_bucket(seed)
    upto = 0
    for v in step.variants:
        upto += v.weight
        if bucket < upto:
            return v, bucket
    return step.variants[-1], bucket


# ------------------------------------------------------------------ time


def align_to_window(moment: datetime, window: Window, tz: ZoneInfo) -> datetime:
    """The first instant ≥ ``moment`` inside the daily window (local time in ``tz``)."""
    local = moment.astimezone(tz)
    minute = local.hour * 60 + local.minute
    start, end = window.start_minute, window.end_minute
    inside = start <= minute < end if start < end else (minute >= start or minute < end)
    if inside:
        return moment
    start_t = time(start // 60, start % 60)
    candidate = datetime.combine(local.date(), start_t, tzinfo=tz)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), start_t, tzinfo=tz)
    return candidate


def next_birthday(
    birthday: str, now: datetime, tz: ZoneInfo, *, month_start: bool, offset_seconds: int
) -> datetime | None:
    """The next (birthday or its month's first day) at 00:00 local, shifted by the offset,
    that is not in the past."""
    try:
        b = date.fromisoformat(birthday)
    except ValueError:
        return None
    local_now = now.astimezone(tz)
    for year in (local_now.year, local_now.year + 1, local_now.year + 2):
        day = 1 if month_start else b.day
        try:
            d = date(year, b.month, day)
        except ValueError:  # 29 Feb in a common year
            d = date(year, 3, 1)
        moment = datetime.combine(d, time(0, 0), tzinfo=tz) + timedelta(seconds=offset_seconds)
        if moment >= now:
            return moment
    return None


def zone(name: str | None, default: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or default)
    except Exception:  # unknown zone in customer data: fall back, don't fail the run
        return ZoneInfo(default)

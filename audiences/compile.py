"""Compile a validated :class:`SegmentDefinition` into a SQLAlchemy ``WHERE`` over customers.

Every value is a bound parameter; no SQL text is assembled from input. The clock is an
argument (``now``), so a scheduled run, a preview and a test all decide the same way.

Semantics, matching the branch conditions of the interpreter (engine/semantics.py):

* ``ne`` / ``not_in`` also match customers without a value ("not gold" includes nobody's
  level being unknown); other comparisons never match a missing value;
* "days since" fields compare *whole* days: ``r_days gte 90`` ⇔ the last purchase was at
  or before ``now - 90 days``; so they stay exact between RFM recomputes and use indexes;
* event counts look at ``(now - window_days, now]``; ``purchase`` counts orders;
* ``count gte n`` compiles to ``EXISTS (… LIMIT 1 OFFSET n-1)`` — the n-th event exists —
  and ``eq 0`` to ``NOT EXISTS``: index probes on ``(customer_id, type, occurred_at)`` that
  stop after n rows, never a full count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, extract, false, func, not_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from audiences import contacts
from audiences.fields import ATTRIBUTE_PREFIX, CONTACT_FIELDS, METRIC_FIELDS, Kind
from audiences.rules import (
    CouponRule,
    EventRule,
    FieldRule,
    Op,
    RuleGroup,
    SegmentDefinition,
    TagRule,
)
from audiences.sqlfuncs import JsonArrayHas
from audiences.validate import field_spec
from db.crud.points import live_points_filter
from db.models import Customer, CustomerEvent, IssuedCoupon, Order, Store
from db.models.points import PointsEntry
from db.models.segments import CustomerMetrics
from engine.metrics import STORED_METRICS

DEFAULT_TIMEZONE = "Asia/Shanghai"

Where = ColumnElement[bool]


@dataclass(frozen=True)
class CompiledSegment:
    """The ``WHERE`` clause and whether it reads ``customer_metrics`` (joined when so)."""

    where: Where
    uses_metrics: bool


class _Context:
    def __init__(self, now: datetime, timezone: str) -> None:
        self.now = now
        self.tz = ZoneInfo(timezone)
        self.uses_metrics = False


def compile_segment(
    definition: SegmentDefinition, *, now: datetime, timezone: str = DEFAULT_TIMEZONE
) -> CompiledSegment:
    """The ``WHERE`` of ``definition`` (already validated) as of ``now``."""
    ctx = _Context(now, timezone)
    parts = [_rule(r, ctx) for r in definition.rules]
    return CompiledSegment(_join(definition.match, parts), ctx.uses_metrics)


def _join(match: str, parts: list[Where]) -> Where:
    if not parts:
        return true()
    if len(parts) == 1:
        return parts[0]
    return and_(*parts) if match == "all" else or_(*parts)


def _rule(rule: Any, ctx: _Context) -> Where:
    if isinstance(rule, RuleGroup):
        return _join(rule.match, [_rule(r, ctx) for r in rule.rules])
    if isinstance(rule, FieldRule):
        return _field(rule, ctx)
    if isinstance(rule, TagRule):
        return _tags(rule)
    if isinstance(rule, EventRule):
        return _event(rule, ctx)
    if isinstance(rule, CouponRule):
        return _coupon(rule, ctx)
    raise TypeError(f"not a segment rule: {rule!r}")  # pragma: no cover - validated input


# --------------------------------------------------------------------------- fields

#: Field → the moment its "days since" counts from.
_MOMENTS: dict[str, Any] = {
    "r_days": col(Customer.last_purchase_at),
    "first_purchase_days": col(Customer.first_purchase_at),
    "member_days": col(Customer.created_at),
    "store_visit_days": col(CustomerMetrics.last_store_visit_at),
    "browse_days": col(CustomerMetrics.last_browse_at),
}

_COLUMNS: dict[str, Any] = {
    "member_level": col(Customer.member_level),
    "gender": col(Customer.gender),
    "store_id": col(Customer.store_id),
    "guide_id": col(Customer.guide_id),
    "rfm_class": col(Customer.rfm_class),
    "f_count": col(Customer.f_count),
    "m_amount": col(Customer.m_amount),
    "l_days": col(Customer.l_days),
    "lifecycle_stage": col(CustomerMetrics.lifecycle_stage),
    # the stored metrics (engine.metrics): their columns, a customer with no metrics row
    # counting as one with no orders (0 purchases, no cycle)
    **{
        m.name: (
            col(getattr(CustomerMetrics, m.name))
            if m.empty is None
            else func.coalesce(col(getattr(CustomerMetrics, m.name)), m.empty)
        )
        for m in STORED_METRICS
    },
}


def _field(rule: FieldRule, ctx: _Context) -> Where:
    spec = field_spec(rule.field)
    if spec is None:  # pragma: no cover - validated input
        raise ValueError(f"unknown field {rule.field}")
    if rule.field in METRIC_FIELDS:
        ctx.uses_metrics = True
    if rule.field == "region_id":
        return _region(rule)
    if rule.field.startswith(ATTRIBUTE_PREFIX):
        key = rule.field[len(ATTRIBUTE_PREFIX) :]
        return _compare(col(Customer.attributes)[key].as_string(), rule.op, rule.value)
    if rule.field in CONTACT_FIELDS:
        return _contact(rule, ctx.now)
    if spec.kind is Kind.DAYS:
        return _days_since(_MOMENTS[rule.field], rule.op, rule.value, ctx.now)
    if spec.kind is Kind.MONTH:
        return _month(rule, ctx)
    if rule.field == "points_balance":
        return _compare(_points_balance(ctx.now), rule.op, rule.value)
    column = _COLUMNS[rule.field]
    if spec.kind is Kind.CHOICE and rule.op in (Op.EXISTS, Op.NOT_EXISTS):
        # "has an RFM class", "gender known": the empty string counts as missing
        present = and_(column.is_not(None), column != "")
        return present if rule.op is Op.EXISTS else not_(present)
    return _compare(column, rule.op, rule.value)


def _compare(column: Any, op: Op, value: Any) -> Where:
    """``column <op> value`` with the module's NULL semantics."""
    if op is Op.EXISTS:
        return column.is_not(None)
    if op is Op.NOT_EXISTS:
        return column.is_(None)
    if op is Op.EQ:
        return column == value
    if op is Op.NE:
        return or_(column.is_(None), column != value)
    if op is Op.IN:
        return column.in_(list(value))
    if op is Op.NOT_IN:
        return or_(column.is_(None), column.not_in(list(value)))
    if op is Op.GT:
        return column > value
    if op is Op.GTE:
        return column >= value
    if op is Op.LT:
        return column < value
    if op is Op.LTE:
        return column <= value
    if op is Op.BETWEEN:
        return column.between(value[0], value[1])
    if op is Op.CONTAINS:
        return column.contains(value, autoescape=True)
    raise ValueError(f"operator {op} is not supported here")  # pragma: no cover


def _points_balance(now: datetime) -> Any:
    """The customer's points at ``now`` (:func:`db.crud.points.points_balance` in SQL)."""
    total = (
        select(func.coalesce(func.sum(col(PointsEntry.delta)), 0))
        .where(col(PointsEntry.customer_id) == col(Customer.id), live_points_filter(now))
        .scalar_subquery()
    )
    return case((total < 0, 0), else_=total)


def _contact(rule: FieldRule, now: datetime) -> Where:
    """The 智能回访 fields, from the contact ledger and completed guide tasks at ``now``."""
    if rule.field == "contact_days":
        return _days_since(contacts.last_contact_at(now), rule.op, rule.value, now)
    if rule.field == "last_contact_channel":
        column = contacts.last_contact_channel(now)
        if rule.op in (Op.EXISTS, Op.NOT_EXISTS):
            return _compare(column, rule.op, None)
        return _compare(column, rule.op, rule.value)
    days = 7 if rule.field == "contacts_7d" else 30
    return _compare(contacts.contacts_in(now, days), rule.op, rule.value)


def _region(rule: FieldRule) -> Where:
    store = col(Customer.store_id)
    if rule.op is Op.EXISTS:
        return store.is_not(None)
    if rule.op is Op.NOT_EXISTS:
        return store.is_(None)
    positive = rule.op in (Op.EQ, Op.IN)
    regions = [rule.value] if rule.op in (Op.EQ, Op.NE) else list(rule.value)
    stores = select(col(Store.id)).where(col(Store.region_id).in_(regions))
    if positive:
        return store.in_(stores)
    return or_(store.is_(None), store.not_in(stores))


def _days_since(moment: Any, op: Op, value: Any, now: datetime) -> Where:
    """Whole days since ``moment`` compared with ``value``, as range checks on the moment.

    ``days >= n`` ⇔ ``moment <= now - n days``; ``days <= n`` ⇔ ``moment > now - (n+1) days``.
    """

    def at_least(n: int) -> Where:
        return moment <= now - timedelta(days=n)

    def at_most(n: int) -> Where:
        return moment > now - timedelta(days=n + 1)

    if op is Op.EXISTS:
        return moment.is_not(None)
    if op is Op.NOT_EXISTS:
        return moment.is_(None)
    if op is Op.GTE:
        return at_least(value)
    if op is Op.GT:
        return at_least(value + 1)
    if op is Op.LTE:
        return at_most(value)
    if op is Op.LT:
        return at_most(value - 1) if value > 0 else false()
    if op is Op.EQ:
        return and_(at_least(value), at_most(value))
    if op is Op.NE:
        return or_(moment.is_(None), not_(and_(at_least(value), at_most(value))))
    if op is Op.BETWEEN:
        return and_(at_least(value[0]), at_most(value[1]))
    raise ValueError(f"operator {op} is not supported for days")  # pragma: no cover


def _month(rule: FieldRule, ctx: _Context) -> Where:
    local = ctx.now.astimezone(ctx.tz)

    def resolve(v: Any) -> int:
        if v == "this_month":
            return local.month
        if v == "next_month":
            return local.month % 12 + 1
        return int(v)

    month = extract("month", col(Customer.birthday))
    if rule.op in (Op.EXISTS, Op.NOT_EXISTS):
        return _compare(col(Customer.birthday), rule.op, None)
    if rule.op in (Op.IN, Op.NOT_IN):
        return _compare(month, rule.op, [resolve(v) for v in rule.value])
    return _compare(month, rule.op, resolve(rule.value))


# --------------------------------------------------------------------------- tags


def _tags(rule: TagRule) -> Where:
    tags = tuple(t for t in rule.tags if t.strip())
    column: Any = col(Customer.tags)
    if rule.match == "all":
        return JsonArrayHas(column, tags, "all")
    has_any = JsonArrayHas(column, tags, "any")
    return has_any if rule.match == "any" else not_(has_any)


# --------------------------------------------------------------------------- events


def _count_at_least(rule: EventRule, n: int, ctx: _Context) -> Where:
    """At least ``n`` events of the rule's type in its window."""
    if n <= 0:
        return true()
    since = ctx.now - timedelta(days=rule.window_days)
    if rule.event_type == "purchase":
        source = select(col(Order.id)).where(
            col(Order.customer_id) == col(Customer.id),
            col(Order.created_at) > since,
            col(Order.created_at) <= ctx.now,
        )
    else:
        source = select(col(CustomerEvent.id)).where(
            col(CustomerEvent.customer_id) == col(Customer.id),
            col(CustomerEvent.type) == rule.event_type,
            col(CustomerEvent.occurred_at) > since,
            col(CustomerEvent.occurred_at) <= ctx.now,
        )
    if n == 1:
        return exists(source)
    # "the n-th matching row exists": the database stops after n rows instead of counting all
    return exists(source.limit(1).offset(n - 1))


def _event(rule: EventRule, ctx: _Context) -> Where:
    v = rule.value
    if rule.op is Op.GTE:
        return _count_at_least(rule, v, ctx)
    if rule.op is Op.GT:
        return _count_at_least(rule, v + 1, ctx)
    if rule.op is Op.LT:
        return not_(_count_at_least(rule, v, ctx)) if v > 0 else false()
    if rule.op is Op.LTE:
        return not_(_count_at_least(rule, v + 1, ctx))
    if rule.op in (Op.EQ, Op.NE):
        exactly = and_(_count_at_least(rule, v, ctx), not_(_count_at_least(rule, v + 1, ctx)))
        return exactly if rule.op is Op.EQ else not_(exactly)
    if rule.op is Op.BETWEEN:
        lo, hi = v
        return and_(_count_at_least(rule, lo, ctx), not_(_count_at_least(rule, hi + 1, ctx)))
    raise ValueError(f"operator {rule.op} is not supported for counts")  # pragma: no cover


# --------------------------------------------------------------------------- coupons


def _coupon(rule: CouponRule, ctx: _Context) -> Where:
    conditions: list[Where] = [col(IssuedCoupon.customer_id) == col(Customer.id)]
    if rule.template_id:
        conditions.append(col(IssuedCoupon.template_id) == rule.template_id)
    if rule.state in ("held", "expiring"):
        conditions += [
            col(IssuedCoupon.redeemed_at).is_(None),
            col(IssuedCoupon.expires_at) > ctx.now,
        ]
        if rule.state == "expiring" and rule.within_days is not None:
            until = ctx.now + timedelta(days=rule.within_days)
            conditions.append(col(IssuedCoupon.expires_at) <= until)
    else:
        conditions.append(col(IssuedCoupon.redeemed_at).is_not(None))
        if rule.within_days is not None:
            since = ctx.now - timedelta(days=rule.within_days)
            conditions.append(col(IssuedCoupon.redeemed_at) > since)
    found = exists(select(col(IssuedCoupon.id)).where(*conditions))
    return found if rule.present else not_(found)

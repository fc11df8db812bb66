"""The typed rule model of a segment: what the builder saves and the API accepts.

A segment is a list of rules joined by ``match`` ("all" = AND, "any" = OR). A rule is one
of four leaf kinds, or a group of leaf rules with its own ``match`` (one level of nesting,
so "A and (B or C)" is expressible and the builder stays readable)::

    {"match": "all", "rules": [
        {"type": "field", "field": "rfm_class", "op": "in", "value": ["重要价值", "重要保持"]},
        {"type": "tag", "tags": ["企业微信好友"], "match": "any"},
        {"type": "group", "match": "any", "rules": [
            {"type": "event", "event_type": "browse", "window_days": 7, "op": "gte", "value": 2},
            {"type": "coupon", "state": "expiring", "within_days": 3}
        ]}
    ]}

The shape is checked here (pydantic); the meaning — known field, operator allowed for it,
value of the right type, possible window — by :mod:`audiences.validate`, which names the
offending rule. SQL is built by :mod:`audiences.compile`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_RULES = 30
MAX_GROUP_RULES = 20
MAX_TAGS = 20


class Op(StrEnum):
    """Comparison operators; which apply to a field is in :mod:`audiences.fields`."""

    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    BETWEEN = "between"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    #: Set by the builder so the UI can mark the rule a problem is about; optional in the API.
    id: str | None = Field(default=None, max_length=40)


class FieldRule(_Rule):
    """A profile field or metric compared with a value: ``member_level in [gold, diamond]``,
    ``r_days gte 90``, ``birthday_month eq "this_month"``, ``attributes.source eq 小程序``."""

    type: Literal["field"] = "field"
    field: str = Field(min_length=1, max_length=80)
    op: Op = Op.EQ
    value: Any = None


class TagRule(_Rule):
    """The customer carries any / all / none of ``tags``."""

    type: Literal["tag"] = "tag"
    tags: list[str] = Field(default_factory=list)
    match: Literal["any", "all", "none"] = "any"


class EventRule(_Rule):
    """How many ``event_type`` events in the last ``window_days`` days, compared with
    ``value``: "browsed ≥ 2 times in the last 7 days", "purchase eq 0 in 30 days".

    ``purchase`` counts orders (the source of truth for purchases); every other type counts
    the recorded customer events.
    """

    type: Literal["event"] = "event"
    event_type: str = Field(min_length=1, max_length=64)
    window_days: int
    op: Op = Op.GTE
    value: Any = 1


class CouponRule(_Rule):
    """Coupon state: holds an unused, unexpired coupon; has one expiring within
    ``within_days`` days; redeemed one in the last ``within_days`` days (any time if
    unset). ``template_id`` narrows to one coupon template; ``present=False`` negates."""

    type: Literal["coupon"] = "coupon"
    state: Literal["held", "expiring", "redeemed"] = "held"
    template_id: str | None = Field(default=None, max_length=64)
    within_days: int | None = None
    present: bool = True


LeafRule = Annotated[FieldRule | TagRule | EventRule | CouponRule, Field(discriminator="type")]


class RuleGroup(_Rule):
    """Leaf rules joined by their own ``match``; groups do not nest further."""

    type: Literal["group"] = "group"
    match: Literal["all", "any"] = "any"
    rules: list[LeafRule] = Field(default_factory=list)


Rule = Annotated[
    FieldRule | TagRule | EventRule | CouponRule | RuleGroup, Field(discriminator="type")
]


class SegmentDefinition(BaseModel):
    """A whole segment's rules. No rules = every customer."""

    model_config = ConfigDict(extra="forbid")

    match: Literal["all", "any"] = "all"
    rules: list[Rule] = Field(default_factory=list)


LEAF_TYPES = ("field", "tag", "event", "coupon")

"""The vocabulary every node kind's document config shares: the base model, the kind enum,
durations, comparisons, event filters, ``on_failure``, positions and the node base.

Stdlib + pydantic only, and no node kind: each kind module (``engine/kinds/<kind>.py``)
builds its config and node model from these, and :mod:`engine.document` assembles the
discriminated union of every kind's node from the registry (:mod:`engine.kinds`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from engine.metrics import METRICS, MetricName

SCHEMA_VERSION: Literal[1] = 1

JsonScalar = str | int | float | bool | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class NodeKind(StrEnum):
    """Every node kind. A new kind adds its member here and its module under engine/kinds."""

    ENTRY = "entry"
    WAIT = "wait"
    WAIT_FOR_EVENT = "wait_for_event"
    BRANCH = "branch"
    SPLIT = "split"
    SEND_COUPON = "send_coupon"
    SEND_MESSAGE = "send_message"
    ASSIGN_GUIDE_TASK = "assign_guide_task"
    UPDATE_CUSTOMER = "update_customer"
    EXIT = "exit"
    AWARD_POINTS = "award_points"
    WAIT_UNTIL_DATE = "wait_until_date"
    WAIT_PURCHASE_CYCLE = "wait_purchase_cycle"


class TimeUnit(StrEnum):
    MINUTES = "minutes"
    HOURS = "hours"
    DAYS = "days"


class Duration(_Model):
    amount: int = Field(ge=0, description="How many units.")
    unit: TimeUnit = TimeUnit.DAYS


class CompareOp(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "not_exists"


class PropertyFilter(_Model):
    """One condition on an event's ``properties`` (``field`` may be dotted: ``sku.category``)."""

    field: str = Field(min_length=1, max_length=100)
    op: CompareOp = CompareOp.EQ
    value: JsonScalar | list[JsonScalar] = None


# --------------------------------------------------------------------------- conditions
# Shared: what a branch rule tests (and any kind that tests the customer).


class AttributeCondition(_Model):
    """Customer profile field or custom attribute: member_level, store_id, gender, attrs.x …"""

    type: Literal["attribute"] = "attribute"
    field: str = Field(min_length=1, max_length=64)
    op: CompareOp = CompareOp.EQ
    value: JsonScalar | list[JsonScalar] = None


class TagCondition(_Model):
    type: Literal["tag"] = "tag"
    tag: str = Field(min_length=1, max_length=64)
    present: bool = True


class RfmCondition(_Model):
    type: Literal["rfm_class"] = "rfm_class"
    classes: list[str] = Field(min_length=1)


class EventCountCondition(_Model):
    """ "purchases in the last 30 days ≥ 1"."""

    type: Literal["event_count"] = "event_count"
    event_type: str = Field(min_length=1, max_length=64)
    window_days: int = Field(ge=1, le=730)
    op: CompareOp = CompareOp.GTE
    value: int = Field(default=1, ge=0)


#: The recorded values a branch may compare (``ContextCondition.field``).
ContextField = Literal["redeemed", "outcome", "issued", "failed", "points", "balance"]
CONTEXT_CONDITION_FIELDS: tuple[str, ...] = get_args(ContextField)


class ContextCondition(_Model):
    """Journey context: "the coupon issued at node X was redeemed", "task outcome was …"."""

    type: Literal["context"] = "context"
    node_id: str = Field(min_length=1)
    #: what the step ``node_id`` recorded (a kind's ``SPEC.context_fields``; the compiler
    #: checks the step records it) — points / balance: an award_points step's
    field: ContextField = "redeemed"
    op: CompareOp = CompareOp.EQ
    value: JsonScalar | list[JsonScalar] = True


class SegmentCondition(_Model):
    """The customer is (``member``) or is not in a saved audience segment, evaluated against
    the segment's rules when the branch runs ("still dormant", "browsed twice, no purchase")."""

    type: Literal["segment"] = "segment"
    segment_id: str = Field(min_length=1, max_length=64)
    member: bool = True


#: The lifecycle stages, in order (audiences.lifecycle.STAGES; tests check they agree).
LIFECYCLE_STAGES: tuple[str, ...] = ("identify", "develop", "stable", "decline")
#: The event a stage change is announced as (properties ``from`` / ``to``: stages).
STAGE_CHANGED_EVENT = "lifecycle_stage_changed"


#: The computed metrics a branch may compare (engine.metrics: the purchase cycle and other
#: metrics from orders, the 智能回访 numbers kept from the contact ledger).
METRIC_FIELDS: tuple[str, ...] = tuple(METRICS)
#: What a contact can have been made by (``last_contact_channel`` conditions): the message
#: channels and a guide's completed task.
CONTACT_CHANNELS = (
    "sms",
    "wecom",
    "wechat_template",
    "wechat_subscribe",
    "email",
    "webhook",
    "guide_task",
)


class MetricCondition(_Model):
    """A computed customer metric (engine.metrics): "own purchase cycle at most 30 days",
    "last contact 14 or more days ago", "at most 1 contact in 7 days", "average order 800
    or more". A customer without the metric (fewer than two purchases: no cycle; never
    contacted: no days since) matches only ``not_exists`` (and ``ne``)."""

    type: Literal["metric"] = "metric"
    field: MetricName = "purchase_interval_median_days"
    op: Literal["lte", "lt", "gte", "gt", "eq", "ne", "exists", "not_exists"] = "lte"
    value: float | None = Field(default=None, ge=0, le=1_000_000)


class LifecycleStageCondition(_Model):
    """The customer's lifecycle stage is one of ``stages`` (identify / develop / stable /
    decline); no stage yet (before the first metrics rebuild) matches none."""

    type: Literal["lifecycle_stage"] = "lifecycle_stage"
    stages: list[str] = Field(min_length=1, max_length=len(LIFECYCLE_STAGES))


class LastContactChannelCondition(_Model):
    """The customer's last contact (any journey, or a guide's completed task) was made by
    one of ``channels``; a customer never contacted matches none."""

    type: Literal["last_contact_channel"] = "last_contact_channel"
    channels: list[
        Literal[
            "sms", "wecom", "wechat_template", "wechat_subscribe", "email", "webhook", "guide_task"
        ]
    ] = Field(min_length=1, max_length=len(CONTACT_CHANNELS))


Condition = Annotated[
    AttributeCondition
    | TagCondition
    | RfmCondition
    | EventCountCondition
    | ContextCondition
    | SegmentCondition
    | MetricCondition
    | LifecycleStageCondition
    | LastContactChannelCondition,
    Field(discriminator="type"),
]


class OnFailure(StrEnum):
    """What a permanent business failure (stock exhausted, opted out, no guide) does."""

    CONTINUE = "continue"  # record it in the trace, follow `next` (a guide task: `expired`)
    EXIT = "exit"  # end the customer's path
    PORT = "port"  # follow the node's extra ``failed`` port


class ContactCategory(StrEnum):
    """What an action is, for the brand's contact policy: marketing keeps quiet hours;
    service (coupon arrival, expiry reminder, task follow-up) does not. Both count against
    frequency caps (engine.contact_policy)."""

    MARKETING = "marketing"
    SERVICE = "service"


class WhenCapped(StrEnum):
    """What an action does when a frequency cap is reached."""

    SKIP = "skip"  # go on (by `next`; a guide task by `expired`), recorded
    WAIT = "wait"  # until the cap allows, at most `max_wait`; then skipped
    PORT = "port"  # follow the node's extra `capped` port


def default_max_wait() -> Duration:
    return Duration(amount=3, unit=TimeUnit.DAYS)


class Position(_Model):
    x: float = 0
    y: float = 0


class NodeBase(_Model):
    """What every node has; a kind's node model adds ``kind`` (a Literal) and ``config``."""

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=120)
    position: Position = Field(default_factory=Position)
    #: narrowed by each kind's node model to ``Literal[NodeKind.<KIND>]``
    kind: NodeKind
    #: narrowed by each kind's node model to its config model
    config: BaseModel

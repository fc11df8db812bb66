"""The journey document: the JSON a canvas saves, the API accepts and an export contains.

This is the *interchange* format (pydantic, JSON Schema at ``/api/schema/journey.json``).
It is deliberately permissive about graph shape — a draft may be half-built — and strict
about each node's config, which is a discriminated union keyed by the node's ``kind``.
Graph rules live in :mod:`engine.compiler.passes`; the compiler turns a valid document into
the frozen IR of :mod:`engine.ir`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal[1] = 1

JsonScalar = str | int | float | bool | None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class NodeKind(StrEnum):
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


# --------------------------------------------------------------------------- entry


class ReentryPolicy(StrEnum):
    NEVER = "never"
    AFTER_EXIT = "after_exit"
    COOLDOWN = "cooldown"


class Reentry(_Model):
    policy: ReentryPolicy = ReentryPolicy.NEVER
    cooldown_days: int | None = Field(default=None, ge=1, le=3650)


class EventTrigger(_Model):
    type: Literal["event"] = "event"
    event_type: str = Field(min_length=1, max_length=64)
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class ManualTrigger(_Model):
    """Customers are enrolled through the API / UI (or by a segment, see SegmentTrigger)."""

    type: Literal["manual"] = "manual"


class SegmentTrigger(_Model):
    """Entry from a saved audience segment, once at publish or on a schedule."""

    type: Literal["segment"] = "segment"
    segment_id: str = Field(min_length=1, max_length=64)
    schedule: Literal["once", "daily", "weekly"] = "once"
    at_time: str = Field(default="09:00", pattern=r"^\d{2}:\d{2}$")
    weekday: int | None = Field(default=None, ge=0, le=6)


Trigger = Annotated[EventTrigger | ManualTrigger | SegmentTrigger, Field(discriminator="type")]


class EntryConfig(_Model):
    trigger: Trigger = Field(default_factory=ManualTrigger)
    reentry: Reentry = Field(default_factory=Reentry)


# --------------------------------------------------------------------------- wait


class TimeWindow(_Model):
    """Align the end of a wait into a daily send window, e.g. next 10:00–20:00."""

    start: str = Field(default="10:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="20:00", pattern=r"^\d{2}:\d{2}$")
    timezone: Literal["customer", "store"] = "customer"


class WaitDuration(_Model):
    type: Literal["duration"] = "duration"
    duration: Duration = Field(default_factory=lambda: Duration(amount=1, unit=TimeUnit.DAYS))


class WaitUntilContext(_Model):
    """Until a moment stored in the journey context, e.g. 3 days before a coupon expires."""

    type: Literal["context"] = "context"
    node_id: str = Field(min_length=1, description="An upstream send_coupon / assign_guide_task.")
    field: Literal["expires_at", "issued_at", "due_at"] = "expires_at"
    offset: Duration = Field(default_factory=lambda: Duration(amount=0))
    direction: Literal["before", "after"] = "before"


class WaitUntilCustomerDate(_Model):
    """Until the customer's next birthday (or its month start), with an offset."""

    type: Literal["customer_date"] = "customer_date"
    field: Literal["birthday", "birthday_month_start"] = "birthday"
    offset: Duration = Field(default_factory=lambda: Duration(amount=0))
    direction: Literal["before", "after"] = "before"


class WaitUntilAbsolute(_Model):
    type: Literal["absolute"] = "absolute"
    at: datetime


WaitSpec = Annotated[
    WaitDuration | WaitUntilContext | WaitUntilCustomerDate | WaitUntilAbsolute,
    Field(discriminator="type"),
]


class WaitConfig(_Model):
    until: WaitSpec = Field(default_factory=WaitDuration)
    window: TimeWindow | None = None


class WaitForEventConfig(_Model):
    event_type: str = Field(min_length=1, max_length=64)
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    timeout: Duration = Field(default_factory=lambda: Duration(amount=3, unit=TimeUnit.DAYS))


# --------------------------------------------------------------------------- branch


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


class ContextCondition(_Model):
    """Journey context: "the coupon issued at node X was redeemed", "task outcome was …"."""

    type: Literal["context"] = "context"
    node_id: str = Field(min_length=1)
    field: Literal["redeemed", "outcome", "issued", "failed"] = "redeemed"
    op: CompareOp = CompareOp.EQ
    value: JsonScalar | list[JsonScalar] = True


class SegmentCondition(_Model):
    """The customer is (``member``) or is not in a saved audience segment, evaluated against
    the segment's rules when the branch runs ("still dormant", "browsed twice, no purchase")."""

    type: Literal["segment"] = "segment"
    segment_id: str = Field(min_length=1, max_length=64)
    member: bool = True


Condition = Annotated[
    AttributeCondition
    | TagCondition
    | RfmCondition
    | EventCountCondition
    | ContextCondition
    | SegmentCondition,
    Field(discriminator="type"),
]


class BranchRule(_Model):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=80)
    match: Literal["all", "any"] = "all"
    conditions: list[Condition] = Field(default_factory=list, max_length=20)


class BranchConfig(_Model):
    rules: list[BranchRule] = Field(default_factory=list, max_length=20)


class SplitVariant(_Model):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=80)
    weight: int = Field(ge=0, le=100)
    holdout: bool = False


class SplitConfig(_Model):
    variants: list[SplitVariant] = Field(default_factory=list, max_length=10)


# --------------------------------------------------------------------------- actions


class OnFailure(StrEnum):
    """What a permanent business failure (stock exhausted, opted out, no guide) does."""

    CONTINUE = "continue"  # record it in the trace, follow `next` (a guide task: `expired`)
    EXIT = "exit"  # end the customer's path
    PORT = "port"  # follow the node's extra ``failed`` port


class SendCouponConfig(_Model):
    coupon_template_id: str = Field(min_length=1, max_length=64)
    on_failure: OnFailure = OnFailure.CONTINUE


class Channel(StrEnum):
    SMS = "sms"
    WECOM = "wecom"
    WECHAT_TEMPLATE = "wechat_template"
    EMAIL = "email"
    WEBHOOK = "webhook"


class SendMessageConfig(_Model):
    channel: Channel = Channel.SMS
    subject: str = Field(default="", max_length=200)
    content: str = Field(min_length=1, max_length=2000)
    webhook_url: str | None = Field(default=None, max_length=500)
    on_failure: OnFailure = OnFailure.CONTINUE


class TaskType(StrEnum):
    CALL = "call"
    WECOM_CHAT = "wecom_chat"
    STORE_INVITE = "store_invite"


class AssigneeRule(StrEnum):
    BOUND_GUIDE = "bound_guide"  # fallback: the store manager
    STORE_MANAGER = "store_manager"


class AssignGuideTaskConfig(_Model):
    task_type: TaskType = TaskType.CALL
    title: str = Field(default="", max_length=120)
    instructions: str = Field(min_length=1, max_length=2000)
    assignee: AssigneeRule = AssigneeRule.BOUND_GUIDE
    due_in: Duration = Field(default_factory=lambda: Duration(amount=24, unit=TimeUnit.HOURS))
    remind_before: Duration | None = Field(
        default_factory=lambda: Duration(amount=2, unit=TimeUnit.HOURS)
    )
    expire_after: Duration = Field(
        default_factory=lambda: Duration(amount=24, unit=TimeUnit.HOURS),
        description="How long an overdue task stays open (the store manager is alerted at the "
        "due time) before it expires and the customer takes the `expired` port.",
    )
    outcomes: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Empty: one `completed` port. Otherwise one port per outcome.",
    )
    on_failure: OnFailure = OnFailure.CONTINUE


class UpdateCustomerConfig(_Model):
    add_tags: list[str] = Field(default_factory=list, max_length=20)
    remove_tags: list[str] = Field(default_factory=list, max_length=20)
    set_attributes: dict[str, JsonScalar] = Field(default_factory=dict)


class ExitConfig(_Model):
    goal_reached: bool = False


# --------------------------------------------------------------------------- nodes


class Position(_Model):
    x: float = 0
    y: float = 0


class _NodeBase(_Model):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=120)
    position: Position = Field(default_factory=Position)


class EntryNode(_NodeBase):
    kind: Literal[NodeKind.ENTRY] = NodeKind.ENTRY
    config: EntryConfig = Field(default_factory=EntryConfig)


class WaitNode(_NodeBase):
    kind: Literal[NodeKind.WAIT] = NodeKind.WAIT
    config: WaitConfig = Field(default_factory=WaitConfig)


class WaitForEventNode(_NodeBase):
    kind: Literal[NodeKind.WAIT_FOR_EVENT] = NodeKind.WAIT_FOR_EVENT
    config: WaitForEventConfig


class BranchNode(_NodeBase):
    kind: Literal[NodeKind.BRANCH] = NodeKind.BRANCH
    config: BranchConfig = Field(default_factory=BranchConfig)


class SplitNode(_NodeBase):
    kind: Literal[NodeKind.SPLIT] = NodeKind.SPLIT
    config: SplitConfig = Field(default_factory=SplitConfig)


class SendCouponNode(_NodeBase):
    kind: Literal[NodeKind.SEND_COUPON] = NodeKind.SEND_COUPON
    config: SendCouponConfig


class SendMessageNode(_NodeBase):
    kind: Literal[NodeKind.SEND_MESSAGE] = NodeKind.SEND_MESSAGE
    config: SendMessageConfig


class AssignGuideTaskNode(_NodeBase):
    kind: Literal[NodeKind.ASSIGN_GUIDE_TASK] = NodeKind.ASSIGN_GUIDE_TASK
    config: AssignGuideTaskConfig


class UpdateCustomerNode(_NodeBase):
    kind: Literal[NodeKind.UPDATE_CUSTOMER] = NodeKind.UPDATE_CUSTOMER
    config: UpdateCustomerConfig = Field(default_factory=UpdateCustomerConfig)


class ExitNode(_NodeBase):
    kind: Literal[NodeKind.EXIT] = NodeKind.EXIT
    config: ExitConfig = Field(default_factory=ExitConfig)


AnyNode = (
    EntryNode
    | WaitNode
    | WaitForEventNode
    | BranchNode
    | SplitNode
    | SendCouponNode
    | SendMessageNode
    | AssignGuideTaskNode
    | UpdateCustomerNode
    | ExitNode
)

#: A node as JSON: the member is chosen by its ``kind``.
Node = Annotated[AnyNode, Field(discriminator="kind")]


class Edge(_Model):
    id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    source_port: str = Field(default="next", min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=64)


class GoalConfig(_Model):
    """A journey-wide goal: when this event arrives, the customer exits with goal reached."""

    event_type: str = Field(min_length=1, max_length=64)
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)


class JourneySettings(_Model):
    goal: GoalConfig | None = None
    max_node_visits: int = Field(default=20, ge=1, le=1000)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)


class JourneyDocument(_Model):
    """A journey as drawn: the canvas graph plus settings. See docs/journey-document.md."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    settings: JourneySettings = Field(default_factory=JourneySettings)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def journey_json_schema() -> dict[str, Any]:
    """The JSON Schema served at ``/api/schema/journey.json``."""
    schema = JourneyDocument.model_json_schema()
    schema["$id"] = "https://journey-canvas.local/api/schema/journey.json"
    schema["title"] = "Journey document"
    return schema

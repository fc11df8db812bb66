"""The journey document: the JSON a canvas saves, the API accepts and an export contains.

This is the *interchange* format (pydantic, JSON Schema at ``/api/schema/journey.json``).
It is deliberately permissive about graph shape — a draft may be half-built — and strict
about each node's config, which is a discriminated union keyed by the node's ``kind``,
assembled from the node kind registry (:mod:`engine.kinds`: each kind's module holds its
config and node model; the shared vocabulary is :mod:`engine.document_parts`). Graph rules
live in :mod:`engine.compiler.passes`; the compiler turns a valid document into the frozen
IR of :mod:`engine.ir`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field

from engine.document_parts import (
    SCHEMA_VERSION,
    AttributeCondition,
    CompareOp,
    Condition,
    ContextCondition,
    Duration,
    EventCountCondition,
    JsonScalar,
    LastContactChannelCondition,
    LifecycleStageCondition,
    MetricCondition,
    NodeBase,
    NodeKind,
    OnFailure,
    Position,
    PropertyFilter,
    RfmCondition,
    SegmentCondition,
    TagCondition,
    TimeUnit,
    _Model,
)
from engine.kinds import KINDS
from engine.kinds.assign_guide_task import (
    AssigneeRule,
    AssignGuideTaskConfig,
    AssignGuideTaskNode,
    TaskType,
)
from engine.kinds.branch import BranchConfig, BranchNode, BranchRule
from engine.kinds.entry import (
    EntryConfig,
    EntryNode,
    EventTrigger,
    ManualTrigger,
    Reentry,
    ReentryPolicy,
    SegmentTrigger,
    Trigger,
)
from engine.kinds.exit import ExitConfig, ExitNode
from engine.kinds.send_coupon import SendCouponConfig, SendCouponNode
from engine.kinds.send_message import Channel, SendMessageConfig, SendMessageNode
from engine.kinds.split import SplitConfig, SplitNode, SplitVariant
from engine.kinds.update_customer import UpdateCustomerConfig, UpdateCustomerNode
from engine.kinds.wait import (
    TimeWindow,
    WaitConfig,
    WaitDuration,
    WaitNode,
    WaitSpec,
    WaitUntilAbsolute,
    WaitUntilContext,
    WaitUntilCustomerDate,
)
from engine.kinds.wait_for_event import WaitForEventConfig, WaitForEventNode

__all__ = [
    "SCHEMA_VERSION",
    "AnyNode",
    "AssignGuideTaskConfig",
    "AssignGuideTaskNode",
    "AssigneeRule",
    "AttributeCondition",
    "BranchConfig",
    "BranchNode",
    "BranchRule",
    "Channel",
    "CompareOp",
    "Condition",
    "ContextCondition",
    "Duration",
    "Edge",
    "EntryConfig",
    "EntryNode",
    "EventCountCondition",
    "EventTrigger",
    "ExitConfig",
    "ExitNode",
    "GoalConfig",
    "JourneyDocument",
    "JourneySettings",
    "JsonScalar",
    "ManualTrigger",
    "Node",
    "NodeBase",
    "NodeKind",
    "OnFailure",
    "Position",
    "PropertyFilter",
    "Reentry",
    "ReentryPolicy",
    "RfmCondition",
    "SegmentCondition",
    "MetricCondition",
    "LifecycleStageCondition",
    "LastContactChannelCondition",
    "SegmentTrigger",
    "SendCouponConfig",
    "SendCouponNode",
    "SendMessageConfig",
    "SendMessageNode",
    "SplitConfig",
    "SplitNode",
    "SplitVariant",
    "TagCondition",
    "TaskType",
    "TimeUnit",
    "TimeWindow",
    "Trigger",
    "UpdateCustomerConfig",
    "UpdateCustomerNode",
    "WaitConfig",
    "WaitDuration",
    "WaitForEventConfig",
    "WaitForEventNode",
    "WaitNode",
    "WaitSpec",
    "WaitUntilAbsolute",
    "WaitUntilContext",
    "WaitUntilCustomerDate",
    "journey_json_schema",
]

_NodeBase = NodeBase  # the name before node kinds had modules

if TYPE_CHECKING:
    #: Any node (narrow with ``isinstance`` against a kind's node model).
    AnyNode = NodeBase
else:
    #: The union of every registered kind's node model (``typing.get_args`` lists them).
    AnyNode = Union[tuple(s.node for s in KINDS.values())]  # noqa: UP007

#: A node as JSON: the member is chosen by its ``kind``.
Node = Annotated[AnyNode, Field(discriminator="kind")]


class Edge(_Model):
    id: str = Field(min_length=1, max_length=64)
    source: str = Field(min_length=1, max_length=64)
    source_port: str = Field(default="next", min_length=1, max_length=64)
    target: str = Field(min_length=1, max_length=64)


class GoalConfig(_Model):
    """A journey-wide goal: when this event arrives, the customer exits with goal reached.

    ``window`` and ``value_property`` are for results only (``services.results``): a
    customer converts when a matching event happens within ``window`` after entry (also
    after their run ended), and the events' ``value_property`` sums to revenue. They do not
    change a running customer's path.
    """

    event_type: str = Field(min_length=1, max_length=64)
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    window: Duration | None = Field(
        default=None, description="Converted when the event comes within this after entry."
    )
    value_property: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="The event property summed as revenue (e.g. amount).",
    )


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

    def node(self, node_id: str) -> AnyNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def journey_json_schema() -> dict[str, Any]:
    """The JSON Schema served at ``/api/schema/journey.json``."""
    schema = JourneyDocument.model_json_schema()
    schema["$id"] = "https://journey-canvas.local/api/schema/journey.json"
    schema["title"] = "Journey document"
    return schema

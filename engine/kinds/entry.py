"""``entry``: where customers come in — an event, a segment, or manual enrolment."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field

from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.document_parts import (
    LIFECYCLE_STAGES,
    STAGE_CHANGED_EVENT,
    NodeBase,
    NodeKind,
    PropertyFilter,
    _Model,
)
from engine.ir_parts import Filter, StepBase
from engine.kinds.spec import KindSpec, StepHead

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

NEXT = "next"

# --------------------------------------------------------------------------- document


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


class EntryNode(NodeBase):
    kind: Literal[NodeKind.ENTRY] = NodeKind.ENTRY
    config: EntryConfig = Field(default_factory=EntryConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class EventEntry:
    event_type: str
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class ManualEntry:
    pass


@dataclass(frozen=True)
class SegmentEntry:
    segment_id: str
    schedule: str = "once"
    at_time: str = "09:00"
    weekday: int | None = None


EntryTrigger = Union[EventEntry, ManualEntry, SegmentEntry]  # noqa: UP007


@dataclass(frozen=True)
class EntryStep(StepBase):
    trigger: EntryTrigger = field(default_factory=ManualEntry)
    reentry: ReentryPolicy = ReentryPolicy.NEVER
    cooldown_days: int | None = None


# --------------------------------------------------------------------------- compile


def ports(node: EntryNode) -> tuple[str, ...]:
    return (NEXT,)


def validate(node: EntryNode, ctx: "Context", diags: Diagnostics) -> None:
    if not isinstance(node.config.trigger, EventTrigger):
        return
    common.check_filters(node.id, node.config.trigger.filters, diags)
    if node.config.trigger.event_type == STAGE_CHANGED_EVENT:
        _check_stage_filters(node.id, node.config.trigger.filters, diags)
    if node.config.reentry.policy.value == "cooldown" and not node.config.reentry.cooldown_days:
        diags.error(
            Code.INVALID_CONFIG,
            f"'{common.label(node)}': a cooldown re-entry policy needs cooldown_days.",
            nodes=[node.id],
            hint="Set how many days must pass before a customer may enter again.",
            params={
                "kind": node.kind.value,
                "errors": [{"loc": ["config", "reentry", "cooldown_days"], "type": "missing"}],
            },
        )


def _check_stage_filters(node_id: str, filters: list[PropertyFilter], diags: Diagnostics) -> None:
    """``to`` / ``from`` of a stage change are stages: a value that is none never matches."""
    for f in filters:
        if f.field not in ("to", "from") or f.op.value not in ("eq", "ne", "in", "not_in"):
            continue
        values = f.value if isinstance(f.value, list) else [f.value]
        for v in values:
            if v is not None and v not in LIFECYCLE_STAGES:
                diags.error(
                    Code.INVALID_FILTER,
                    f"Filter on '{f.field}': '{v}' is not a lifecycle stage, so it never matches.",
                    nodes=[node_id],
                    hint=did_you_mean(str(v), LIFECYCLE_STAGES),
                    params={"property": f.field, "value": str(v), "problem": "unknown_stage"},
                )


def build(node: EntryNode, head: StepHead) -> EntryStep:
    trig = node.config.trigger
    trigger: EntryTrigger
    if isinstance(trig, EventTrigger):
        trigger = EventEntry(trig.event_type, common.filters(trig.filters))
    elif isinstance(trig, ManualTrigger):
        trigger = ManualEntry()
    else:
        trigger = SegmentEntry(trig.segment_id, trig.schedule, trig.at_time, trig.weekday)
    return EntryStep(
        head.node_id,
        head.label,
        head.transitions,
        trigger=trigger,
        reentry=ReentryPolicy(node.config.reentry.policy.value),
        cooldown_days=node.config.reentry.cooldown_days,
    )


# --------------------------------------------------------------------------- run


async def run(step: EntryStep, it: "Interpreter", entry: "TraceEntry", visit: int) -> str | None:
    trigger = it.state.context.get(step.node_id, {}).get("event")
    entry.summary = f"entered by {trigger['type']}" if trigger else "entered"
    entry.result = {"trigger": trigger} if trigger else {}
    return NEXT


SPEC = KindSpec(
    kind=NodeKind.ENTRY,
    node=EntryNode,
    step=EntryStep,
    ir_classes=(EntryStep, EventEntry, ManualEntry, SegmentEntry),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    example={"trigger": {"type": "event", "event_type": "signup"}},
)

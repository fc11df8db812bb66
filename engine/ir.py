"""The compiled journey: a typed, frozen IR that workflows interpret.

Imports only the standard library, so the Temporal sandbox passes it through cheaply and
the same IR can run under a virtual clock. Every step carries its canvas ``node_id`` (its
location, for diagnostics and traces). Times are whole seconds; moments are ISO-8601 UTC.

The IR travels as a plain JSON dict (:func:`to_dict` / :func:`from_dict`): each dataclass is
tagged with its class name under ``"t"`` so unions decode without guessing.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Union

Scalar = Union[str, int, float, bool, None]  # noqa: UP007 - runtime alias, kept explicit
Value = Union[Scalar, tuple[Scalar, ...]]  # noqa: UP007


class Op(StrEnum):
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


class OnFailure(StrEnum):
    CONTINUE = "continue"
    EXIT = "exit"
    PORT = "port"


class ReentryPolicy(StrEnum):
    NEVER = "never"
    AFTER_EXIT = "after_exit"
    COOLDOWN = "cooldown"


@dataclass(frozen=True)
class Transition:
    port: str
    target: str
    edge_id: str


@dataclass(frozen=True)
class Filter:
    field: str
    op: Op
    value: Value = None


# ---------------------------------------------------------------- entry triggers


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

# ---------------------------------------------------------------- wait specs


@dataclass(frozen=True)
class DelayFor:
    seconds: int


@dataclass(frozen=True)
class UntilContext:
    """``offset_seconds`` is signed: negative = before the moment."""

    node_id: str
    field: str
    offset_seconds: int


@dataclass(frozen=True)
class UntilCustomerDate:
    field: str
    offset_seconds: int


@dataclass(frozen=True)
class UntilAbsolute:
    at: str


WaitUntil = Union[DelayFor, UntilContext, UntilCustomerDate, UntilAbsolute]  # noqa: UP007


@dataclass(frozen=True)
class Window:
    """A daily send window in minutes after local midnight; ``end`` may be < ``start``."""

    start_minute: int
    end_minute: int
    timezone_source: str  # "customer" | "store"


# ---------------------------------------------------------------- branch conditions


@dataclass(frozen=True)
class AttributeCond:
    field: str
    op: Op
    value: Value = None


@dataclass(frozen=True)
class TagCond:
    tag: str
    present: bool = True


@dataclass(frozen=True)
class RfmCond:
    classes: tuple[str, ...]


@dataclass(frozen=True)
class EventCountCond:
    event_type: str
    window_days: int
    op: Op
    value: int


@dataclass(frozen=True)
class ContextCond:
    node_id: str
    field: str
    op: Op
    value: Value = True


@dataclass(frozen=True)
class SegmentCond:
    segment_id: str
    member: bool = True


Cond = Union[AttributeCond, TagCond, RfmCond, EventCountCond, ContextCond, SegmentCond]  # noqa: UP007


@dataclass(frozen=True)
class Rule:
    id: str
    label: str
    match_all: bool
    conditions: tuple[Cond, ...]


@dataclass(frozen=True)
class Variant:
    id: str
    weight: int
    holdout: bool = False


# ---------------------------------------------------------------- steps


@dataclass(frozen=True)
class _Step:
    node_id: str
    label: str
    transitions: tuple[Transition, ...]

    def target(self, port: str) -> str | None:
        for t in self.transitions:
            if t.port == port:
                return t.target
        return None


@dataclass(frozen=True)
class EntryStep(_Step):
    trigger: EntryTrigger = field(default_factory=ManualEntry)
    reentry: ReentryPolicy = ReentryPolicy.NEVER
    cooldown_days: int | None = None


@dataclass(frozen=True)
class WaitStep(_Step):
    until: WaitUntil = field(default_factory=lambda: DelayFor(0))
    window: Window | None = None


@dataclass(frozen=True)
class WaitForEventStep(_Step):
    event_type: str = ""
    filters: tuple[Filter, ...] = ()
    timeout_seconds: int = 0


@dataclass(frozen=True)
class BranchStep(_Step):
    rules: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class SplitStep(_Step):
    variants: tuple[Variant, ...] = ()


@dataclass(frozen=True)
class SendCouponStep(_Step):
    coupon_template_id: str = ""
    on_failure: OnFailure = OnFailure.CONTINUE


@dataclass(frozen=True)
class SendMessageStep(_Step):
    channel: str = "sms"
    subject: str = ""
    content: str = ""
    webhook_url: str | None = None
    on_failure: OnFailure = OnFailure.CONTINUE


@dataclass(frozen=True)
class AssignTaskStep(_Step):
    task_type: str = "call"
    title: str = ""
    instructions: str = ""
    assignee: str = "bound_guide"
    due_in_seconds: int = 86400
    remind_before_seconds: int | None = None
    expire_after_seconds: int = 86400
    outcomes: tuple[str, ...] = ()
    on_failure: OnFailure = OnFailure.CONTINUE


@dataclass(frozen=True)
class UpdateCustomerStep(_Step):
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    set_attributes: tuple[tuple[str, Scalar], ...] = ()


@dataclass(frozen=True)
class ExitStep(_Step):
    goal_reached: bool = False


Step = Union[  # noqa: UP007
    EntryStep,
    WaitStep,
    WaitForEventStep,
    BranchStep,
    SplitStep,
    SendCouponStep,
    SendMessageStep,
    AssignTaskStep,
    UpdateCustomerStep,
    ExitStep,
]

#: The node kind (as in the document) of each step class.
STEP_KIND: dict[type, str] = {
    EntryStep: "entry",
    WaitStep: "wait",
    WaitForEventStep: "wait_for_event",
    BranchStep: "branch",
    SplitStep: "split",
    SendCouponStep: "send_coupon",
    SendMessageStep: "send_message",
    AssignTaskStep: "assign_guide_task",
    UpdateCustomerStep: "update_customer",
    ExitStep: "exit",
}


@dataclass(frozen=True)
class Goal:
    event_type: str
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class CompiledJourney:
    """A published journey version as the interpreter sees it."""

    journey_id: str
    version: int
    name: str
    content_hash: str
    entry_node_id: str
    steps: tuple[Step, ...]
    goal: Goal | None = None
    max_node_visits: int = 20
    timezone: str = "Asia/Shanghai"
    _index: dict[str, Step] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {s.node_id: s for s in self.steps})

    def step(self, node_id: str) -> Step:
        return self._index[node_id]

    @property
    def entry(self) -> EntryStep:
        step = self._index[self.entry_node_id]
        if not isinstance(step, EntryStep):  # pragma: no cover - compiler guarantees it
            raise TypeError(f"entry node {self.entry_node_id} is a {type(step).__name__}")
        return step

    def branch_segments(self) -> tuple[str, ...]:
        """Ids of the segments branches test membership of, in order of appearance."""
        found: dict[str, None] = {}
        for step in self.steps:
            if isinstance(step, BranchStep):
                for rule in step.rules:
                    for c in rule.conditions:
                        if isinstance(c, SegmentCond):
                            found[c.segment_id] = None
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CompiledJourney:
        obj = from_dict(data)
        if not isinstance(obj, cls):
            raise TypeError(f"expected a CompiledJourney, got {type(obj).__name__}")
        return obj


# ---------------------------------------------------------------- codec

_CLASSES: dict[str, type] = {
    c.__name__: c
    for c in (
        Transition,
        Filter,
        EventEntry,
        ManualEntry,
        SegmentEntry,
        DelayFor,
        UntilContext,
        UntilCustomerDate,
        UntilAbsolute,
        Window,
        AttributeCond,
        TagCond,
        RfmCond,
        EventCountCond,
        ContextCond,
        SegmentCond,
        Rule,
        Variant,
        EntryStep,
        WaitStep,
        WaitForEventStep,
        BranchStep,
        SplitStep,
        SendCouponStep,
        SendMessageStep,
        AssignTaskStep,
        UpdateCustomerStep,
        ExitStep,
        Goal,
        CompiledJourney,
    )
}
_ENUM_FIELDS: dict[type, dict[str, type[StrEnum]]] = {}


def _enum_fields(cls: type) -> dict[str, type[StrEnum]]:
    cached = _ENUM_FIELDS.get(cls)
    if cached is None:
        hints = typing.get_type_hints(cls)
        cached = {
            name: hint
            for name, hint in hints.items()
            if isinstance(hint, type) and issubclass(hint, StrEnum)
        }
        _ENUM_FIELDS[cls] = cached
    return cached


def to_dict(obj: Any) -> Any:
    """Encode IR objects as JSON-able data (dataclasses tagged with ``"t"``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {"t": type(obj).__name__}
        for f in dataclasses.fields(obj):
            if f.init:
                out[f.name] = to_dict(getattr(obj, f.name))
        return out
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, StrEnum):
        return obj.value
    return obj


def from_dict(data: Any) -> Any:
    """Decode what :func:`to_dict` produced; lists come back as tuples."""
    if isinstance(data, dict) and "t" in data:
        cls = _CLASSES[data["t"]]
        enums = _enum_fields(cls)
        kwargs = {}
        for key, raw in data.items():
            if key == "t":
                continue
            value = from_dict(raw)
            if key in enums and value is not None:
                value = enums[key](value)
            kwargs[key] = value
        return cls(**kwargs)
    if isinstance(data, list):
        return tuple(from_dict(v) for v in data)
    return data


def content_hash(steps: tuple[Step, ...], extra: Any = None) -> str:
    """A stable hash of a journey's semantics (positions and names excluded)."""
    payload = json.dumps([to_dict(s) for s in steps] + [to_dict(extra)], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]

"""The compiled journey: a typed, frozen IR that workflows interpret.

Every step carries its canvas ``node_id`` (its location, for diagnostics and traces). Times
are whole seconds; moments are ISO-8601 UTC. Each kind's step dataclass lives in its module
under ``engine/kinds`` (the shared vocabulary in :mod:`engine.ir_parts`, stdlib only); this
module re-exports them, and the workflow imports it once per worker (passed through the
Temporal sandbox), so the same IR also runs under a virtual clock.

The IR travels as a plain JSON dict (:func:`to_dict` / :func:`from_dict`): each dataclass is
tagged with its class name under ``"t"`` so unions decode without guessing (a step's class
name is recorded in every published version: never rename one).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.ir_parts import (
    SHARED_CLASSES,
    AttributeCond,
    Cond,
    ContextCond,
    EventCountCond,
    Filter,
    LastContactChannelCond,
    LifecycleStageCond,
    MetricCond,
    OnFailure,
    Op,
    RfmCond,
    Scalar,
    SegmentCond,
    StepBase,
    TagCond,
    Transition,
    Value,
)
from engine.kinds import KINDS
from engine.kinds.assign_guide_task import AssignTaskStep
from engine.kinds.branch import BranchStep, Rule
from engine.kinds.entry import (
    EntryStep,
    EntryTrigger,
    EventEntry,
    ManualEntry,
    ReentryPolicy,
    SegmentEntry,
)
from engine.kinds.exit import ExitStep
from engine.kinds.send_coupon import SendCouponStep
from engine.kinds.send_message import SendMessageStep
from engine.kinds.split import SplitStep, Variant
from engine.kinds.update_customer import UpdateCustomerStep
from engine.kinds.wait import (
    DelayFor,
    UntilAbsolute,
    UntilContext,
    UntilCustomerDate,
    WaitStep,
    WaitUntil,
    Window,
)
from engine.kinds.wait_for_event import WaitForEventStep

__all__ = [
    "AssignTaskStep",
    "AttributeCond",
    "BranchStep",
    "CompiledJourney",
    "Cond",
    "ContextCond",
    "DelayFor",
    "EntryStep",
    "EntryTrigger",
    "EventCountCond",
    "EventEntry",
    "ExitStep",
    "Filter",
    "Goal",
    "ManualEntry",
    "OnFailure",
    "Op",
    "ReentryPolicy",
    "RfmCond",
    "Rule",
    "STEP_KIND",
    "Scalar",
    "SegmentCond",
    "MetricCond",
    "LifecycleStageCond",
    "LastContactChannelCond",
    "SegmentEntry",
    "SendCouponStep",
    "SendMessageStep",
    "SplitStep",
    "Step",
    "StepBase",
    "TagCond",
    "Transition",
    "UntilAbsolute",
    "UntilContext",
    "UntilCustomerDate",
    "UpdateCustomerStep",
    "Value",
    "Variant",
    "WaitStep",
    "WaitUntil",
    "WaitForEventStep",
    "Window",
    "content_hash",
    "from_dict",
    "to_dict",
]

#: Any step (narrow with ``isinstance`` against a kind's step class).
Step = StepBase

#: The node kind (as in the document) of each step class.
STEP_KIND: dict[type, str] = {s.step: k.value for k, s in KINDS.items()}


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
        *SHARED_CLASSES,
        *(c for s in KINDS.values() for c in s.ir_classes),
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
            if not f.init:
                continue
            value = getattr(obj, f.name)
            if f.metadata.get("omit_default") and value == f.default:
                continue  # a field added later, at its default: the JSON and hash as before
            out[f.name] = to_dict(value)
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

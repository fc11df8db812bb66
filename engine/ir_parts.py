"""The vocabulary every node kind's IR step shares: comparisons, filters, branch conditions,
``on_failure``, transitions and the step base.

Stdlib only. Each kind module (``engine/kinds/<kind>.py``) defines its step dataclass on
:class:`StepBase`; :mod:`engine.ir` collects every kind's classes for the tagged codec.
"""

# No "from __future__ import annotations": the codec resolves these classes' field types
# (typing.get_type_hints) inside the workflow sandbox, whose sys.modules need not hold this
# module; real annotations need no lookup.

from dataclasses import dataclass
from enum import StrEnum
from typing import Union

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


# ---------------------------------------------------------------- branch conditions
# Shared: evaluated by engine.semantics (branches today; any kind that tests the customer).


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


@dataclass(frozen=True)
class MetricCond:
    """A computed metric of the customer (``CustomerFacts`` field ``field``) against a number."""

    field: str
    op: Op
    value: Value = None


@dataclass(frozen=True)
class LifecycleStageCond:
    stages: tuple[str, ...]


@dataclass(frozen=True)
class LastContactChannelCond:
    channels: tuple[str, ...]


Cond = Union[  # noqa: UP007
    AttributeCond,
    TagCond,
    RfmCond,
    EventCountCond,
    ContextCond,
    SegmentCond,
    MetricCond,
    LifecycleStageCond,
    LastContactChannelCond,
]


@dataclass(frozen=True)
class ContactRule:
    """How an action step (message, coupon, guide task) meets the brand's contact policy
    (:mod:`engine.contact_policy`): its category (``marketing`` keeps quiet hours,
    ``service`` does not; both count against caps), and what a cap that is reached does:
    ``skip`` (go on by ``next``, recorded), ``wait`` (until the cap allows, at most
    ``max_wait_seconds``; then skipped) or ``port`` (follow the ``capped`` port)."""

    category: str = "marketing"
    when_capped: str = "skip"
    max_wait_seconds: int = 3 * 86400


#: The rule of a step compiled without one (and of steps compiled before contact policy).
DEFAULT_CONTACT_RULE = ContactRule()
#: Marks an IR field the codec leaves out while it holds its default, so steps compiled
#: before the field existed keep their JSON and content hash (see ``engine.ir.to_dict``).
OMIT_DEFAULT = {"omit_default": True}

#: The shared IR classes a compiled journey may hold (for the tagged codec).
SHARED_CLASSES: tuple[type, ...] = (
    ContactRule,
    Transition,
    Filter,
    AttributeCond,
    TagCond,
    RfmCond,
    EventCountCond,
    ContextCond,
    SegmentCond,
    MetricCond,
    LifecycleStageCond,
    LastContactChannelCond,
)


@dataclass(frozen=True)
class StepBase:
    """What every step has: its canvas node id (its location), label and transitions."""

    node_id: str
    label: str
    transitions: tuple[Transition, ...]

    def target(self, port: str) -> str | None:
        for t in self.transitions:
            if t.port == port:
                return t.target
        return None

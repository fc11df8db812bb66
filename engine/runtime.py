"""What the interpreter needs from the world, and the state it keeps.

:class:`Runtime` is the small interface (clock, wait, reads, side effects) the interpreter
runs over. ``workflows.journey.TemporalRuntime`` implements it with durable timers and
activities; :class:`engine.simulation.SimulatedRuntime` implements it with a virtual clock
and sandbox providers for test runs and backtests. One interpreter, two clocks.

Everything here is stdlib-only and JSON-friendly: :class:`RunState` is what a workflow
carries across continue-as-new, and what its ``state`` query returns.
"""

# No "from __future__ import annotations": Temporal resolves these types on every
# payload, and string annotations would be eval()-compiled each time (measured: most of the
# worker CPU in bench.throughput).

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

from engine.effect_parts import CustomerFacts, Effect, NodeVisit

Rq = TypeVar("Rq")
Rs = TypeVar("Rs")

#: How many buffered events a run keeps (the newest win).
EVENT_BUFFER_LIMIT = 100

# Interpreter changes that would alter recorded histories ship behind ``Runtime.patched``
# (``workflow.patched`` on Temporal): runs recorded before a change replay the old way.
# Changes released together share one id, so a run carries one marker per release.
#: Release 2 of the journey semantics:
#: - a facts snapshot is reused until the customer first waits (was: for 60 s);
#: - a task moved by capacity overflow is reminded/escalated/expired on its own due time;
#: - a side effect followed by an exit records the run's end itself (no extra record).
SEMANTICS_V2 = "journey-semantics-v2"
#: Release 3: no run strands (issue 12):
#: - a failed step follows its kind's ``failure_ports``: a guide task that could not be
#:   created takes ``expired`` under "continue" (was: a ``next`` port tasks do not have, so
#:   the run stopped with nothing to do and its row still "running");
#: - a port that leads nowhere ends the run as exit ``no_path``, recorded (was: as above);
#: - a task notice (reminder, escalation, expiry, cancel) that fails for good is noted on the
#:   visit and the run goes on (was: the exception failed the workflow task, for ever);
#: - a customer whose exit a side effect already recorded leaves at once: no pause and no
#:   continue-as-new between that effect and the exit (was: a pause arriving in between
#:   held a run the database called exited).
SEMANTICS_V3 = "journey-semantics-v3"
#: Release 4: experiments hold across re-entries (issue 14):
#: - a split's side depends on the journey, the customer and the node only (was: also on
#:   the enrollment and the visit, so a customer who entered again could switch sides);
#: - the run's record carries the variant each split gave it (``RunRecord.variants``), so
#:   results can compare variants from the database.
SEMANTICS_V4 = "journey-semantics-v4"
#: Per-step results (issue 14): each finished node visit (node, visit, port, when) rides on
#: the run's next ``record_run`` (``RunRecord.visits``; the same group commit, no activity
#: of its own), kept in ``RunState.pending_visits`` until then (was: not recorded).
NODE_VISITS = "journey-node-visits"
#: Contact policy (issue 15): before its side effect an action step (message, coupon, guide
#: task) asks ``check_contact_policy`` (engine.contact_policy): quiet hours defer it on a
#: durable timer, a frequency cap skips it, waits (bounded) or takes its ``capped`` port,
#: every decision noted on the visit (was: sent at once, whatever the hour or count).
CONTACT_POLICY = "journey-contact-policy"
#: The contact check rides on the action's own activity (issue 15's speed): the request
#: carries the check (``policy``), the activity decides it first and, unless allowed,
#: answers ``denied`` without acting; one activity per action, as before the policy (was:
#: a ``check_contact_policy`` local activity before each action's activity).
CONTACT_IN_EFFECT = "journey-contact-in-effect"
#: Retired release: database-only side effects (issue a coupon, award points, update the
#: profile: an ``Effect`` with ``local_since``) ran as local activities. A signal arriving
#: while such a local activity ran could fail its workflow task; the replay then took the
#: signal first (a pause at the entry) while the effect — and the run's end it recorded —
#: had already happened (the database said "exited", Temporal "paused"). Activities are
#: durable in the history and do not have that hole; the local activities gained about 5%
#: (bench.throughput ratio 0.87–0.88 with them, 0.82–0.83 without). New runs no longer take it;
#: runs that carry it in their input (started while it was current) keep it, so their
#: histories replay (corpus ``local_db_effects``).
LOCAL_DB_EFFECTS = "journey-local-db-effects"
#: Every patch id new runs take, in the order a runtime decides them (once, when a run
#: starts).
PATCHES = (
    SEMANTICS_V2,
    SEMANTICS_V3,
    SEMANTICS_V4,
    NODE_VISITS,
    CONTACT_POLICY,
    CONTACT_IN_EFFECT,
)
#: Retired patch ids: never taken by a new run, honoured for runs whose input carries them.
RETIRED_PATCHES = (LOCAL_DB_EFFECTS,)
#: Moving a waiting customer to a newer version (issue 17): the ``move_version`` signal is
#: acted on only under this marker, recorded when the signal arrives (not decided at run
#: start: runs started long before the release are the ones that need moving). A history
#: without the signal replays exactly as before; one whose signal an older release ignored
#: replays without the marker, so the move stays ignored.
MOVE_VERSION = "journey-move-version"

# ------------------------------------------------------------------ signals


@dataclass
class CustomerEventIn:
    """A customer event as delivered to a running journey (signal payload)."""

    event_id: str
    type: str
    occurred_at: str  # ISO-8601 with offset
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskOutcome:
    """A guide's result for a task (signal payload)."""

    task_id: str
    outcome: str
    note: str = ""
    at: str = ""
    by: str = ""


@dataclass
class VersionMove:
    """Continue this run on another version of its journey (interpreter side of the
    ``move_version`` signal): the customer at node ``k`` goes on at ``node_map[k]`` of the
    new version; a node not in the map keeps the customer where they are."""

    move_id: str
    from_version: int
    to_version: int
    node_map: dict[str, str] = field(default_factory=dict)
    by: str = ""


# ------------------------------------------------------------------ state


@dataclass
class TraceEntry:
    """One node visit: when, what it looked at, what it decided."""

    node_id: str
    kind: str
    visit: int
    at: str
    port: str | None = None  # the port taken (None while in progress / at an exit)
    summary: str = ""  # one line for people: "RFM=重要挽留 → 规则 1"
    inputs: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    finished_at: str | None = None


@dataclass
class Waiting:
    node_id: str
    kind: str  # "timer" | "event" | "task" | "paused"
    until: str | None = None
    detail: str = ""


@dataclass
class RunState:
    """The interpreter's whole state: small, serialisable, carried across continue-as-new."""

    customer_id: str
    enrollment_id: str
    entered_at: str
    current: str | None = None
    status: str = "running"  # running | exited | stopped
    exit_reason: str | None = None
    goal_reached: bool = False
    visits: dict[str, int] = field(default_factory=dict)
    context: dict[str, dict[str, Any]] = field(default_factory=dict)
    trace: list[TraceEntry] = field(default_factory=list)
    trace_dropped: int = 0
    events: list[CustomerEventIn] = field(default_factory=list)
    consumed_event_ids: list[str] = field(default_factory=list)
    task_outcomes: dict[str, TaskOutcome] = field(default_factory=dict)
    waiting: Waiting | None = None
    facts: CustomerFacts | None = None
    paused: bool = False
    stop_requested: str | None = None
    goal_event_id: str | None = None
    steps: int = 0  # steps executed since the last continue-as-new
    #: node visits finished since the run's last record (release NODE_VISITS)
    pending_visits: list[NodeVisit] = field(default_factory=list)
    #: split node id -> the variant it gave this customer (SEMANTICS_V4 runs; recorded).
    variants: dict[str, str] = field(default_factory=dict)


class Runtime(Protocol):
    """The interpreter's view of time and the world. Implementations must be deterministic
    under replay (Temporal) or under a virtual clock (simulation)."""

    def now(self) -> datetime: ...

    async def wait(self, *, until: datetime | None, wake: Callable[[], bool]) -> bool:
        """Block until ``wake()`` is true (→ True) or ``until`` passes (→ False)."""
        ...

    def should_continue_as_new(self) -> bool: ...

    def patched(self, change_id: str) -> bool:
        """Whether this run takes the new behaviour of interpreter change ``change_id``
        (False while replaying a run recorded before the change)."""
        ...

    async def effect(self, effect: Effect[Rq, Rs], request: Rq) -> Rs:
        """Ask the world for ``effect`` (a read, or a side effect keyed by the request's
        idempotency key) and return its result; a permanent business failure raises
        :class:`engine.effects.EffectFailed`. One implementation per runtime serves every
        effect of every kind (:data:`engine.kinds.EFFECTS`)."""
        ...

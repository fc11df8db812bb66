"""What crosses the line between the workflows and the rest: workflow and activity type
names, workflow ids, memo keys, and the input and result dataclasses of both workflows and
of the enrollment activities.

Both sides import this module and nothing of each other: the workflows call activities by
the names below (samples-python ``dsl/``), the activities register under them, and starters
(:mod:`workflows.starter`) start workflows by name. It imports engine/ and
``workflows.journey_cache`` only (no temporalio), so the workflow sandbox passes it through
cheaply.

Every name and field here is recorded in histories (type names, JSON field names of the
payloads): renaming one breaks the replay of running customers (tests/replay).

No ``from __future__ import annotations``: Temporal resolves these types on every payload.
"""

from dataclasses import dataclass
from typing import Any

from engine.effects import CustomerFacts
from engine.interpreter import PATCHES
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn, RunState
from workflows import journey_cache
from workflows.journey_cache import JourneyRef

# ---------------------------------------------------------------- type names and ids

#: Workflow type names (``@workflow.defn(name=...)``).
JOURNEY_WORKFLOW = "JourneyWorkflow"
ENROLLMENT_WORKFLOW = "SegmentEnrollmentWorkflow"

#: Activity type names of the segment enrollment workflow.
ENROLLMENT_PREPARE = "segment_enrollment_prepare"
ENROLLMENT_PAGE = "segment_enrollment_page"
ENROLLMENT_FINISH = "segment_enrollment_finish"

#: Memo key carrying the claimed ``journey_run`` row's id on each journey workflow, so a
#: retried start or the reconciler can tell whether the workflow it finds is that row's.
MEMO_RUN_ROW = "run_row"

#: Past this many history events a journey run continues as new (history stays bounded).
HISTORY_LIMIT = 4000


def workflow_id_for(journey_id: str, customer_id: str) -> str:
    """One id per customer per journey: Temporal refuses a second concurrent run."""
    return f"journey-{journey_id}-{customer_id}"


# ---------------------------------------------------------------- the journey workflow


@dataclass
class JourneyInput:
    #: The compiled journey inline (``CompiledJourney.to_dict()``): runs started before
    #: ``journey_ref`` existed. ``{}`` when ``journey_ref`` names it.
    journey: dict[str, Any]
    customer_id: str
    enrollment_id: str = ""  # "" → the first run id of this enrollment
    entry_event: CustomerEventIn | None = None
    facts: CustomerFacts | None = None  # a fresh snapshot from the starter, if it had one
    state: RunState | None = None  # set on continue-as-new
    history_limit: int = HISTORY_LIMIT
    #: The interpreter changes (``engine.interpreter.PATCHES``) this run takes, fixed by the
    #: starter (:meth:`new`), so a new run records no patch marker. None = decided by
    #: ``workflow.patched`` markers: runs started before this field existed.
    semantics: tuple[str, ...] | None = None
    #: The published version this run follows, read from the worker's cache
    #: (``workflows.journey_cache``) instead of from the input: the history records a
    #: reference of ~100 bytes, not the journey. None = ``journey`` holds it inline.
    journey_ref: JourneyRef | None = None

    @classmethod
    def new(
        cls,
        *,
        journey: dict[str, Any] | None = None,
        journey_ref: JourneyRef | None = None,
        **fields: Any,
    ) -> "JourneyInput":
        """The input of a new run: it takes every change of this release, and names its
        journey by reference.

        ``journey`` (the compiled journey, e.g. a published version's ``compiled``) is kept
        in this process's cache, so a worker in this process needs no database; a worker
        elsewhere loads the version from the database by the reference. ``journey_ref``
        alone: the starter knows the version is published and has no need to read it.
        """
        if journey is not None:
            ref = journey_cache.remember(journey)
            if journey_ref is not None and journey_ref != ref:
                raise ValueError(f"journey {ref} does not match journey_ref {journey_ref}")
            journey_ref = ref
        if journey_ref is None:
            raise TypeError("JourneyInput.new needs journey (compiled) or journey_ref")
        return cls(journey={}, semantics=PATCHES, journey_ref=journey_ref, **fields)

    def compiled(self) -> CompiledJourney:
        """The journey this run follows: inline (older runs) or from the worker's cache."""
        if self.journey_ref is not None:
            return journey_cache.require(self.journey_ref)
        return CompiledJourney.from_dict(self.journey)


@dataclass
class MoveToVersion:
    """The ``move_version`` signal: continue on another published version of the journey.

    ``journey_ref`` names the version as a run's input does (top-level field: the worker's
    codec loads the version before the workflow reads the signal). ``node_map`` maps the
    current node in the run's version to a node of the new one; a node left out keeps its
    customers on the version they follow.
    """

    journey_ref: JourneyRef
    move_id: str
    from_version: int
    node_map: dict[str, str]
    by: str = ""

    def compiled(self) -> CompiledJourney:
        """The version to continue on, from the worker's cache (as a run's input)."""
        return journey_cache.require(self.journey_ref)


@dataclass
class JourneyResult:
    status: str
    exit_reason: str | None
    goal_reached: bool
    last_node: str | None
    steps: int


# ---------------------------------------------------------------- the enrollment workflow


@dataclass
class EnrollmentState:
    """What survives continue-as-new."""

    enrollment_id: int
    version: int
    segment_id: str
    total: int
    max_per_run: int | None = None
    max_per_hour: int | None = None
    cursor: str = ""
    entered: int = 0
    skipped: int = 0
    hour_started: str = ""  # ISO start of the current max_per_hour window
    hour_entered: int = 0


@dataclass
class EnrollmentInput:
    """Start with ``journey_id`` (and ``version``, or None = the live one when it runs)."""

    journey_id: str
    version: int | None = None
    trigger: str = "publish"  # "publish" | "schedule" | "manual"
    page_size: int = 500
    concurrency: int = 32
    pages_per_run: int = 50  # continue-as-new after this many pages
    state: EnrollmentState | None = None
    #: Run the page activities on another queue than the pass's own; None (the usual) = the
    #: pass's queue, i.e. the enrollment worker (see :mod:`journeys.worker`).
    activity_task_queue: str | None = None


@dataclass
class EnrollmentProgress:
    status: str
    total: int
    entered: int
    skipped: int
    cursor: str
    enrollment_id: int


@dataclass
class EnrollmentResult:
    status: str  # "completed" | "skipped" | "limit_reached" | "stopped"
    entered: int = 0
    skipped: int = 0
    total: int = 0
    reason: str = ""
    enrollment_id: int = 0


# ---------------------------------------------------------------- enrollment activities


@dataclass
class PrepareRequest:
    """Open (or find again) the enrollment row of one enrollment workflow."""

    journey_id: str
    version: int | None  # None: the live version when the run starts (schedules)
    workflow_id: str
    first_run_id: str
    trigger: str  # "publish" | "schedule" | "manual"
    now: str  # the workflow's clock, ISO-8601


@dataclass
class PrepareResult:
    ok: bool
    reason: str = ""  # why nobody is enrolled, when not ok
    enrollment_id: int = 0
    version: int = 0
    segment_id: str = ""
    total: int = 0
    max_per_run: int | None = None
    max_per_hour: int | None = None


@dataclass
class PageRequest:
    """Enter the next page of the audience: customers with id > ``after``."""

    enrollment_id: int
    journey_id: str
    version: int
    segment_id: str
    now: str
    after: str
    page_size: int
    max_entries: int  # entries still allowed by the limits (≥ 1)
    entered_before: int
    skipped_before: int
    concurrency: int


@dataclass
class PageResult:
    considered: int
    entered: int
    skipped: int
    cursor: str
    done: bool  # the audience has no customers after ``cursor``
    stopped: str = ""  # "paused" | "replaced": the journey is no longer live at this version


@dataclass
class FinishRequest:
    enrollment_id: int
    status: str
    entered: int
    skipped: int
    cursor: str
    message: str = ""

"""Temporal's side of the journey runtime: durable timers, conditions and activities.

Every effect of every node kind runs through :meth:`TemporalRuntime.effect`: the activity
named by the effect (the name recorded in histories), its request as the one argument, its
result decoded to the effect's result type. No activity class is imported: workflows depend
on engine/ only, and the worker registers ``activities.JourneyActivities`` under the same
names.

Imported by ``workflows/journey.py`` through ``imports_passed_through`` so the sandbox
loads it once per worker instead of once per workflow run (and Temporal resolves these
dataclasses' types without eval: no ``from __future__ import annotations`` here).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

from engine.effects import BUSINESS_FAILURES, CustomerFacts, Effect, EffectFailed
from engine.interpreter import PATCHES
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn, RunState
from workflows import journey_cache
from workflows.journey_cache import JourneyRef

Rq = TypeVar("Rq")
Rs = TypeVar("Rs")

#: Side effects retry transient failures (a provider's 5xx, a DB hiccup) with backoff for
#: about a day; business failures are non-retryable and reach the interpreter at once.
EFFECT_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=10),
    maximum_attempts=150,
)
EFFECT_TIMEOUT = timedelta(seconds=30)
READ_TIMEOUT = timedelta(seconds=10)
#: Past this many history events the run continues as new (history stays bounded).
HISTORY_LIMIT = 4000
RETRIES_EXHAUSTED = "RetriesExhausted"


def workflow_id_for(journey_id: str, customer_id: str) -> str:
    """One id per customer per journey: Temporal refuses a second concurrent run."""
    return f"journey-{journey_id}-{customer_id}"


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
class JourneyResult:
    status: str
    exit_reason: str | None
    goal_reached: bool
    last_node: str | None
    steps: int


class TemporalRuntime:
    """:class:`engine.runtime.Runtime` on Temporal: durable timers and activities."""

    def __init__(self, history_limit: int = HISTORY_LIMIT) -> None:
        self.history_limit = history_limit
        self._patches: dict[str, bool] = {}

    def decide_patches(
        self, change_ids: tuple[str, ...], given: tuple[str, ...] | None = None
    ) -> None:
        """Decide every change once, in the run's first activation.

        ``given`` (the input's ``semantics``): the changes the starter fixed: no marker. Else
        ``workflow.patched`` for each, at a fixed point (the start of the run), so replay is
        exact however the interpreter's calls are placed: a new run takes every change, a
        run recorded before a change keeps the old behaviour for its whole life.
        """
        if given is not None:
            self._patches = {cid: cid in given for cid in change_ids}
        else:
            self._patches = {cid: workflow.patched(cid) for cid in change_ids}

    def decided(self) -> tuple[str, ...]:
        """The changes this run took (carried into a continued-as-new run)."""
        return tuple(cid for cid, on in self._patches.items() if on)

    def now(self) -> datetime:
        return workflow.now()

    async def wait(self, *, until: datetime | None, wake: Callable[[], bool]) -> bool:
        if until is None:
            await workflow.wait_condition(wake)
            return True
        timeout = (until - workflow.now()).total_seconds()
        if timeout <= 0:
            return wake()
        try:
            await workflow.wait_condition(wake, timeout=timeout)
        except TimeoutError:
            return wake()
        return True

    def patched(self, change_id: str) -> bool:
        return self._patches.get(change_id, False)

    def should_continue_as_new(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > self.history_limit
        )

    async def effect(self, effect: Effect[Rq, Rs], request: Rq) -> Rs:
        """Run ``effect`` as the activity of its name. A local effect (``load_facts``,
        ``record_run``) is a local activity with the read timeout and the SDK's retries; a
        side effect retries transient failures with :data:`EFFECT_RETRY`, and its business
        failures (and retries exhausted) reach the interpreter as :class:`EffectFailed`."""
        if effect.local:
            result = await workflow.execute_local_activity(
                effect.name,
                request,
                result_type=effect.result,
                start_to_close_timeout=READ_TIMEOUT,
            )
            return cast(Rs, result)
        try:
            result = await workflow.execute_activity(
                effect.name,
                request,
                result_type=effect.result,
                start_to_close_timeout=EFFECT_TIMEOUT,
                retry_policy=EFFECT_RETRY,
            )
        except ActivityError as err:
            cause = err.cause
            if isinstance(cause, ApplicationError) and cause.type in BUSINESS_FAILURES:
                raise EffectFailed(cause.type, cause.message) from err
            # transient failures that outlived every retry: a visible, permanent failure
            raise EffectFailed(RETRIES_EXHAUSTED, str(cause or err)) from err
        return cast(Rs, result)

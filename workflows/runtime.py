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
from datetime import datetime, timedelta
from typing import TypeVar, cast

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeoutError

from engine.effects import BUSINESS_FAILURES, Effect, EffectFailed
from engine.runtime import RETIRED_PATCHES

# the run's input and result live in the contract both sides import; named here too
from workflows.contract import HISTORY_LIMIT, JourneyInput, JourneyResult, workflow_id_for

__all__ = [
    "EFFECT_RETRY",
    "EFFECT_TIMEOUT",
    "HISTORY_LIMIT",
    "READ_TIMEOUT",
    "RETRIES_EXHAUSTED",
    "JourneyInput",
    "JourneyResult",
    "TemporalRuntime",
    "workflow_id_for",
]

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
RETRIES_EXHAUSTED = "RetriesExhausted"


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
            # a retired change stays on for the runs that carry it (engine.runtime)
            self._patches = {cid: cid in given for cid in (*change_ids, *RETIRED_PATCHES)}
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
        side effect retries transient failures with :data:`EFFECT_RETRY` — as a local
        activity when it writes only the database and the run took its release
        (``Effect.local_since``) — and its business failures (and retries exhausted) reach
        the interpreter as :class:`EffectFailed`."""
        if effect.local:
            result = await workflow.execute_local_activity(
                effect.name,
                request,
                result_type=effect.result,
                start_to_close_timeout=READ_TIMEOUT,
            )
            return cast(Rs, result)
        try:
            if effect.local_since is not None and self.patched(effect.local_since):
                result = await workflow.execute_local_activity(
                    effect.name,
                    request,
                    result_type=effect.result,
                    start_to_close_timeout=EFFECT_TIMEOUT,
                    retry_policy=EFFECT_RETRY,
                )
            else:
                result = await workflow.execute_activity(
                    effect.name,
                    request,
                    result_type=effect.result,
                    start_to_close_timeout=EFFECT_TIMEOUT,
                    retry_policy=EFFECT_RETRY,
                )
        except (ActivityError, ApplicationError, ActivityTimeoutError) as err:
            # an activity's failure is an ActivityError around its cause; a local
            # activity's is the cause itself (an application error, or its timeout)
            cause = err.cause if isinstance(err, ActivityError) else err
            if isinstance(cause, ApplicationError) and cause.type in BUSINESS_FAILURES:
                raise EffectFailed(cause.type, cause.message) from err
            # transient failures that outlived every retry: a visible, permanent failure
            raise EffectFailed(RETRIES_EXHAUSTED, str(cause or err)) from err
        return cast(Rs, result)

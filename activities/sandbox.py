"""Sandbox providers: the journey activities under their real names, acting on an
in-memory :class:`engine.simulation.SandboxWorld` instead of the database and providers.

Used for test runs of drafts on a Temporal test server (no real coupons, messages or tasks)
and by the workflow tests, which register these as stand-ins for the real activities. One
activity per effect of :data:`engine.kinds.EFFECTS`, each running the effect's sandbox in
the simulation runtime of the customer's world: a new kind's effects need nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.effects import (
    EFFECTS,
    Effect,
    EffectContext,
    EffectFailed,
    FactsRequest,
    RunRecord,
    TaskNoticeRequest,
)
from engine.semantics import parse_time
from engine.simulation import SandboxWorld, SimulatedRuntime

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class SandboxActivities:
    """One :class:`SandboxWorld` per customer id, created on first use by ``make_world``."""

    def __init__(self, make_world: Callable[[str], SandboxWorld]) -> None:
        self._make_world = make_world
        self.runtimes: dict[str, SimulatedRuntime] = {}
        self.calls: list[tuple[str, Any]] = []
        #: the activity of each effect, by name (what :meth:`all` registers)
        self.activities: dict[str, Callable[..., Any]] = {
            name: self._activity(effect) for name, effect in EFFECTS.items()
        }

    def world(self, customer_id: str) -> SandboxWorld:
        return self._runtime(customer_id).world

    def all(self) -> list[Callable[..., Any]]:
        return list(self.activities.values())

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """``sandbox.send_message``: the activity of that name (as on JourneyActivities)."""
        activities = self.__dict__.get("activities", {})
        if name in activities:
            return activities[name]
        raise AttributeError(name)

    def _runtime(self, customer_id: str, at: str = "") -> SimulatedRuntime:
        rt = self.runtimes.get(customer_id)
        if rt is None:
            world = self._make_world(customer_id)
            rt = SimulatedRuntime(world, parse_time(at) if at else _EPOCH)
            self.runtimes[customer_id] = rt
        if at:
            rt.clock = parse_time(at)
        return rt

    def _where(self, req: Any) -> tuple[str, str]:
        """Whose world a request acts on, and the workflow's time of it ("" = keep)."""
        ctx = getattr(req, "ctx", None)
        if isinstance(ctx, EffectContext):
            return ctx.customer_id, ctx.at
        if isinstance(req, FactsRequest):
            return req.customer_id, req.as_of
        if isinstance(req, RunRecord):
            return req.customer_id, ""
        if isinstance(req, TaskNoticeRequest):  # the world holding the task
            owner = next(
                (
                    c
                    for c, rt in self.runtimes.items()
                    if any(t["task_id"] == req.task_id for t in rt.world.tasks)
                ),
                "",
            )
            return owner, ""
        raise TypeError(f"no customer in a {type(req).__name__}")

    async def _call(self, effect: Effect[Any, Any], req: Any) -> Any:
        self.calls.append((effect.name, req))
        rt = self._runtime(*self._where(req))
        try:
            return await rt.effect(effect, req)
        except EffectFailed as failure:
            raise ApplicationError(
                failure.message, type=failure.type, non_retryable=True
            ) from failure

    def _activity(self, effect: Effect[Any, Any]) -> Callable[..., Any]:
        async def run(req: Any) -> Any:
            return await self._call(effect, req)

        # typed like the real activity, so Temporal decodes the request into its dataclass
        run.__annotations__ = {"req": effect.request, "return": effect.result}
        run.__name__ = run.__qualname__ = effect.name
        return activity.defn(name=effect.name)(run)

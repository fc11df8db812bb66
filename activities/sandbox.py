"""Sandbox providers: the journey activities under their real names, acting on an
in-memory :class:`engine.simulation.SandboxWorld` instead of the database and providers.

Used for test runs of drafts on a Temporal test server (no real coupons, messages or tasks)
and by the workflow tests, which register these as stand-ins for the real activities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from engine.effects import (
    CouponIssued,
    CreateTaskRequest,
    CustomerFacts,
    CustomerUpdated,
    EffectFailed,
    FactsRequest,
    IssueCouponRequest,
    MessageSent,
    RunRecord,
    SendMessageRequest,
    TaskCreated,
    TaskNoticeRequest,
    TaskNoticeResult,
    UpdateCustomerRequest,
)
from engine.semantics import parse_time
from engine.simulation import SandboxWorld, SimulatedRuntime


class SandboxActivities:
    """One :class:`SandboxWorld` per customer id, created on first use by ``make_world``."""

    def __init__(self, make_world: Callable[[str], SandboxWorld]) -> None:
        self._make_world = make_world
        self.runtimes: dict[str, SimulatedRuntime] = {}
        self.calls: list[tuple[str, Any]] = []

    def world(self, customer_id: str) -> SandboxWorld:
        return self._runtime(customer_id).world

    def _runtime(self, customer_id: str, at: str = "") -> SimulatedRuntime:
        rt = self.runtimes.get(customer_id)
        if rt is None:
            world = self._make_world(customer_id)
            rt = SimulatedRuntime(world, parse_time(at) if at else _epoch())
            self.runtimes[customer_id] = rt
        if at:
            rt.clock = parse_time(at)
        return rt

    async def _call(
        self, name: str, customer_id: str, at: str, fn: Callable[..., Any], req: Any
    ) -> Any:
        self.calls.append((name, req))
        rt = self._runtime(customer_id, at)
        try:
            return await fn(rt, req)
        except EffectFailed as failure:
            raise ApplicationError(
                failure.message, type=failure.type, non_retryable=True
            ) from failure

    @activity.defn(name="load_facts")
    async def load_facts(self, req: FactsRequest) -> CustomerFacts:
        return await self._call(
            "load_facts",
            req.customer_id,
            req.as_of,
            SimulatedRuntime.load_facts,
            req,
        )

    @activity.defn(name="issue_coupon")
    async def issue_coupon(self, req: IssueCouponRequest) -> CouponIssued:
        return await self._call(
            "issue_coupon",
            req.ctx.customer_id,
            req.ctx.at,
            SimulatedRuntime.issue_coupon,
            req,
        )

    @activity.defn(name="send_message")
    async def send_message(self, req: SendMessageRequest) -> MessageSent:
        return await self._call(
            "send_message",
            req.ctx.customer_id,
            req.ctx.at,
            SimulatedRuntime.send_message,
            req,
        )

    @activity.defn(name="create_task")
    async def create_task(self, req: CreateTaskRequest) -> TaskCreated:
        return await self._call(
            "create_task",
            req.ctx.customer_id,
            req.ctx.at,
            SimulatedRuntime.create_task,
            req,
        )

    @activity.defn(name="task_notice")
    async def task_notice(self, req: TaskNoticeRequest) -> TaskNoticeResult:
        customer = next(
            (
                c
                for c, rt in self.runtimes.items()
                if any(t["task_id"] == req.task_id for t in rt.world.tasks)
            ),
            "",
        )
        return await self._call(
            "task_notice",
            customer,
            "",
            SimulatedRuntime.task_notice,
            req,
        )

    @activity.defn(name="update_customer")
    async def update_customer(self, req: UpdateCustomerRequest) -> CustomerUpdated:
        return await self._call(
            "update_customer",
            req.ctx.customer_id,
            req.ctx.at,
            SimulatedRuntime.update_customer,
            req,
        )

    @activity.defn(name="record_run")
    async def record_run(self, rec: RunRecord) -> None:
        await self._call("record_run", rec.customer_id, "", SimulatedRuntime.record_run, rec)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.load_facts,
            self.issue_coupon,
            self.send_message,
            self.create_task,
            self.task_notice,
            self.update_customer,
            self.record_run,
        ]


def _epoch() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)

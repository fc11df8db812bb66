"""Drive one synthetic customer through a built-in template on the time-skipping server.

``Run.reach(node)`` skips time (``env.sleep``) from one park to the next until the customer
waits at ``node`` — waiting on workflow state, never on the wall clock — so a test can then
deliver an event, a task outcome or a redemption exactly there.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from activities.sandbox import SandboxActivities
from db.seed_data import COUPON_TEMPLATES
from engine.compiler import compile_document
from engine.effects import CustomerFacts
from engine.ir import CompiledJourney
from engine.runtime import CustomerEventIn, RunState, TaskOutcome
from engine.simulation import CouponTemplateSpec, SandboxWorld
from templates_lib import instantiate
from tests.workflows.harness import journey_worker, start
from workflows import JourneyWorkflow

COUPONS = {
    tid: (face, min_spend, days, stock)
    for tid, _n, face, min_spend, days, stock in COUPON_TEMPLATES
}


def compile_template(template_id: str, params: dict[str, Any] | None = None) -> CompiledJourney:
    result = compile_document(
        instantiate(template_id, params),
        journey_id=template_id,
        version=1,
        coupon_templates=set(COUPONS),
    )
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return result.journey


def world(customer_id: str, **facts: Any) -> SandboxWorld:
    """A customer of the demo chain with a bound guide; ``facts`` override."""
    base: dict[str, Any] = {
        "customer_id": customer_id,
        "name": "李女士",
        "guide_id": "G1",
        "member_level": "silver",
        "rfm_class": "一般发展",
        "store_id": "S001",
    }
    base.update(facts)
    return SandboxWorld(
        facts=CustomerFacts(**base),
        coupon_templates={
            tid: CouponTemplateSpec(tid, face, min_spend, days, stock)
            for tid, (face, min_spend, days, stock) in COUPONS.items()
        },
    )


class Run:
    """One customer's run: reach nodes, deliver things, then finish and inspect."""

    def __init__(
        self,
        env: WorkflowEnvironment,
        handle: WorkflowHandle[Any, Any],
        acts: SandboxActivities,
        customer_id: str,
    ) -> None:
        self.env, self.handle, self.acts, self.customer_id = env, handle, acts, customer_id

    @property
    def world(self) -> SandboxWorld:
        return self.acts.world(self.customer_id)

    async def state(self) -> RunState:
        return await self.handle.query(JourneyWorkflow.state)

    async def now(self) -> datetime:
        return (await self.env.get_current_time()).astimezone(UTC)

    async def reach(self, node_id: str) -> RunState:
        """Skip time park by park until the customer waits at ``node_id``."""
        last: tuple[str, str | None] | None = None
        for _ in range(600):
            st = await self.state()
            if st.status != "running":
                raise AssertionError(f"run ended before {node_id}: {[t.node_id for t in st.trace]}")
            w = st.waiting
            if w is not None and w.node_id == node_id:
                return st
            if w is not None and w.until and (w.node_id, w.until) != last:
                delta = datetime.fromisoformat(w.until) - await self.now()
                if delta > timedelta(0):
                    last = (w.node_id, w.until)
                    await self.env.sleep(delta + timedelta(seconds=1))
                    continue
            await asyncio.sleep(0.02)
        raise AssertionError(f"run never reached {node_id}")

    async def event(self, event_type: str, **properties: Any) -> None:
        now = await self.now()
        n = len(self.world.past_events) + 1
        self.world.past_events.append((now, event_type))
        await self.handle.signal(
            JourneyWorkflow.customer_event,
            CustomerEventIn(f"{self.customer_id}-ev{n}", event_type, now.isoformat(), properties),
        )

    async def outcome(self, node_id: str, outcome: str, note: str = "") -> None:
        task = next(t for t in reversed(self.world.tasks) if t["node_id"] == node_id)
        await self.handle.signal(
            JourneyWorkflow.task_outcome, TaskOutcome(task["task_id"], outcome, note)
        )

    def redeem(self, node_id: str, st: RunState) -> None:
        """Mark the coupon issued at ``node_id`` redeemed (the POS told the coupon ledger).

        The Temporal sandbox path does not mark redemption from signals (only the simulation
        runtime's script does), so the test marks it in the world the facts are read from.
        """
        self.world.redeemed.add(st.context[node_id]["coupon_id"])

    async def finish(self) -> tuple[Any, RunState]:
        result = await self.handle.result()
        return result, await self.state()

    # --- what happened
    def visited(self, st: RunState) -> list[str]:
        return [t.node_id for t in st.trace]

    def coupons(self) -> list[str]:
        return [c.template_id for c in self.world.coupons]

    def tasks(self) -> list[tuple[str, str]]:
        return [(t["node_id"], t["task_type"]) for t in self.world.tasks]

    def messages(self) -> list[str]:
        return [m.channel for m in self.world.messages]


@asynccontextmanager
async def run(
    env: WorkflowEnvironment,
    template_id: str,
    *,
    params: dict[str, Any] | None = None,
    customer_id: str = "C1",
    entry_event: CustomerEventIn | None = None,
    purchases_days_ago: tuple[int, ...] = (),
    **facts: Any,
) -> AsyncIterator[Run]:
    """Start ``customer_id`` (with ``facts`` and past purchases) on ``template_id``."""
    journey = compile_template(template_id, params)
    now = (await env.get_current_time()).astimezone(UTC)

    def make_world(cid: str) -> SandboxWorld:
        w = world(cid, **facts)
        w.past_events.extend((now - timedelta(days=d), "purchase") for d in purchases_days_ago)
        return w

    async with journey_worker(env, make_world=make_world) as (queue, acts):
        handle = await start(env, queue, journey, customer_id=customer_id, entry_event=entry_event)
        yield Run(env, handle, acts, customer_id)

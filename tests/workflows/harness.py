"""Run compiled journeys on a Temporal test environment with sandbox activities."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.sandbox import SandboxActivities
from engine.compiler import compile_document
from engine.effects import CustomerFacts
from engine.ir import CompiledJourney
from engine.simulation import CouponTemplateSpec, SandboxWorld
from workflows import JourneyInput, JourneyWorkflow

COUPONS = {
    "NEW20": CouponTemplateSpec("NEW20", face_value=20, min_spend=199, validity_days=30),
    "VIP100": CouponTemplateSpec(
        "VIP100", face_value=100, min_spend=999, validity_days=14, stock=1
    ),
}


def compile_ok(doc: dict[str, Any], journey_id: str = "j-test") -> CompiledJourney:
    result = compile_document(doc, journey_id=journey_id, version=1, coupon_templates=set(COUPONS))
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return result.journey


def default_world(customer_id: str, **facts: Any) -> SandboxWorld:
    base: dict[str, Any] = {
        "customer_id": customer_id,
        "name": "李女士",
        "guide_id": "G1",
        "member_level": "gold",
        "rfm_class": "重要挽留",
        "tags": ["新客"],
    }
    base.update(facts)
    return SandboxWorld(
        facts=CustomerFacts(**base),
        coupon_templates={k: CouponTemplateSpec(**v.__dict__) for k, v in COUPONS.items()},
    )


@asynccontextmanager
async def journey_worker(
    env: WorkflowEnvironment,
    activities: SandboxActivities | None = None,
    make_world: Callable[[str], SandboxWorld] = default_world,
    extra_activities: list[Any] | None = None,
):
    acts = activities or SandboxActivities(make_world)
    queue = f"tq-{uuid.uuid4()}"
    async with Worker(
        env.client,
        task_queue=queue,
        workflows=[JourneyWorkflow],
        activities=extra_activities or acts.all(),
    ):
        yield queue, acts


async def start(
    env: WorkflowEnvironment,
    queue: str,
    journey: CompiledJourney,
    customer_id: str = "C1",
    **kw: Any,
) -> WorkflowHandle[Any, Any]:
    return await env.client.start_workflow(
        JourneyWorkflow.run,
        JourneyInput.new(journey=journey.to_dict(), customer_id=customer_id, **kw),
        id=f"journey-{journey.journey_id}-{customer_id}-{uuid.uuid4().hex[:6]}",
        task_queue=queue,
    )


def path(state: Any) -> list[tuple[str, str | None]]:
    """[(node_id, port)] of a run's trace."""
    return [(t.node_id, t.port) for t in state.trace]


ENTRY: dict[str, Any] = {"id": "entry", "kind": "entry"}
EXIT: dict[str, Any] = {"id": "done", "kind": "exit"}
GOAL: dict[str, Any] = {"id": "goal", "kind": "exit", "config": {"goal_reached": True}}


def doc(
    nodes: list[dict[str, Any]], edges: list[tuple[str, str, str]], **settings: Any
) -> dict[str, Any]:
    """A journey document from nodes and ``(source, port, target)`` edges."""
    return {
        "name": "test journey",
        "settings": settings,
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": p, "target": t}
            for i, (s, p, t) in enumerate(edges)
        ],
    }


async def wait_at(handle: WorkflowHandle[Any, Any], node_id: str) -> None:
    """Wait on the run's state (never on the clock) until it is parked at ``node_id``."""
    import asyncio

    from workflows import JourneyWorkflow

    for _ in range(250):
        st = await handle.query(JourneyWorkflow.state)
        if st.waiting is not None and st.waiting.node_id == node_id:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"run never reached {node_id}")

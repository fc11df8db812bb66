"""A split gives one customer one side per journey across re-entries (SEMANTICS_V4), and
runs started before that release keep the old per-enrollment buckets (issue 14, item 5)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from temporalio.testing import WorkflowEnvironment

from engine import semantics
from engine.ir import CompiledJourney
from engine.kinds.split import SplitStep
from engine.runtime import SEMANTICS_V2, SEMANTICS_V3
from tests.workflows.harness import ENTRY, EXIT, GOAL, compile_ok, doc, journey_worker, start
from workflows import JourneyInput, JourneyWorkflow

CUSTOMERS = [f"C{i}" for i in range(8)]
ENTRIES = 4  # each customer enters the journey this many times, one enrollment each


def _split_journey() -> CompiledJourney:
    return compile_ok(
        doc(
            [
                ENTRY,
                {
                    "id": "s",
                    "kind": "split",
                    "config": {
                        "variants": [
                            {"id": "a", "weight": 45},
                            {"id": "b", "weight": 45},
                            {"id": "hold", "weight": 10, "holdout": True},
                        ]
                    },
                },
                EXIT,
                GOAL,
                {"id": "x3", "kind": "exit"},
            ],
            [("entry", "next", "s"), ("s", "a", "done"), ("s", "b", "goal"), ("s", "hold", "x3")],
        )
    )


async def _sides(
    env: WorkflowEnvironment, journey: CompiledJourney, old: tuple[str, ...] | None = None
) -> tuple[dict[str, set[str]], Any]:
    sides: dict[str, set[str]] = {c: set() for c in CUSTOMERS}
    async with journey_worker(env) as (queue, acts):
        for n in range(ENTRIES):
            for c in CUSTOMERS:
                if old is None:
                    handle = await start(env, queue, journey, customer_id=c, enrollment_id=f"e{n}")
                else:  # a run whose starter fixed the changes of an earlier release
                    inp = JourneyInput.new(
                        journey=journey.to_dict(), customer_id=c, enrollment_id=f"e{n}"
                    )
                    handle = await env.client.start_workflow(
                        JourneyWorkflow.run,
                        dataclasses.replace(inp, semantics=old),
                        id=f"old-{c}-{n}-{uuid.uuid4().hex[:6]}",
                        task_queue=queue,
                    )
                await handle.result()
                st = await handle.query(JourneyWorkflow.state)
                sides[c].add(str(st.trace[1].port))
    return sides, acts


async def test_a_customer_keeps_their_side_on_every_entry(env: WorkflowEnvironment) -> None:
    journey = _split_journey()
    sides, acts = await _sides(env, journey)
    assert all(len(s) == 1 for s in sides.values()), sides
    step = journey.step("s")
    assert isinstance(step, SplitStep)
    for c, (side,) in ((c, tuple(s)) for c, s in sides.items()):
        seed = semantics.split_seed(journey.journey_id, c, "s")
        assert semantics.choose_variant(step, seed)[0].id == side
        # the run's record names the side, so results can read it from the database
        last = acts.world(c).records[-1]
        assert last.variants == {"s": side}


async def test_runs_of_the_previous_release_keep_per_enrollment_buckets(
    env: WorkflowEnvironment,
) -> None:
    journey = _split_journey()
    sides, acts = await _sides(env, journey, old=(SEMANTICS_V2, SEMANTICS_V3))
    # 8 customers x 4 enrollments on the old seed: someone switches sides (fixed hashes)
    assert any(len(s) > 1 for s in sides.values()), sides
    assert all(r.variants == {} for c in CUSTOMERS for r in acts.world(c).records)

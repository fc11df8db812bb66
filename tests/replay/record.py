"""Record the replay corpus: ``python -m tests.replay.record [NAME …]`` (or ``make
histories``); names record only those scenarios (a new one, without touching the rest).

Runs every scenario on the time-skipping test server with sandbox activities and writes
each run's history to ``tests/replay/histories/<scenario>.json`` and the compiled journey it
names by reference to ``tests/replay/journeys/<scenario>.json`` (the published version a
worker would load; histories recorded before runs named their journey carry it inline).
Re-record only on purpose: the corpus is how we prove that new workflow code still replays
old runs.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from functools import partial
from pathlib import Path

from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.sandbox import SandboxActivities
from engine.simulation import SandboxWorld
from tests.replay.scenarios import SCENARIOS, Scenario, later_version
from tests.temporal_env import binary
from tests.workflows.harness import compile_ok, default_world
from workflows import JourneyInput, JourneyWorkflow

HISTORIES = Path(__file__).parent / "histories"
#: The compiled journeys of runs recorded by reference, by scenario name.
JOURNEYS = Path(__file__).parent / "journeys"


async def record(names: list[str] | None = None) -> list[Path]:
    HISTORIES.mkdir(exist_ok=True)
    written = []
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server")
    )
    async with env:
        for scenario in SCENARIOS:
            if names and scenario.name not in names:
                continue
            acts = SandboxActivities(partial(_world, scenario))
            queue = f"record-{uuid.uuid4()}"
            journey = compile_ok(scenario.document, journey_id=f"replay-{scenario.name}")
            async with Worker(
                env.client, task_queue=queue, workflows=[JourneyWorkflow], activities=acts.all()
            ):
                handle = await env.client.start_workflow(
                    JourneyWorkflow.run,
                    JourneyInput.new(
                        journey=journey.to_dict(), customer_id="C1", **scenario.input_extra
                    ),
                    id=f"journey-replay-{scenario.name}-C1",
                    task_queue=queue,
                )
                if scenario.action is not None:
                    await scenario.action(env, handle, acts)
                await handle.result()
                history = await handle.fetch_history()
            path = HISTORIES / f"{scenario.name}.json"
            path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
            written.append(path)
            # A run names its journey by reference (JourneyInput.new): keep the compiled
            # journey as published, for tests/replay/conftest.py to load as a worker would.
            JOURNEYS.mkdir(exist_ok=True)
            kept = JOURNEYS / f"{scenario.name}.json"
            kept.write_text(json.dumps(journey.to_dict(), indent=1, ensure_ascii=False) + "\n")
            written.append(kept)
            for n, document in enumerate(scenario.later_versions, start=2):
                later = later_version(scenario.name, document, n).to_dict()
                kept = JOURNEYS / f"{scenario.name}.v{n}.json"
                kept.write_text(json.dumps(later, indent=1, ensure_ascii=False) + "\n")
                written.append(kept)
    return written


def _world(scenario: Scenario, customer_id: str) -> SandboxWorld:
    world = default_world(customer_id, **scenario.facts)
    world.policy = copy.deepcopy(scenario.policy)
    return world


if __name__ == "__main__":
    import sys

    unknown = set(sys.argv[1:]) - {s.name for s in SCENARIOS}
    if unknown:
        sys.exit(f"no scenario named {', '.join(sorted(unknown))}")
    for p in asyncio.run(record(sys.argv[1:])):
        print(p)

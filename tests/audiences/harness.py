"""A journey that customers enter by segment, on a migrated database, with a worker that
runs the real journey and enrollment activities on the time-skipping test server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col
from temporalio.client import Client, WorkflowHandle
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from activities.enrollment import EnrollmentActivities
from db import crud
from db.models import JourneyCreate, JourneyRun, SegmentCreate
from db.session import session_factory
from services.journeys import publish
from settings import Settings
from workflows import JourneyWorkflow
from workflows.enrollment import EnrollmentInput, EnrollmentResult, SegmentEnrollmentWorkflow

EVERYONE_WHO_BOUGHT = {"rules": [{"type": "field", "field": "r_days", "op": "exists"}]}


def segment_journey(
    segment_id: str,
    *,
    schedule: str = "once",
    reentry: dict[str, Any] | None = None,
    wait_days: int = 0,
) -> dict[str, Any]:
    """entry (segment) → [wait] → exit."""
    nodes: list[dict[str, Any]] = [
        {
            "id": "entry",
            "kind": "entry",
            "config": {
                "trigger": {"type": "segment", "segment_id": segment_id, "schedule": schedule},
                "reentry": reentry or {"policy": "never"},
            },
        },
        {"id": "done", "kind": "exit"},
    ]
    edges = [{"id": "e1", "source": "entry", "target": "done"}]
    if wait_days:
        nodes.insert(
            1,
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": wait_days, "unit": "days"}}
                },
            },
        )
        edges = [
            {"id": "e1", "source": "entry", "target": "w"},
            {"id": "e2", "source": "w", "target": "done"},
        ]
    return {"name": f"segment entry {segment_id}", "nodes": nodes, "edges": edges}


def live_segment_journey(
    engine: Engine, definition: dict[str, Any] | None = None, **kw: Any
) -> str:
    """Save a segment and publish a journey entered by it; → the journey id."""
    with Session(engine, expire_on_commit=False) as session:
        segment_id = f"seg_{uuid.uuid4().hex[:6]}"
        crud.create_segment(
            session=session,
            segment_create=SegmentCreate(
                id=segment_id, name="test", definition=definition or EVERYONE_WHO_BOUGHT
            ),
        )
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(
                name="segment journey", draft_document=segment_journey(segment_id, **kw)
            ),
            by="test",
        )
        outcome = publish(session=session, journey_id=journey.id, by="test")
        assert outcome.ok, [d.message for d in outcome.diagnostics]
        return journey.id


@asynccontextmanager
async def enrollment_worker(
    client: Client,
    engine: Engine,
    enrollment: type[EnrollmentActivities] = EnrollmentActivities,
) -> AsyncIterator[tuple[str, EnrollmentActivities]]:
    """The production split: the journey worker on a new queue and the enrollment worker
    (the pass workflow and its activities) on ``Settings(task_queue=queue).enrollment_queue``.
    """
    async with journey_worker(client, engine) as queue:
        async with pass_worker(client, engine, queue, enrollment) as acts:
            yield queue, acts


@asynccontextmanager
async def journey_worker(client: Client, engine: Engine) -> AsyncIterator[str]:
    """A worker running the journeys on a new task queue; → the queue."""
    queue = f"enroll-{uuid.uuid4()}"
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False), task_queue=queue
    )
    async with Worker(
        client,
        task_queue=queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(JourneyActivities.from_engine(engine, settings)),
        max_cached_workflows=100,
    ):
        yield queue


@asynccontextmanager
async def pass_worker(
    client: Client,
    engine: Engine,
    queue: str,
    enrollment: type[EnrollmentActivities] = EnrollmentActivities,
    *,
    sticky: bool = True,
) -> AsyncIterator[EnrollmentActivities]:
    """The enrollment worker of the journey worker on ``queue``.

    ``sticky=False`` for a worker the test stops while a pass runs: the test server never
    moves a workflow task off a stopped worker's sticky queue (a real server does after
    5 s), so the pass would wait forever and hold the server's time skipping."""
    acts = enrollment(sessions=session_factory(engine), client=client, task_queue=queue)
    async with Worker(
        client,
        task_queue=Settings(task_queue=queue).enrollment_queue,
        workflows=[SegmentEnrollmentWorkflow],
        activities=acts.all(),
        max_cached_workflows=1000 if sticky else 0,
    ):
        yield acts


async def start_enrollment(
    client: Client, queue: str, journey_id: str, **kw: Any
) -> WorkflowHandle[Any, EnrollmentResult]:
    """A pass as ``services.segments.start_enrollment`` starts it: on the enrollment queue
    of the journey worker's ``queue``."""
    return await client.start_workflow(
        SegmentEnrollmentWorkflow.run,
        EnrollmentInput(journey_id=journey_id, **kw),
        id=f"segment-entry-{journey_id}-{uuid.uuid4().hex[:6]}",
        task_queue=Settings(task_queue=queue).enrollment_queue,
    )


async def finished(env: Any, handle: WorkflowHandle[Any, EnrollmentResult]) -> EnrollmentResult:
    """The pass's result, waiting on its state on the test server's clock (a long poll on a
    pass that continued as new across a worker restart can miss the close event there)."""
    from datetime import timedelta

    from temporalio.client import WorkflowExecutionStatus

    latest = env.client.get_workflow_handle(handle.id, result_type=EnrollmentResult)
    for _ in range(600):
        desc = await latest.describe()
        if desc.status is not WorkflowExecutionStatus.RUNNING:
            return await latest.result()
        await env.sleep(timedelta(seconds=1))
    pending = [
        (p.activity_type.name, p.attempt, p.last_failure.message)
        for p in desc.raw_description.pending_activities
    ]
    events = [e.event_type async for e in latest.fetch_history_events()]
    raise AssertionError(
        f"enrollment {handle.id} still running: pending activities {pending}, "
        f"last event types {events[-6:]}"
    )


async def runs_ended(env: Any, engine: Engine, journey_id: str) -> None:
    """Wait until every run of the journey has ended: call it before the worker stops, as a
    run stopped mid-step holds the test server's time skipping (see ``tests/conftest.py``)."""
    from datetime import timedelta

    from temporalio.client import WorkflowExecutionStatus

    with Session(engine) as session:
        running = set(
            session.execute(
                select(col(JourneyRun.workflow_id)).where(col(JourneyRun.journey_id) == journey_id)
            ).scalars()
        )
    # The runs do real work (their last record is a database write), which skipping time does
    # not hurry: the budget is wall-clock time, generous for a loaded CI machine.
    deadline = asyncio.get_running_loop().time() + 120
    while asyncio.get_running_loop().time() < deadline:
        for workflow_id in sorted(running):
            desc = await env.client.get_workflow_handle(workflow_id).describe()
            if desc.status is not WorkflowExecutionStatus.RUNNING:
                running.discard(workflow_id)
        if not running:
            return
        await env.sleep(timedelta(seconds=1))
    raise AssertionError(f"runs still running: {sorted(running)}")


def runs_per_customer(engine: Engine, journey_id: str) -> dict[str, int]:
    with Session(engine) as session:
        rows = session.execute(
            select(col(JourneyRun.customer_id), func.count())
            .where(col(JourneyRun.journey_id) == journey_id)
            .group_by(col(JourneyRun.customer_id))
        ).all()
    return {cid: int(n) for cid, n in rows}


def audience(
    engine: Engine, definition: dict[str, Any] = EVERYONE_WHO_BOUGHT, now: Any = None
) -> set[str]:
    """Who is in the segment as of ``now`` (default: the wall clock)."""
    from datetime import UTC, datetime

    from audiences import compile_segment, page_ids, parse_definition

    with Session(engine) as session:
        compiled = compile_segment(parse_definition(definition), now=now or datetime.now(UTC))
        return set(page_ids(session, compiled, limit=100_000))

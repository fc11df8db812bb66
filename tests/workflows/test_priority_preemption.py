"""Priority preemption on Temporal (time-skipping; waits on state, never the wall clock): a
customer waiting in a lower-priority journey of a ``preempt`` group is stopped when a
higher-priority journey of the group takes them in; the run row ends ``stopped`` with the
reason naming the newcomer, as the workflow recorded it (the stop signal's path)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from db import crud
from db.models import Customer, JourneyCreate, JourneyVersion
from db.session import writer
from engine.compiler import compile_document
from services import priority_groups as groups
from services.enrollment import enter
from settings import Settings
from workflows import JourneyWorkflow


def _publish(s: Session, name: str) -> JourneyVersion:
    journey = crud.create_journey(session=s, journey_create=JourneyCreate(name=name), by="hq")
    doc = {
        "name": name,
        "nodes": [
            {
                "id": "entry",
                "kind": "entry",
                "config": {"trigger": {"type": "manual"}, "reentry": {"policy": "after_exit"}},
            },
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 7, "unit": "days"}}
                },
            },
            {"id": "done", "kind": "exit"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "source_port": "next", "target": "w"},
            {"id": "e2", "source": "w", "source_port": "next", "target": "done"},
        ],
    }
    result = compile_document(doc, journey_id=journey.id, version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    version = crud.publish_version(
        session=s,
        journey_id=journey.id,
        document=doc,
        compiled=result.journey.to_dict(),
        content_hash=result.journey.content_hash,
        by="hq",
    )
    s.refresh(version)
    s.expunge(version)
    return version


async def _waiting(env: WorkflowEnvironment, workflow_id: str) -> None:
    """Wait on the run's state until it waits durably (its timer is set)."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(250):
        with contextlib.suppress(RPCError):
            state = await handle.query(JourneyWorkflow.state)
            if state.waiting is not None:
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow_id} never reached its wait")


async def test_a_higher_priority_journey_stops_the_lower_one(
    env: WorkflowEnvironment, engine: Engine, db_url: str
) -> None:
    settings = Settings(database_url=db_url, task_queue=f"groups-{uuid.uuid4()}")
    with Session(writer(engine)) as s:
        s.add(Customer(id="C1", name="李女士"))
        s.commit()
        high, low = _publish(s, "VIP 复购"), _publish(s, "新品推荐")
        group = groups.create_group(session=s, name="营销", policy="preempt", by="hq")
        assert group.id is not None
        for version, priority in ((high, 1), (low, 2)):
            groups.set_journey_group(
                session=s,
                journey_id=version.journey_id,
                group_id=group.id,
                priority=priority,
                by="hq",
            )
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(JourneyActivities.from_engine(engine, settings)),
    ):
        with Session(writer(engine)) as session:
            first = await enter(
                session=session,
                client=env.client,
                task_queue=settings.task_queue,
                version=low,
                customer_id="C1",
            )
            assert first.started, first
            await _waiting(env, first.workflow_id)
            second = await enter(
                session=session,
                client=env.client,
                task_queue=settings.task_queue,
                version=high,
                customer_id="C1",
            )
            assert second.started, second
            result = await env.client.get_workflow_handle(first.workflow_id).result()
            assert result["status"] == "stopped"
            # a third, lower journey of the group is refused while the high one holds the seat
            again = await enter(
                session=session,
                client=env.client,
                task_queue=settings.task_queue,
                version=low,
                customer_id="C1",
            )
            assert not again.started and "priority 1, this one 2" in again.reason
        with Session(engine) as s:
            stopped = crud.get_latest_run(session=s, workflow_id=first.workflow_id)
            running = crud.get_running_run(session=s, workflow_id=second.workflow_id)
        assert stopped is not None and stopped.status == "stopped"
        assert stopped.exit_reason is not None
        assert "preempted by journey 'VIP 复购'" in stopped.exit_reason
        assert "priority group 营销" in stopped.exit_reason
        assert running is not None
        await env.client.get_workflow_handle(second.workflow_id).terminate("test over")

"""Archiving a paused journey stops the customers the pause holds (time-skipping server)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from db import crud, writer
from db.models import JourneyCreate
from db.seed import seed_demo
from services.journeys import (
    ARCHIVE_REASON,
    archive_journey,
    enroll_customers,
    publish,
    set_paused,
)
from services.temporal import TemporalGateway
from settings import Settings
from tests.audiences.harness import journey_worker
from workflows.runtime import JourneyResult


def _waiting_journey() -> dict[str, object]:
    """entry → wait 3 days → exit."""
    return {
        "name": f"archive {uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
            {
                "id": "w",
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}
                },
            },
            {"id": "done", "kind": "exit"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "target": "w"},
            {"id": "e2", "source": "w", "target": "done"},
        ],
    }


async def test_archiving_a_paused_journey_stops_its_customers(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    seed_demo(session_or_engine=engine, customers=10)
    with Session(engine, expire_on_commit=False) as session:
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name="archive", draft_document=_waiting_journey()),
            by="test",
        )
        assert publish(session=session, journey_id=journey.id, by="test").ok
        customers = [c.id for c in crud.search_customers(session=session, query="", limit=2)]

    async with journey_worker(env.client, engine) as queue:
        gateway = TemporalGateway(Settings(task_queue=queue), env.client)
        with Session(writer(engine), expire_on_commit=False) as session:
            entered = await enroll_customers(
                session=session, temporal=gateway, journey_id=journey.id, customer_ids=customers
            )
            assert entered.started == 2, entered.to_dict()
            await set_paused(
                session=session, temporal=gateway, journey_id=journey.id, paused=True, by="test"
            )
            # past the wait: the pause holds them before the exit
            await env.sleep(timedelta(days=4))
            runs = [r.workflow_id for r in crud.list_runs(session=session, journey_id=journey.id)]
            stopped = await archive_journey(
                session=session, temporal=gateway, journey_id=journey.id, by="test"
            )
        assert stopped == 2
        results = [
            await env.client.get_workflow_handle(wid, result_type=JourneyResult).result()
            for wid in runs
        ]
    assert [(r.status, r.exit_reason) for r in results] == [("stopped", ARCHIVE_REASON)] * 2
    with Session(engine) as session:
        journey_now = crud.get_journey(session=session, journey_id=journey.id)
        assert journey_now is not None and journey_now.status == "archived"
        assert {r.status for r in crud.list_runs(session=session, journey_id=journey.id)} == {
            "stopped"
        }

"""A run Temporal still runs although the database recorded its end is still reached by
pause and archive (asked of Temporal's visibility: a real dev server, not the
time-skipping one, which has none)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from db import crud, writer
from db.models import Journey, JourneyCreate, utcnow
from db.seed import seed_demo
from services.journeys import ARCHIVE_REASON, archive_journey, enroll_customers, publish, set_paused
from services.reconcile import close_ended_runs
from services.temporal import TemporalGateway
from settings import Settings
from tests.audiences.harness import journey_worker
from tests.runs.test_archive import _waiting_journey
from tests.temporal_env import binary
from workflows.runtime import JourneyResult, workflow_id_for


@pytest.fixture
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        dev_server_extra_args=["--headless", "--log-level", "error"],
    )
    async with env:
        yield env


async def _recorded_at(engine: Engine, workflow_id: str, node_id: str) -> None:
    """Wait on the database (not the clock) until the run's row says it is at ``node_id``."""
    for _ in range(500):
        with Session(engine) as session:
            row = crud.get_latest_run(session=session, workflow_id=workflow_id)
        if row is not None and row.current_node == node_id:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow_id} never reported {node_id}")


async def _visible_as_closed(env: WorkflowEnvironment, workflow_id: str) -> None:
    """Visibility is eventually consistent: wait on it (not the clock) until it lists the
    closed workflow, as the reconciler's next pass would."""
    query = f"WorkflowId = '{workflow_id}' AND ExecutionStatus != 'Running'"
    for _ in range(500):
        if (await env.client.count_workflows(query)).count:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"visibility never listed {workflow_id} as closed")


def _live_waiting_journey(engine: Engine, *, customers: int) -> tuple[Journey, list[str]]:
    """A demo shop with the archive tests' entry → wait 3 days → exit journey live, and
    the ids of ``customers`` of its customers."""
    seed_demo(session_or_engine=engine, customers=10)
    with Session(engine, expire_on_commit=False) as session:
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name="orphans", draft_document=_waiting_journey()),
            by="test",
        )
        assert publish(session=session, journey_id=journey.id, by="test").ok
        found = crud.search_customers(session=session, query="", limit=customers)
    return journey, [c.id for c in found]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_pause_and_archive_reach_runs_the_database_calls_ended(
    dev_server: WorkflowEnvironment, engine: Engine
) -> None:
    journey, customers = _live_waiting_journey(engine, customers=2)

    client = dev_server.client
    async with journey_worker(client, engine) as queue:
        gateway = TemporalGateway(Settings(task_queue=queue), client)
        with Session(writer(engine), expire_on_commit=False) as session:
            entered = await enroll_customers(
                session=session, temporal=gateway, journey_id=journey.id, customer_ids=customers
            )
            assert entered.started == 2, entered.to_dict()
            runs = [r.workflow_id for r in crud.list_runs(session=session, journey_id=journey.id)]
            # the database lost track of one of them (its exit was recorded by a first
            # workflow task that then timed out and took another path on retry)
            crud.mark_run(
                session=session, workflow_id=runs[0], status="exited", exit_reason="orphaned"
            )
            told = await set_paused(
                session=session, temporal=gateway, journey_id=journey.id, paused=True, by="test"
            )
            assert told == 2
            stopped = await archive_journey(
                session=session, temporal=gateway, journey_id=journey.id, by="test"
            )
        assert stopped == 2
        results = [
            await client.get_workflow_handle(wid, result_type=JourneyResult).result()
            for wid in runs
        ]
    assert [(r.status, r.exit_reason) for r in results] == [("stopped", ARCHIVE_REASON)] * 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_run_that_ended_without_saying_so_is_closed_like_its_workflow(
    dev_server: WorkflowEnvironment, engine: Engine
) -> None:
    journey, (customer,) = _live_waiting_journey(engine, customers=1)

    client = dev_server.client
    since = utcnow() - timedelta(minutes=5)
    async with journey_worker(client, engine) as queue:
        gateway = TemporalGateway(Settings(task_queue=queue), client)
        with Session(writer(engine), expire_on_commit=False) as session:
            entered = await enroll_customers(
                session=session, temporal=gateway, journey_id=journey.id, customer_ids=[customer]
            )
        assert entered.started == 1
        wid = workflow_id_for(journey.id, customer)
        await _recorded_at(engine, wid, "w")  # its report of the wait is in
        # the workflow goes away without its run reporting the end
        await client.get_workflow_handle(wid).terminate("operator cleanup in the Temporal UI")
        await _visible_as_closed(dev_server, wid)
        closed, newest = await close_ended_runs(engine=engine, client=client, since=since)
    assert closed == 1 and newest > since
    with Session(engine) as session:
        row = crud.get_latest_run(session=session, workflow_id=wid)
    assert row is not None and row.status == "stopped"
    assert row.exit_reason == "the workflow was terminated"
    again, _ = await close_ended_runs(engine=engine, client=client, since=since)
    assert again == 0

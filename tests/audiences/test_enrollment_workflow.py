"""The enrollment workflow on the time-skipping server with the real activities and DB:
every customer entered once, also when pages crash half-way and the worker restarts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.enrollment import EnrollmentActivities
from db import crud, writer
from db.seed import seed_demo
from services.journeys import archive_journey
from services.temporal import TemporalGateway
from settings import Settings
from tests.audiences.harness import (
    audience,
    enrollment_worker,
    finished,
    journey_worker,
    live_segment_journey,
    pass_worker,
    runs_ended,
    runs_per_customer,
    start_enrollment,
)
from workflows.enrollment import SegmentEnrollmentWorkflow


@pytest.fixture
def shop(engine: Engine) -> Engine:
    seed_demo(session_or_engine=engine, customers=40)
    return engine


class CrashingEnrollment(EnrollmentActivities):
    """Dies once half-way through starting a page's workflows, and once after starting a
    whole page but before recording it: what a worker killed mid-page leaves behind."""

    crashes: list[str] = []

    async def _start_all(self, req, version, journey, rows, now):
        if "mid-start" not in self.crashes and req.after and len(rows) > 2:
            self.crashes.append("mid-start")
            await super()._start_all(req, version, journey, rows[: len(rows) // 2], now)
            raise RuntimeError("worker killed while starting workflows")
        return await super()._start_all(req, version, journey, rows, now)

    def _record(self, started, failed):
        if "before-record" not in self.crashes and len(self.crashes) == 1 and started:
            self.crashes.append("before-record")
            raise RuntimeError("worker killed before recording the page")
        super()._record(started, failed)


async def test_restart_mid_enrollment_enters_everyone_exactly_once(
    env: WorkflowEnvironment, shop: Engine
) -> None:
    journey_id = live_segment_journey(shop)
    expected = audience(shop)
    assert len(expected) > 20
    CrashingEnrollment.crashes = []
    async with journey_worker(env.client, shop) as queue:
        async with pass_worker(env.client, shop, queue, CrashingEnrollment, sticky=False):
            handle = await start_enrollment(
                env.client, queue, journey_id, page_size=6, pages_per_run=2, concurrency=4
            )
            # let a few pages go through, then kill the worker and bring up a fresh one
            for _ in range(200):
                try:
                    progress = await handle.query(SegmentEnrollmentWorkflow.progress)
                except RPCError:  # a query can time out on a loaded machine: ask again
                    continue
                if progress.entered >= 12:
                    break
                await env.sleep(timedelta(seconds=1))
        async with pass_worker(env.client, shop, queue, CrashingEnrollment, sticky=False):
            result = await finished(env, handle)
        await runs_ended(env, shop, journey_id)
    assert CrashingEnrollment.crashes == ["mid-start", "before-record"]
    assert result.status == "completed"
    assert (result.entered, result.skipped, result.total) == (len(expected), 0, len(expected))
    runs = runs_per_customer(shop, journey_id)
    assert set(runs) == expected
    assert set(runs.values()) == {1}, "a customer entered twice"
    with Session(shop) as session:
        row = crud.get_enrollment(session=session, enrollment_id=result.enrollment_id)
        assert row is not None and (row.status, row.entered) == ("completed", len(expected))


async def test_second_pass_respects_never_and_limits(
    env: WorkflowEnvironment, shop: Engine
) -> None:
    journey_id = live_segment_journey(shop)
    expected = audience(shop)
    with Session(shop) as session:
        crud.set_entry_limits(
            session=session, journey_id=journey_id, max_per_run=10, max_per_hour=4
        )
    async with enrollment_worker(env.client, shop) as (queue, _):
        first = await (await start_enrollment(env.client, queue, journey_id, page_size=5)).result()
        # 4 per hour → three hour windows (durable timers, skipped in time) for 10 entries
        assert (first.status, first.entered) == ("limit_reached", 10)
        with Session(writer(shop)) as session:  # the worker may still be recording runs
            crud.set_entry_limits(
                session=session, journey_id=journey_id, max_per_run=None, max_per_hour=None
            )
        second = await (await start_enrollment(env.client, queue, journey_id)).result()
    assert second.entered == len(expected) - 10
    assert second.skipped == 10  # re-entry "never": the first ten are not entered again
    assert set(runs_per_customer(shop, journey_id).values()) == {1}


async def test_archiving_the_journey_cancels_its_running_pass(
    env: WorkflowEnvironment, shop: Engine
) -> None:
    journey_id = live_segment_journey(shop)
    with Session(shop) as session:
        crud.set_entry_limits(
            session=session, journey_id=journey_id, max_per_run=None, max_per_hour=4
        )
    async with enrollment_worker(env.client, shop) as (queue, _):
        handle = await start_enrollment(env.client, queue, journey_id, page_size=5)
        # wait for the state "the first hour's four are in (the page is recorded), the pass
        # sleeps to the next hour": read from the database, no query on a busy worker
        rows: list[Any] = []
        for _ in range(3000):
            with Session(shop) as session:
                rows = crud.list_enrollments(session=session, journey_id=journey_id)
            if rows and rows[0].entered == 4:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail(f"the pass never recorded its first four: {rows}")
        gateway = TemporalGateway(Settings(task_queue=queue), env.client)
        with Session(writer(shop)) as session:
            # paused in the database only: under load a pause signal can reach a run whose
            # first workflow task timed out after its exit was recorded; the retried task then
            # holds the run, which the database already calls exited (a known gap)
            crud.set_status(session=session, journey_id=journey_id, status="paused", by="test")
            await archive_journey(
                session=session, temporal=gateway, journey_id=journey_id, by="test"
            )
        await env.sleep(timedelta(hours=1))  # to the end of the hour's durable timer
        result = await finished(env, handle)
        await runs_ended(env, shop, journey_id)
    assert (result.status, result.entered) == ("cancelled", 4), result
    with Session(shop) as session:
        row = crud.get_enrollment(session=session, enrollment_id=result.enrollment_id)
        assert row is not None and row.status == "cancelled"


async def test_paused_journey_waits_for_resume(env: WorkflowEnvironment, shop: Engine) -> None:
    journey_id = live_segment_journey(shop)
    with Session(shop) as session:
        crud.set_status(session=session, journey_id=journey_id, status="paused", by="test")
    async with enrollment_worker(env.client, shop) as (queue, _):
        # prepare refuses a journey that is not live
        skipped = await (await start_enrollment(env.client, queue, journey_id)).result()
        assert skipped.status == "skipped" and "paused" in skipped.reason

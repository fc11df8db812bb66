"""Segment entry of journeys: recurring passes with time skipping (cooldown respected), and
the Temporal Schedule itself on a real dev server (the time-skipping server has no
Schedules): created at publish, updated, paused with the journey, and its tick enrolls."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import ScheduleActionStartWorkflow, ScheduleOverlapPolicy
from temporalio.testing import WorkflowEnvironment

from db import crud
from db.seed import seed_demo
from engine.ir import SegmentEntry
from services import schedules
from services.journeys import publish_journey, set_paused
from services.temporal import TemporalGateway
from settings import Settings
from tests.audiences.harness import (
    audience,
    enrollment_worker,
    live_segment_journey,
    runs_per_customer,
    segment_journey,
)
from tests.temporal_env import binary
from workflows.enrollment import SegmentEnrollmentWorkflow


@pytest.fixture
def shop(engine: Engine) -> Engine:
    seed_demo(session_or_engine=engine, customers=30)
    return engine


async def _tick(env: Any, queue: str, journey_id: str) -> Any:
    """What one schedule tick runs: the schedule's own action, started by hand."""
    schedule = schedules.build_schedule(
        journey_id=journey_id,
        trigger=SegmentEntry("any", "daily", "09:00"),
        timezone="Asia/Shanghai",
        task_queue=Settings(task_queue=queue).enrollment_queue,
        paused=False,
    )
    action = schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    handle = await env.client.start_workflow(
        SegmentEnrollmentWorkflow.run,
        action.args[0],
        id=f"{action.id}-{uuid.uuid4().hex[:6]}",
        task_queue=action.task_queue,
    )
    return await handle.result()


async def test_recurring_entry_respects_the_cooldown(
    env: WorkflowEnvironment, shop: Engine
) -> None:
    journey_id = live_segment_journey(
        shop, schedule="daily", reentry={"policy": "cooldown", "cooldown_days": 3}, wait_days=1
    )
    everyone = audience(shop)
    async with enrollment_worker(env.client, shop) as (queue, _):
        first = await _tick(env, queue, journey_id)
        assert (first.entered, first.skipped) == (len(everyone), 0)
        await env.sleep(timedelta(days=2))  # the journey took a day; cooldown runs to day 4
        second = await _tick(env, queue, journey_id)
        assert (second.entered, second.skipped) == (0, len(everyone))
        await env.sleep(timedelta(days=3))  # day 5: cooldown over
        third = await _tick(env, queue, journey_id)
        assert (third.entered, third.skipped) == (len(everyone), 0)
        # let the runs finish here: a timer left on a queue without a worker would stop
        # the session-wide time-skipping server from skipping for later tests
        await env.sleep(timedelta(days=2))
    assert set(runs_per_customer(shop, journey_id).values()) == {2}


# --------------------------------------------------------------------------- dev server


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=binary("temporal"),
        dev_server_extra_args=["--headless", "--log-level", "error"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_schedule_created_paused_and_ticking_on_a_dev_server(
    dev_server: WorkflowEnvironment, shop: Engine
) -> None:
    client = dev_server.client
    with Session(shop, expire_on_commit=False) as session:
        segment_id = f"seg_{uuid.uuid4().hex[:6]}"
        crud.create_segment(
            session=session,
            segment_create=crud_segment(segment_id),
        )
        doc = segment_journey(segment_id, schedule="weekly")
        doc["nodes"][0]["config"]["trigger"].update(at_time="10:30", weekday=0)
        journey = crud.create_journey(
            session=session, journey_create=journey_create(doc), by="test"
        )
        async with enrollment_worker(client, shop) as (queue, _):
            gateway = TemporalGateway(Settings(task_queue=queue), client)
            outcome = await publish_journey(
                session=session, temporal=gateway, journey_id=journey.id, by="test"
            )
            assert outcome.ok, [d.message for d in outcome.diagnostics]
            handle = client.get_schedule_handle(schedules.schedule_id_for(journey.id))
            desc = await handle.describe()
            calendar = desc.schedule.spec.calendars[0]
            assert (calendar.hour[0].start, calendar.minute[0].start) == (10, 30)
            assert calendar.day_of_week[0].start == 1  # Monday (Temporal counts from Sunday)
            assert desc.schedule.spec.time_zone_name == "Asia/Shanghai"
            assert desc.schedule.policy.overlap is ScheduleOverlapPolicy.SKIP
            action = desc.schedule.action
            assert isinstance(action, ScheduleActionStartWorkflow)
            assert action.workflow == "SegmentEnrollmentWorkflow"

            await set_paused(
                session=session, temporal=gateway, journey_id=journey.id, paused=True, by="test"
            )
            assert (await handle.describe()).schedule.state.paused
            await set_paused(
                session=session, temporal=gateway, journey_id=journey.id, paused=False, by="test"
            )
            assert not (await handle.describe()).schedule.state.paused

            await handle.trigger()
            for _ in range(100):
                with Session(shop) as fresh:
                    enrollments = crud.list_enrollments(session=fresh, journey_id=journey.id)
                if enrollments and enrollments[0].status == "completed":
                    break
                await dev_server.sleep(0.2)
            else:
                pytest.fail("the scheduled enrollment did not complete")
            assert enrollments[0].trigger == "schedule"
            assert enrollments[0].entered == len(audience(shop))
            await handle.delete()


def crud_segment(segment_id: str) -> Any:
    from db.models import SegmentCreate
    from tests.audiences.harness import EVERYONE_WHO_BOUGHT

    return SegmentCreate(id=segment_id, name="weekly", definition=EVERYONE_WHO_BOUGHT)


def journey_create(doc: dict[str, Any]) -> Any:
    from db.models import JourneyCreate

    return JourneyCreate(name=doc["name"], draft_document=doc)


# --------------------------------------------------------------------------- queues


def test_enrollment_pages_have_their_own_queue_unless_configured_empty() -> None:
    from journeys.worker import build_enrollment_worker

    assert Settings().enrollment_queue == "journeys-enrollment"
    assert Settings(task_queue="shop-a").enrollment_queue == "shop-a-enrollment"
    assert Settings(enrollment_task_queue="bulk").enrollment_queue == "bulk"
    single = Settings(enrollment_task_queue="")
    assert single.enrollment_queue == single.task_queue
    with pytest.raises(ValueError, match="journey worker serves it"):
        build_enrollment_worker(None, single)  # type: ignore[arg-type]

"""The demo chain gives every built-in segment a real audience; the templates that enter by
segment (沉睡唤醒 and 生日关怀 by default, 潜客激活 and 新客二回 with their segment entry)
publish and find theirs, and an enrollment pass enters exactly that audience."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from audiences.builtin import BUILTIN, prepare_demo
from db import crud, writer
from db.models import JourneyCreate
from db.seed import seed_demo
from services import segments
from services.journeys import publish
from templates_lib import instantiate
from tests.audiences.harness import (
    audience,
    enrollment_worker,
    runs_per_customer,
    start_enrollment,
)
from tests.temporal_env import binary


def test_demo_data_fills_every_builtin_segment(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=3000)
    assert prepare_demo(session=session) == {"metrics_rows": 3000, "segments_created": len(BUILTIN)}
    sizes = {}
    for builtin in BUILTIN:
        segment = crud.get_segment(session=session, segment_id=builtin.id)
        assert segment is not None
        sizes[builtin.id] = segments.preview(session=session, definition=segment.definition).count
    assert all(n > 0 for n in sizes.values()), sizes
    assert sizes["dormant_60d"] > sizes["dormant_90d"] > sizes["dormant_180d"]
    assert prepare_demo(session=session)["segments_created"] == 0  # idempotent


#: (template, its parameters for a segment entry, the segment it then enters from)
SEGMENT_TEMPLATES: tuple[tuple[str, dict[str, Any], str], ...] = (
    ("lead_activation", {"entry_event": "segment"}, "browsed_no_purchase_14d"),
    ("second_purchase", {"entry": "segment"}, "new_buyers_7d"),
    ("dormant_wakeup", {}, "dormant_90d"),
    ("birthday_care", {}, "birthday_this_month"),
)


def published_template(session: Session, template_id: str, params: dict[str, Any]) -> str:
    """Instantiate a built-in template, save it and publish it; → the journey id."""
    document = instantiate(template_id, params)
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name=document["name"], draft_document=document),
        by="test",
    )
    assert publish(session=session, journey_id=journey.id, by="test").ok
    return journey.id


def test_segment_templates_publish_with_their_audience(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=1500)
    prepare_demo(session=session)
    for template_id, params, segment_id in SEGMENT_TEMPLATES:
        journey_id = published_template(session, template_id, params)
        used = segments.where_used(session=session, segment_id=segment_id)
        assert journey_id in {u.journey_id for u in used}
        segment = crud.get_segment(session=session, segment_id=segment_id)
        assert segment is not None
        assert segments.preview(session=session, definition=segment.definition).count > 0


def test_template_with_other_dormant_days_gets_its_segment(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=300)
    assert crud.get_segment(session=session, segment_id="dormant_120d") is None
    published_template(session, "dormant_wakeup", {"dormant_days": 120})
    made = crud.get_segment(session=session, segment_id="dormant_120d")
    assert made is not None and made.definition["rules"][0]["value"] == 120


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_the_three_named_templates_take_their_demo_audience_by_segment(
    engine: Engine,
) -> None:
    # a test server of its own: the hundreds of weeks-long runs this test starts (and
    # terminates) must not slow or stall the session-wide server's time skipping
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server")
    )
    async with env:
        await _named_templates_take_their_audience(env, engine)


async def _named_templates_take_their_audience(env: WorkflowEnvironment, engine: Engine) -> None:
    now = await env.get_current_time()
    seed_demo(session_or_engine=engine, customers=1500, now=now)
    with Session(engine, expire_on_commit=False) as session:
        prepare_demo(session=session, now=now)
    async with enrollment_worker(env.client, engine) as (queue, _):
        for template_id, params, segment_id in SEGMENT_TEMPLATES[:3]:
            # a write session: the worker is recording the previous template's runs
            with Session(writer(engine), expire_on_commit=False) as session:
                journey_id = published_template(session, template_id, params)
                segment = crud.get_segment(session=session, segment_id=segment_id)
                assert segment is not None
            expected = audience(engine, segment.definition, now=await env.get_current_time())
            assert expected, f"the demo chain has no {segment_id} audience"
            result = await (await start_enrollment(env.client, queue, journey_id)).result()
            assert (result.status, result.entered, result.skipped) == (
                "completed",
                len(expected),
                0,
            )
            assert set(runs_per_customer(engine, journey_id)) == expected
            await _stop_runs(env, engine, journey_id)


async def _stop_runs(env: WorkflowEnvironment, engine: Engine, journey_id: str) -> None:
    """End the weeks-long runs here: their timers would outlive this test's worker."""
    with Session(engine) as session:
        rows = crud.list_runs(session=session, journey_id=journey_id, limit=10_000)
    for row in rows:
        await env.client.get_workflow_handle(row.workflow_id).terminate("test over")

"""Campaign start and end dates (issue 17 item 4): the entry window every entry path checks,
and the Temporal schedules that follow it — a daily / weekly segment entry bounded by the
dates, a one-shot ``campaign-open-…`` schedule for a once-only entry that starts later,
removed when it is no longer needed (a stand-in client records what would be asked of
Temporal; tests/audiences covers a real schedule on a dev server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlmodel import Session
from temporalio.client import Schedule, ScheduleAlreadyRunningError, ScheduleUpdate
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.crud.journeys import entry_window_closed
from db.models import Journey, JourneyCreate, SegmentCreate
from engine.compiler import compile_document
from engine.ir import CompiledJourney
from services import campaign, schedules, segments
from services.enrollment import _claim_entry
from tests.audiences.harness import segment_journey
from tests.canvas_ui.harness import linear_document

NOW = datetime.now(UTC)


class FakeTemporal:
    """The few client calls the schedules make, recorded."""

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}
        self.started: list[str] = []
        self.enrollment_queue = "enroll"

    async def client(self) -> FakeTemporal:
        return self

    async def create_schedule(self, schedule_id: str, schedule: Schedule) -> None:
        if schedule_id in self.schedules:
            raise ScheduleAlreadyRunningError()
        self.schedules[schedule_id] = schedule

    def get_schedule_handle(self, schedule_id: str) -> _Handle:
        return _Handle(self, schedule_id)

    async def start_workflow(self, *args: Any, id: str, **kwargs: Any) -> None:
        self.started.append(id)


class _Handle:
    def __init__(self, fake: FakeTemporal, schedule_id: str) -> None:
        self.fake, self.schedule_id = fake, schedule_id

    async def update(self, updater: Any) -> None:
        update: ScheduleUpdate = updater(None)
        self.fake.schedules[self.schedule_id] = update.schedule

    async def delete(self) -> None:
        if self.schedule_id not in self.fake.schedules:
            raise RPCError("not found", RPCStatusCode.NOT_FOUND, b"")
        del self.fake.schedules[self.schedule_id]


def _compiled(schedule: str, journey_id: str = "j1") -> CompiledJourney:
    result = compile_document(
        segment_journey("seg1", schedule=schedule), journey_id=journey_id, segments={"seg1"}
    )
    assert result.journey is not None, result.diagnostics
    return result.journey


def test_the_window_keeps_customers_out_before_and_after() -> None:
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=8)
    journey = Journey(id="j", name="j", starts_at=start, ends_at=end)
    assert "starts" in (entry_window_closed(journey, NOW) or "")
    assert entry_window_closed(journey, start) is None
    assert entry_window_closed(journey, end - timedelta(seconds=1)) is None
    assert "ended" in (entry_window_closed(journey, end) or "")
    assert entry_window_closed(Journey(id="k", name="k"), NOW) is None


def test_dates_are_checked() -> None:
    with pytest.raises(campaign.CampaignInputError) as err:
        campaign.check(NOW, NOW - timedelta(hours=1))
    assert err.value.field == "ends_at"
    with pytest.raises(campaign.CampaignInputError) as err:
        campaign.check(NOW, NOW)
    assert err.value.field == "ends_at"
    with pytest.raises(campaign.CampaignInputError) as err:
        campaign.check(datetime(2026, 12, 1), None)
    assert err.value.field == "starts_at"
    campaign.check(None, NOW)  # open start, fixed end


async def test_a_recurring_entry_ticks_only_within_the_window() -> None:
    fake = FakeTemporal()
    start, end = NOW + timedelta(days=1), NOW + timedelta(days=8)
    ids = await segments.schedule_entry(
        fake,  # type: ignore[arg-type]
        journey=_compiled("daily"),
        version=1,
        window=(start, end),
        task_queue="enroll",
        start_once=True,
    )
    assert ids == [schedules.schedule_id_for("j1")]
    spec = fake.schedules[ids[0]].spec
    assert spec.start_at == start and spec.end_at == end
    assert fake.started == []
    # the dates removed: the same schedule, unbounded
    await segments.schedule_entry(
        fake,  # type: ignore[arg-type]
        journey=_compiled("daily"),
        version=1,
        window=(None, None),
        task_queue="enroll",
        start_once=False,
    )
    spec = fake.schedules[ids[0]].spec
    assert spec.start_at is None and spec.end_at is None


async def test_a_once_entry_opens_at_the_start_then_the_schedule_goes() -> None:
    fake = FakeTemporal()
    start = NOW + timedelta(days=2)
    ids = await segments.schedule_entry(
        fake,  # type: ignore[arg-type]
        journey=_compiled("once"),
        version=1,
        window=(start, None),
        task_queue="enroll",
        start_once=True,
    )
    assert ids == ["campaign-open-j1"] and fake.started == []  # not at publish
    opening = fake.schedules["campaign-open-j1"]
    [calendar] = opening.spec.calendars
    assert [r.start for r in calendar.day_of_month] == [start.day]
    assert [r.start for r in calendar.hour] == [start.hour]
    assert opening.state.limited_actions and opening.state.remaining_actions == 1
    # the start moved to the past: the schedule is removed, and at publish it starts now
    ids = await segments.schedule_entry(
        fake,  # type: ignore[arg-type]
        journey=_compiled("once"),
        version=1,
        window=(NOW - timedelta(hours=1), None),
        task_queue="enroll",
        start_once=True,
    )
    assert ids == [] and fake.schedules == {} and len(fake.started) == 1
    # a campaign that has ended starts nobody
    await segments.schedule_entry(
        fake,  # type: ignore[arg-type]
        journey=_compiled("once"),
        version=1,
        window=(None, NOW - timedelta(minutes=1)),
        task_queue="enroll",
        start_once=True,
    )
    assert len(fake.started) == 1


async def test_changing_a_live_journeys_dates_reshapes_its_schedules(
    canvas_app: FastAPI,
) -> None:
    engine = canvas_app.state.engine
    with Session(engine, expire_on_commit=False) as session:
        crud.create_segment(
            session=session,
            segment_create=SegmentCreate(
                id="seg1",
                name="seg",
                definition={"rules": [{"type": "field", "field": "r_days", "op": "exists"}]},
            ),
        )
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(
                name="x", draft_document=segment_journey("seg1", schedule="once")
            ),
            by="hq",
        )
        compiled = compile_document(
            journey.draft_document, journey_id=journey.id, version=1, segments={"seg1"}
        )
        assert compiled.journey is not None and compiled.document is not None
        crud.publish_version(
            session=session,
            journey_id=journey.id,
            document=compiled.document.model_dump(mode="json"),
            compiled=compiled.journey.to_dict(),
            content_hash=compiled.journey.content_hash,
            by="hq",
        )
    fake = FakeTemporal()
    with Session(engine, expire_on_commit=False) as session:
        outcome = await campaign.set_campaign(
            session=session,
            temporal=fake,  # type: ignore[arg-type]
            journey_id=journey.id,
            starts_at=NOW + timedelta(days=3),
            ends_at=NOW + timedelta(days=10),
            by="hq",
        )
    assert outcome.schedules == [f"campaign-open-{journey.id}"] and not outcome.warning
    with Session(engine, expire_on_commit=False) as session:
        outcome = await campaign.set_campaign(
            session=session,
            temporal=fake,  # type: ignore[arg-type]
            journey_id=journey.id,
            starts_at=None,
            ends_at=None,
            by="hq",
        )
    # open again: the opening schedule is gone, and a once-only entry is not re-run
    assert outcome.schedules == [] and fake.schedules == {} and fake.started == []
    with Session(engine) as session, pytest.raises(campaign.CampaignInputError):
        await campaign.set_campaign(
            session=session,
            temporal=fake,  # type: ignore[arg-type]
            journey_id=journey.id,
            starts_at=NOW,
            ends_at=NOW - timedelta(days=1),
            by="hq",
        )


def test_an_entry_outside_the_window_is_refused(canvas_app: FastAPI) -> None:
    engine = canvas_app.state.engine
    doc = linear_document()
    with Session(engine, expire_on_commit=False) as session:
        journey = crud.create_journey(
            session=session, journey_create=JourneyCreate(name="x", draft_document=doc), by="hq"
        )
        compiled = compile_document(
            doc, journey_id=journey.id, version=1, coupon_templates={"NEW20"}
        )
        assert compiled.journey is not None and compiled.document is not None
        version = crud.publish_version(
            session=session,
            journey_id=journey.id,
            document=compiled.document.model_dump(mode="json"),
            compiled=compiled.journey.to_dict(),
            content_hash=compiled.journey.content_hash,
            by="hq",
        )
        crud.journeys.set_campaign_dates(
            session=session,
            journey_id=journey.id,
            starts_at=NOW - timedelta(days=9),
            ends_at=NOW - timedelta(days=1),
            by="hq",
        )
        refused = _claim_entry(session, version, "C1", NOW, None)
        assert isinstance(refused, str) and refused.startswith("campaign ended")
        assert crud.list_runs(session=session, journey_id=journey.id) == []

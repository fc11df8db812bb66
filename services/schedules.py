"""Recurring segment entry as Temporal Schedules (visible and editable in the Temporal UI).

A journey whose entry is a segment with ``schedule: daily | weekly`` gets one schedule,
``segment-entry-<journey id>``, created or updated at publish, paused and unpaused with the
journey, deleted when a later version no longer enters by schedule. Each tick starts a
:class:`~workflows.enrollment.SegmentEnrollmentWorkflow` for the live version; overlapping
ticks are skipped, so a slow pass is never doubled. ``once`` entries start one enrollment
at publish (see :mod:`services.segments`).
"""

from __future__ import annotations

from datetime import UTC, datetime

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.service import RPCError, RPCStatusCode

from engine.ir import SegmentEntry
from workflows.enrollment import EnrollmentInput, SegmentEnrollmentWorkflow

DEFAULT_WEEKDAY = 0  # Monday, as Python counts (SegmentTrigger.weekday)


def schedule_id_for(journey_id: str) -> str:
    """The one schedule of a journey."""
    return f"segment-entry-{journey_id}"


def enrollment_workflow_id(journey_id: str) -> str:
    """Base id of scheduled enrollment runs (Temporal appends the tick's timestamp)."""
    return f"segment-entry-{journey_id}"


def schedule_spec(
    trigger: SegmentEntry,
    timezone: str,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> ScheduleSpec:
    """Calendar of a daily / weekly segment entry at ``at_time`` in the journey's zone,
    ticking only within the campaign's window (``start_at`` / ``end_at``, when set).

    ``weekday`` counts like Python (0 = Monday); Temporal counts 0 = Sunday.
    """
    hour, minute = (int(x) for x in trigger.at_time.split(":"))
    calendar = ScheduleCalendarSpec(
        hour=[ScheduleRange(hour)],
        minute=[ScheduleRange(minute)],
        second=[ScheduleRange(0)],
        comment=f"segment {trigger.segment_id} {trigger.schedule} {trigger.at_time}",
    )
    if trigger.schedule == "weekly":
        weekday = DEFAULT_WEEKDAY if trigger.weekday is None else trigger.weekday
        calendar = ScheduleCalendarSpec(
            hour=calendar.hour,
            minute=calendar.minute,
            second=calendar.second,
            day_of_week=[ScheduleRange((weekday + 1) % 7)],
            comment=calendar.comment,
        )
    return ScheduleSpec(
        calendars=[calendar], time_zone_name=timezone, start_at=start_at, end_at=end_at
    )


def build_schedule(
    *,
    journey_id: str,
    trigger: SegmentEntry,
    timezone: str,
    task_queue: str,
    paused: bool,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> Schedule:
    """The schedule of ``journey_id``: enroll the segment's audience into the live version
    (within the campaign's window)."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentEnrollmentWorkflow.run,
            EnrollmentInput(journey_id=journey_id, version=None, trigger="schedule"),
            id=enrollment_workflow_id(journey_id),
            task_queue=task_queue,
        ),
        spec=schedule_spec(trigger, timezone, start_at, end_at),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            paused=paused,
            note=f"segment entry of journey {journey_id}" + (" (journey paused)" if paused else ""),
        ),
    )


async def upsert_schedule(
    client: Client,
    *,
    journey_id: str,
    trigger: SegmentEntry,
    timezone: str,
    task_queue: str,
    paused: bool = False,
    start_at: datetime | None = None,
    end_at: datetime | None = None,
) -> str:
    """Create the journey's schedule, or replace its spec and action; → the schedule id."""
    schedule = build_schedule(
        journey_id=journey_id,
        trigger=trigger,
        timezone=timezone,
        task_queue=task_queue,
        paused=paused,
        start_at=start_at,
        end_at=end_at,
    )
    return await _create_or_replace(client, schedule_id_for(journey_id), schedule)


async def _create_or_replace(client: Client, schedule_id: str, schedule: Schedule) -> str:
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id


def campaign_open_id(journey_id: str) -> str:
    """The one-shot schedule that opens a campaign's once-only segment entry."""
    return f"campaign-open-{journey_id}"


def build_campaign_open(*, journey_id: str, starts_at: datetime, task_queue: str) -> Schedule:
    """One enrollment pass of the journey's segment at ``starts_at`` (the campaign opens):
    a single action, then the schedule is spent."""
    when = starts_at.astimezone(UTC)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentEnrollmentWorkflow.run,
            EnrollmentInput(journey_id=journey_id, version=None, trigger="schedule"),
            id=f"{enrollment_workflow_id(journey_id)}-campaign",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(
            calendars=[
                ScheduleCalendarSpec(
                    year=[ScheduleRange(when.year)],
                    month=[ScheduleRange(when.month)],
                    day_of_month=[ScheduleRange(when.day)],
                    hour=[ScheduleRange(when.hour)],
                    minute=[ScheduleRange(when.minute)],
                    second=[ScheduleRange(when.second)],
                    comment=f"campaign of journey {journey_id} opens",
                )
            ],
            time_zone_name="UTC",
        ),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(
            limited_actions=True,
            remaining_actions=1,
            note=f"campaign of journey {journey_id} opens at {when.isoformat()}",
        ),
    )


async def upsert_campaign_open(
    client: Client, *, journey_id: str, starts_at: datetime, task_queue: str
) -> str:
    """Create or move the campaign's opening pass; → the schedule id."""
    schedule = build_campaign_open(
        journey_id=journey_id, starts_at=starts_at, task_queue=task_queue
    )
    return await _create_or_replace(client, campaign_open_id(journey_id), schedule)


async def delete_campaign_open(client: Client, *, journey_id: str) -> bool:
    """Remove the campaign's opening pass; False when it had none."""
    return await _delete(client, campaign_open_id(journey_id))


async def pause_schedule(client: Client, *, journey_id: str, paused: bool) -> bool:
    """Pause / unpause the journey's schedule; False when it has none."""
    handle = client.get_schedule_handle(schedule_id_for(journey_id))
    try:
        if paused:
            await handle.pause(note="journey paused")
        else:
            await handle.unpause(note="journey resumed")
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def delete_schedule(client: Client, *, journey_id: str) -> bool:
    """Remove the journey's schedule; False when it had none."""
    return await _delete(client, schedule_id_for(journey_id))


async def _delete(client: Client, schedule_id: str) -> bool:
    try:
        await client.get_schedule_handle(schedule_id).delete()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True

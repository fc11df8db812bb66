"""Recurring segment entry as Temporal Schedules (visible and editable in the Temporal UI).

A journey whose entry is a segment with ``schedule: daily | weekly`` gets one schedule,
``segment-entry-<journey id>``, created or updated at publish, paused and unpaused with the
journey, deleted when a later version no longer enters by schedule. Each tick starts a
:class:`~workflows.enrollment.SegmentEnrollmentWorkflow` for the live version; overlapping
ticks are skipped, so a slow pass is never doubled. ``once`` entries start one enrollment
at publish (see :mod:`services.segments`).
"""

from __future__ import annotations

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


def schedule_spec(trigger: SegmentEntry, timezone: str) -> ScheduleSpec:
    """Calendar of a daily / weekly segment entry at ``at_time`` in the journey's zone.

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
    return ScheduleSpec(calendars=[calendar], time_zone_name=timezone)


def build_schedule(
    *,
    journey_id: str,
    trigger: SegmentEntry,
    timezone: str,
    task_queue: str,
    paused: bool,
) -> Schedule:
    """The schedule of ``journey_id``: enroll the segment's audience into the live version."""
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SegmentEnrollmentWorkflow.run,
            EnrollmentInput(journey_id=journey_id, version=None, trigger="schedule"),
            id=enrollment_workflow_id(journey_id),
            task_queue=task_queue,
        ),
        spec=schedule_spec(trigger, timezone),
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
) -> str:
    """Create the journey's schedule, or replace its spec and action; → the schedule id."""
    schedule = build_schedule(
        journey_id=journey_id,
        trigger=trigger,
        timezone=timezone,
        task_queue=task_queue,
        paused=paused,
    )
    schedule_id = schedule_id_for(journey_id)
    try:
        await client.create_schedule(schedule_id, schedule)
    except ScheduleAlreadyRunningError:

        def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(schedule_id).update(replace)
    return schedule_id


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
    try:
        await client.get_schedule_handle(schedule_id_for(journey_id)).delete()
    except RPCError as err:
        if err.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True

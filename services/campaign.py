"""Campaign start and end dates (issue 17 item 4): a journey takes customers in from its
start to its end, by itself.

Two mechanisms, so neither a late tick nor a missing one lets anyone in outside the window:
every entry path checks the window (``db.crud.journeys.entry_window_closed``: events, the
enroll API, segment passes at their start and at each page), and the segment entry's
Temporal schedules follow it (``services.segments.schedule_entry``: a daily / weekly
schedule bounded by the dates, a one-shot ``campaign-open-…`` schedule for a once-only
entry that starts later). Changing the dates of a live journey re-shapes its schedules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session

from db import crud
from db.crud.journeys import set_campaign_dates
from db.errors import NotFoundError
from db.models import Journey
from db.session import end_transaction, in_thread
from engine.ir import CompiledJourney
from services import segments
from services.enrollment import compiled_of
from services.temporal import TemporalGateway


class CampaignInputError(ValueError):
    """Dates a campaign cannot take; ``field`` names the one to fix (a 422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class CampaignOutcome:
    journey: Journey
    #: the Temporal schedules now in place for the entry
    schedules: list[str] = field(default_factory=list)
    #: why the schedules could not be updated (Temporal away); the dates are stored and
    #: the entry paths enforce them anyway
    warning: str = ""


def check(starts_at: datetime | None, ends_at: datetime | None) -> None:
    """Refuse a window that ends before (or when) it starts, or a date without a zone."""
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and value.tzinfo is None:
            raise CampaignInputError(name, "give a time zone (e.g. 2026-12-24T00:00:00+08:00)")
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise CampaignInputError("ends_at", "the campaign must end after it starts (starts_at)")


def _store(
    session: Session,
    journey_id: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    by: str,
) -> tuple[Journey, tuple[CompiledJourney, int] | None]:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise NotFoundError("journey", journey_id)
    if journey.status == "archived":
        raise CampaignInputError("journey", "the journey is archived; restore it first")
    journey = set_campaign_dates(
        session=session, journey_id=journey_id, starts_at=starts_at, ends_at=ends_at, by=by
    )
    live = None
    if journey.status in ("live", "paused") and journey.live_version is not None:
        version = crud.get_version(
            session=session, journey_id=journey_id, version=journey.live_version
        )
        if version is not None:
            live = (compiled_of(version), version.version)
    end_transaction(session)
    return journey, live


async def set_campaign(
    *,
    session: Session,
    temporal: TemporalGateway | None,
    journey_id: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    by: str,
) -> CampaignOutcome:
    """Store the campaign's window (audited) and, for a published journey, re-shape its
    segment entry's schedules (a once-only entry is not re-run: only a later start gets
    its opening schedule)."""
    check(starts_at, ends_at)
    journey, live = await in_thread(_store, session, journey_id, starts_at, ends_at, by)
    outcome = CampaignOutcome(journey)
    if live is None or temporal is None:
        return outcome
    try:
        outcome.schedules = await segments.schedule_entry(
            await temporal.client(),
            journey=live[0],
            version=live[1],
            window=(starts_at, ends_at),
            task_queue=temporal.enrollment_queue,
            start_once=False,
        )
    except Exception as exc:  # noqa: BLE001 - the dates hold at every entry regardless
        outcome.warning = f"the entry's schedules were not updated: {exc}"
    return outcome

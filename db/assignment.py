"""Who gets a guide task, and on which day: the customer's guide, within daily capacity.

Rules, in order:

1. ``bound_guide``: the customer's active bound guide; else (no guide, or inactive) the store
   manager. ``store_manager``: the store manager.
2. Daily capacity: a guide takes at most ``Guide.daily_capacity`` tasks per work day (store
   time; ``0`` or less means no limit). Tasks count on the day they are scheduled for,
   whatever their status, except cancelled ones.
3. Overflow, per store (``Store.task_overflow_policy``):
   ``next_day``: the task goes to the same guide's next day with room (due time moves by the
   same number of days, at most :data:`MAX_DEFER_DAYS`);
   ``other_guide_same_store``: the store's active guide with the most room today takes it
   (guides before the manager on a tie); when nobody has room, ``next_day`` applies.

Pure database reads, no Temporal, so it lives in the data layer: the ``create_task`` activity
calls :func:`assign` and ``services.tasks`` reads :func:`store_day`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from db import crud
from db.models import Customer, Guide, Store

MAX_DEFER_DAYS = 14
DEFAULT_TIMEZONE = "Asia/Shanghai"


@dataclass(frozen=True)
class Assignment:
    """The outcome of the rules for one task."""

    guide: Guide
    reason: str  # one of db.models.ASSIGN_REASONS
    scheduled_for: date
    defer_days: int = 0  # > 0: moved to a later day, due time moves as much
    original_guide_id: str | None = None  # the guide it was meant for, when another took it


def store_day(store: Store | None, at: datetime) -> date:
    """The calendar day of ``at`` in the store's time zone."""
    name = store.timezone if store is not None else DEFAULT_TIMEZONE
    try:
        zone = ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    return at.astimezone(zone).date()


def preferred_guide(session: Session, customer: Customer, rule: str) -> tuple[Guide | None, str]:
    """Rule 1: the guide the task is meant for, and why."""
    if rule == "bound_guide" and customer.guide_id:
        guide = crud.get_guide(session=session, guide_id=customer.guide_id)
        if guide is not None and guide.active:
            return guide, "bound_guide"
    if customer.store_id:
        return crud.get_store_manager(session=session, store_id=customer.store_id), "store_manager"
    return None, "store_manager"


def has_room(guide: Guide, assigned: int) -> bool:
    """Whether ``guide`` can take another task on a day they already have ``assigned``."""
    return guide.daily_capacity <= 0 or assigned < guide.daily_capacity


def assign(session: Session, customer: Customer, rule: str, now: datetime) -> Assignment | None:
    """Apply the rules; ``None`` when the customer has neither an active guide nor a manager."""
    guide, reason = preferred_guide(session, customer, rule)
    if guide is None:
        return None
    store = crud.get_store(session=session, store_id=customer.store_id or guide.store_id)
    today = store_day(store, now)
    load = crud.count_tasks_on_day(session=session, guide_ids=[guide.id], day=today)
    if has_room(guide, load[guide.id]):
        return Assignment(guide, reason, today)
    policy = store.task_overflow_policy if store is not None else "next_day"
    if policy == "other_guide_same_store":
        other = _roomiest_colleague(session, guide, today)
        if other is not None:
            return Assignment(other, "overflow_other_guide", today, 0, guide.id)
    for days in range(1, MAX_DEFER_DAYS + 1):
        day = today + timedelta(days=days)
        load = crud.count_tasks_on_day(session=session, guide_ids=[guide.id], day=day)
        if has_room(guide, load[guide.id]):
            return Assignment(guide, "overflow_next_day", day, days)
    # Two weeks full: give it to the last day looked at rather than drop the customer.
    return Assignment(
        guide, "overflow_next_day", today + timedelta(days=MAX_DEFER_DAYS), MAX_DEFER_DAYS
    )


def _roomiest_colleague(session: Session, full: Guide, day: date) -> Guide | None:
    colleagues = [
        g for g in crud.list_guides(session=session, store_id=full.store_id) if g.id != full.id
    ]
    load = crud.count_tasks_on_day(session=session, guide_ids=[g.id for g in colleagues], day=day)
    with_room = [g for g in colleagues if has_room(g, load[g.id])]
    if not with_room:
        return None

    def room(g: Guide) -> float:
        return float("inf") if g.daily_capacity <= 0 else g.daily_capacity - load[g.id]

    return min(with_room, key=lambda g: (-room(g), g.role == "store_manager", g.id))

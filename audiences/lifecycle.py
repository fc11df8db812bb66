"""Each customer's own purchase cycle and their lifecycle stage (识别 / 发展 / 稳定 / 衰退).

**Purchase cycle** (DOMAIN.md: a women's-wear chain found a ~45-day cycle as the median of
each customer's purchase intervals): the median of the whole days between a customer's
consecutive purchases (:func:`engine.metrics.interval_median_days`, a stored metric).
Customers with fewer than two purchases have none.

**Lifecycle stage**, from the customer's purchases as of ``now`` — the thresholds, in order
(the first that holds wins):

1. **decline (衰退)** — has bought, and the days since the last purchase exceed
   ``DECLINE_FACTOR`` (2) × their own cycle, or ``DECLINE_DAYS`` (90) when they have no cycle
   yet or the cycle is shorter than 45 days (a weekly buyer who skips three weeks is not in
   decline). Recover the valuable, let go of the rest.
2. **identify (识别)** — no purchase yet, or exactly one: the relationship is still being
   found out.
3. **stable (稳定)** — at least ``STABLE_PURCHASES`` (4) purchases spanning at least
   ``STABLE_SPAN_DAYS`` (180) days from the first to the last.
4. **develop (发展)** — everyone else: repeat buyers building the habit.

The stage is kept in ``customer_metrics`` (with the moment it last changed) by
:mod:`audiences.metrics`; a change is announced as a ``lifecycle_stage_changed`` event
(properties ``from`` and ``to``) that can start a journey.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum


class Stage(StrEnum):
    IDENTIFY = "identify"
    DEVELOP = "develop"
    STABLE = "stable"
    DECLINE = "decline"


STAGES: tuple[str, ...] = tuple(s.value for s in Stage)
#: How marketers say the stages (what templates print).
STAGE_NAMES: dict[str, str] = {
    "identify": "识别期",
    "develop": "发展期",
    "stable": "稳定期",
    "decline": "衰退期",
}

DECLINE_FACTOR = 2.0
DECLINE_DAYS = 90
#: A cycle shorter than this never shortens the decline threshold below DECLINE_DAYS.
SHORT_CYCLE_DAYS = 45
STABLE_PURCHASES = 4
STABLE_SPAN_DAYS = 180

#: The event type a stage change is announced as.
STAGE_CHANGED_EVENT = "lifecycle_stage_changed"


def decline_after_days(cycle_days: float | None) -> float:
    """Days without a purchase after which a customer is in decline."""
    if cycle_days is None or cycle_days < SHORT_CYCLE_DAYS:
        return float(DECLINE_DAYS)
    return DECLINE_FACTOR * cycle_days


def stage_of(
    *,
    purchases: int,
    first_at: datetime | None,
    last_at: datetime | None,
    cycle_days: float | None,
    now: datetime,
) -> Stage:
    """The lifecycle stage by the thresholds in this module's docstring."""
    if purchases > 0 and last_at is not None:
        idle = (now - last_at).total_seconds() / 86400
        if idle > decline_after_days(cycle_days):
            return Stage.DECLINE
    if purchases <= 1 or first_at is None or last_at is None:
        return Stage.IDENTIFY
    if purchases >= STABLE_PURCHASES and (last_at - first_at).days >= STABLE_SPAN_DAYS:
        return Stage.STABLE
    return Stage.DEVELOP

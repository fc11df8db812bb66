"""What converts a run: the journey version's goal, read once for every report.

A version with ``settings.goal`` converts on an event of its type matching its filters
within ``window`` after entry (default :data:`services.periods.DEFAULT_WINDOW`); the
event's ``value_property`` (dotted) is its revenue. A version without a goal converts on
any order of the customer within the default window, its amount the revenue — a retail
journey's natural goal, and the one attribution uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from engine import ir, semantics
from engine.compiler.common import filters as compile_filters
from engine.document import GoalConfig
from services.periods import DEFAULT_WINDOW

_UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}


@dataclass(frozen=True)
class Goal:
    """``event_type`` None: any order converts (the version has no goal)."""

    event_type: str | None
    filters: tuple[ir.Filter, ...]
    window: timedelta
    value_property: str | None

    def matches(self, event_type: str, properties: Mapping[str, Any]) -> bool:
        return self.event_type is not None and semantics.event_matches(
            self.event_type, self.filters, event_type, dict(properties)
        )

    def value(self, properties: Mapping[str, Any]) -> float:
        return value_of(properties, self.value_property)


#: The goal of a version without one.
ANY_ORDER = Goal(None, (), DEFAULT_WINDOW, "amount")


def goal_of(document: Mapping[str, Any] | None) -> Goal | None:
    """The goal of a journey document, its window defaulting to :data:`DEFAULT_WINDOW`;
    ``None`` without one (read :data:`ANY_ORDER` then). A goal stored under an older
    schema that no longer validates counts as none."""
    raw = ((document or {}).get("settings") or {}).get("goal")
    if not raw:
        return None
    try:
        goal = GoalConfig.model_validate(raw)
    except ValueError:
        return None
    window = DEFAULT_WINDOW
    if goal.window is not None and goal.window.amount > 0:
        window = timedelta(seconds=goal.window.amount * _UNIT_SECONDS[goal.window.unit.value])
    return Goal(goal.event_type, compile_filters(goal.filters), window, goal.value_property)


def value_of(props: Mapping[str, Any], field: str | None) -> float:
    """``props``' dotted ``field`` as a number; 0 when absent or not a number."""
    if not field:
        return 0.0
    found: Any = props
    for part in field.split("."):
        if not isinstance(found, Mapping):
            return 0.0
        found = found.get(part)
    if isinstance(found, bool) or not isinstance(found, int | float | str):
        return 0.0
    try:
        return float(found)
    except ValueError:
        return 0.0


def goal_window_days(goal: dict[str, Any]) -> float | None:
    """The conversion window of a compiled goal, in days (``None``: the goal sets none).

    Read leniently, as the compiled form stores it: seconds (``window_seconds`` or a number
    ``window``) or a duration (``{"amount": 14, "unit": "days"}``).
    """
    raw = next((goal[k] for k in ("window_seconds", "window") if goal.get(k) is not None), None)
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        return raw / 86400 if raw > 0 else None
    if isinstance(raw, dict):
        if "seconds" in raw and isinstance(raw["seconds"], int | float):
            return float(raw["seconds"]) / 86400 or None
        amount, unit = raw.get("amount"), str(raw.get("unit", "days"))
        per = {"minutes": 1 / 1440, "hours": 1 / 24, "days": 1.0, "weeks": 7.0}.get(unit)
        if isinstance(amount, int | float) and per and amount > 0:
            return float(amount) * per
    return None

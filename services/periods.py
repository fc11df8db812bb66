"""The reporting period of the journey results and variant reports: days in the chain's
time zone, both ends included, turned into the instants they span."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo

#: Conversion window when the journey's goal names none.
DEFAULT_WINDOW = timedelta(days=14)
#: Longest period a report covers, and the default one (days, both ends included).
MAX_PERIOD_DAYS = 400
DEFAULT_PERIOD_DAYS = 30
#: Days a period may name (far dates would overflow when turned into instants).
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2199, 12, 31)


class PeriodError(ValueError):
    """A bad reporting period; ``field`` is the query parameter to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def period(
    start: date | None, end: date | None, *, today: date, tz: tzinfo
) -> tuple[date, date, datetime, datetime]:
    """The days ``start`` … ``end`` (both included; default the last
    :data:`DEFAULT_PERIOD_DAYS` up to ``today``) and the instants they span in ``tz``.
    Raises :class:`PeriodError` naming ``from`` (after ``to``) or ``to`` (over
    :data:`MAX_PERIOD_DAYS` days)."""
    for name, day in (("from", start), ("to", end)):
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise PeriodError(name, f"{name} ({day}) must lie between {FIRST_DAY} and {LAST_DAY}.")
    end = end or today
    start = start or end - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if start > end:
        raise PeriodError("from", f"from ({start}) is after to ({end}).")
    days = (end - start).days + 1
    if days > MAX_PERIOD_DAYS:
        raise PeriodError("to", f"The period spans {days} days; at most {MAX_PERIOD_DAYS}.")
    lo = datetime.combine(start, time(), tz)
    hi = datetime.combine(end + timedelta(days=1), time(), tz)
    return start, end, lo, hi

"""ISO-8601 strings at the workflow boundary ↔ aware UTC datetimes in the database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from engine.effects import EffectContext


def parse_instant(value: str) -> datetime:
    """``value`` (ISO-8601, ``Z`` or an offset; naive taken as UTC) as aware UTC."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def iso(value: datetime) -> str:
    """``value`` as ISO-8601 UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat()


def effect_time(ctx: EffectContext, clock: Callable[[], datetime]) -> datetime:
    """When the effect happens: the workflow's time of the visit when the context carries it
    (so a coupon issued on a journey's day 12 expires relative to day 12, also under a
    time-skipping test server), else ``clock()``."""
    return parse_instant(ctx.at) if ctx.at else clock()

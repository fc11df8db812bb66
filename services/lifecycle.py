"""Announce lifecycle stage changes as ``lifecycle_stage_changed`` events.

The stage itself is computed in :mod:`audiences.lifecycle` / :mod:`audiences.metrics`; a
change becomes an ordinary customer event (properties ``from`` / ``to``), stored with its
pending delivery in the transactional outbox, so a journey whose entry is
``lifecycle_stage_changed`` (filtered on ``to``, e.g. ``decline``) starts like any other
event entry, and nothing is lost if Temporal is away (the reconciler delivers it).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from audiences.metrics import StageChange, sweep_declines
from services.events import stage_event, store_events

#: Changes stored per write transaction.
CHUNK = 500


def announce(*, session: Session, changes: Iterable[StageChange]) -> list[str]:
    """Store one event per change (pending delivery); → the ids of the new events."""
    events = [stage_event(c) for c in changes]
    stored: list[str] = []
    for start in range(0, len(events), CHUNK):
        _, mine = store_events(session=session, events=events[start : start + CHUNK])
        stored.extend(mine)
    return stored


def sweep(*, session: Session, now: datetime) -> list[str]:
    """Move customers whose time ran out into decline and announce it; → new event ids."""
    return announce(session=session, changes=sweep_declines(session=session, now=now))

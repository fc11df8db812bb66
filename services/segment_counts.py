"""How many customers each saved segment holds, cached on the segment row.

The segments list shows the last count and its age instead of running every segment's
query on each visit. A count older than :data:`MAX_AGE` (or none: a new or edited
segment) is stale, and the list asks for it again row by row, in the thread pool. One
count is one ``SELECT count(*)`` over the customer table; on a big chain that is the
expensive part, so within a process a segment is counted by one request at a time (a
second request waits for the first and takes its result) and at most :data:`PARALLEL`
counts run at once, whatever the number of stale rows or open tabs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from audiences import SegmentValidationError, compile_segment, count, parse_definition
from db import crud
from db.errors import NotFoundError
from db.models import Segment, utcnow

#: A count older than this is recounted when the list shows it.
MAX_AGE = timedelta(hours=1)
#: A count this fresh is kept even when asked again (the request that waited for another
#: one counting the same segment takes its result).
JUST_COUNTED = timedelta(seconds=10)
#: Counts running at once in this process.
PARALLEL = 2

_slots = threading.BoundedSemaphore(PARALLEL)
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


@dataclass(frozen=True)
class SegmentCount:
    """A segment's cached size: ``count`` None when never counted (or it cannot be:
    ``error`` says why); ``stale`` when it should be counted again."""

    segment_id: str
    count: int | None
    counted_at: datetime | None
    stale: bool
    error: str = ""


def cached(segment: Segment, *, now: datetime | None = None) -> SegmentCount:
    """The count the segment row holds, and whether it is stale."""
    now = now or utcnow()
    at = segment.last_counted_at
    stale = segment.last_count is None or at is None or now - at > MAX_AGE
    return SegmentCount(segment.id, segment.last_count, at, stale)


@contextmanager
def _counting(segment_id: str) -> Iterator[None]:
    with _locks_guard:
        lock = _locks.setdefault(segment_id, threading.Lock())
    with lock, _slots:
        yield


def refresh(
    *, session: Session, segment_id: str, only_if_stale: bool = False, now: datetime | None = None
) -> SegmentCount:
    """Count ``segment_id`` now and remember the result on its row.

    ``only_if_stale``: keep a count that is not stale (the list's automatic refresh, so two
    tabs do not count twice). A count just taken by another request is kept either way. A
    stored definition that no longer validates is not an error of this request: the
    result says why it cannot be counted."""
    with _counting(segment_id):
        segment = crud.get_segment(session=session, segment_id=segment_id)
        if segment is None:
            raise NotFoundError("segment", segment_id)
        session.refresh(segment)  # another request may have counted while this one waited
        current = cached(segment, now=now)
        at = current.counted_at
        fresh = at is not None and (now or utcnow()) - at <= JUST_COUNTED
        if current.count is not None and (fresh or (only_if_stale and not current.stale)):
            return current
        when = now or utcnow()
        try:
            compiled = compile_segment(parse_definition(segment.definition), now=when)
        except SegmentValidationError as exc:
            return SegmentCount(segment_id, None, None, False, error=str(exc))
        version = segment.updated_at
        total = count(session, compiled)
        # An edit saved meanwhile cleared the count: this one is of the old rules.
        crud.record_segment_count(
            session=session, segment_id=segment_id, count=total, at=when, if_updated_at=version
        )
        return SegmentCount(segment_id, total, when, False)

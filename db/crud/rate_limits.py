"""Per-provider send-rate buckets shared by every worker process.

A bucket is a schedule: ``next_slot`` is the earliest moment the provider's next send may
go. Taking a slot is one ``UPDATE … RETURNING`` (atomic on SQLite and PostgreSQL alike:
the row is locked for the statement), which hands out slots ``1 / rate`` apart, so no two
sends of all workers together are ever closer than that: a burst cannot exceed the rate.
"""

from __future__ import annotations

from sqlalchemy import func, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from db.models import ProviderRateBucket
from db.session import begin_write


def ensure_bucket(*, session: Session, provider: str) -> None:
    """Create ``provider``'s bucket unless it exists (races settle on the primary key)."""
    begin_write(session)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = (
        insert(ProviderRateBucket)
        .values(provider=provider, next_slot=0.0)
        .on_conflict_do_nothing(index_elements=["provider"])
    )
    session.execute(stmt)
    session.commit()


def take_send_slot(
    *,
    session: Session,
    provider: str,
    interval: float,
    now: float,
    horizon: float,
    count: int = 1,
) -> float | None:
    """Reserve ``provider``'s next ``count`` send slots (the first: seconds since the
    epoch, ``now`` when the bucket is idle; the others ``interval`` apart after it) and move
    the schedule on past them; commit. ``None`` when the next free slot is more than
    ``horizon`` seconds away (nothing reserved: the caller retries later instead of waiting
    that long). The bucket must exist (:func:`ensure_bucket`)."""
    begin_write(session)
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    column = col(ProviderRateBucket.next_slot)
    stmt = (
        update(ProviderRateBucket)
        .where(col(ProviderRateBucket.provider) == provider, column <= now + horizon)
        .values(next_slot=greatest(column, literal(now)) + interval * count)
        .returning(column)
    )
    after = session.execute(stmt).scalar_one_or_none()
    session.commit()
    return None if after is None else float(after) - interval * count


def hold_back(*, session: Session, provider: str, until: float) -> None:
    """No slot of ``provider`` before ``until`` (a throttling answer); commit."""
    begin_write(session)
    greatest = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
    column = col(ProviderRateBucket.next_slot)
    stmt = (
        update(ProviderRateBucket)
        .where(col(ProviderRateBucket.provider) == provider)
        .values(next_slot=greatest(column, literal(until)))
    )
    session.execute(stmt)
    session.commit()

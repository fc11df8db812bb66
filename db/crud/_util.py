"""Helpers shared by the crud modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

T = TypeVar("T", bound=SQLModel)


def aware(value: datetime | None) -> datetime | None:
    """``value`` as aware UTC (naive values are taken to be UTC already)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def find_by(session: Session, model: type[T], column: Any, value: Any) -> T | None:
    """The first row of ``model`` whose ``column`` equals ``value``."""
    return session.exec(select(model).where(column == value)).first()


def insert_once(session: Session, obj: T, *, column: Any, key: Any) -> tuple[T, bool]:
    """Insert ``obj`` unless a row with ``column == key`` exists; commit; ``(row, created)``.

    The transaction ends on every path (committed, or rolled back on a lost race).

    The unique index on ``column`` settles races between two workers: the loser rolls back
    and returns the winner's row, so a retried side effect never happens twice.
    """
    model = type(obj)
    existing = find_by(session, model, column, key)
    if existing is not None:
        # end the (write) transaction on this path too: an open BEGIN IMMEDIATE would hold
        # SQLite's write lock for whatever the caller does next
        session.commit()
        return existing, False
    session.add(obj)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        existing = find_by(session, model, column, key)
        if existing is None:
            raise
        return existing, False
    return obj, True

"""Helpers shared by the crud modules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, SQLModel, select

from db.models._base import UTCDateTime

T = TypeVar("T", bound=SQLModel)


def aware(value: datetime | None) -> datetime | None:
    """``value`` as aware UTC (naive values are taken to be UTC already)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def read_back(session: Session, obj: SQLModel) -> None:
    """After a commit: read ``obj`` again only when ``session`` forgot it at commit
    (``expire_on_commit``). A session that keeps its objects has them whole already (keys
    and defaults are set at flush), and reading them back would begin another transaction:
    on a request's writer session, another turn for SQLite's write lock (bench.web_load: a
    marketer's save, publish or create waited for two turns where one holds the change)."""
    if session.expire_on_commit:
        session.refresh(obj)
        return
    # what the read would have changed: moments come back as aware UTC (UTCDateTime)
    state = inspect(obj)
    for attr in state.mapper.column_attrs:
        value = state.dict.get(attr.key)
        if isinstance(value, datetime) and isinstance(attr.columns[0].type, UTCDateTime):
            set_committed_value(obj, attr.key, aware(value))


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

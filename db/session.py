"""Engines and sessions.

SQLite is tuned for several processes at once (web app, worker, CLI): WAL so readers never
block the writer, a 30 s busy timeout instead of instant "database is locked", foreign keys
on, and SQLAlchemy emitting BEGIN itself so transactions really are transactions (the
sqlite3 driver's legacy mode skips BEGIN before SELECTs). A write that reads first (the
coupon ledger) asks for ``BEGIN IMMEDIATE`` through :func:`begin_write`, so it takes the
write lock up front and waits for it rather than failing halfway.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from journeys.settings import get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "journeys_sqlite_immediate"

SessionFactory = Callable[[], Session]


def _json_dumps(value: Any) -> str:
    # Keep Chinese names and tags readable in the database (and in psql / sqlite3 shells).
    return json.dumps(value, ensure_ascii=False)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, busy timeout and foreign keys."""
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        _ensure_sqlite_dir(url)
        connect_args = {"check_same_thread": False, **kwargs.pop("connect_args", {})}
        # a worker runs dozens of activities at once, each with its own session; SQLite
        # connections are cheap, and writers queue on the busy timeout, not in the pool
        kwargs.setdefault("pool_size", 32)
        kwargs.setdefault("max_overflow", 64)
        engine = create_engine(
            url, connect_args=connect_args, json_serializer=_json_dumps, **kwargs
        )
        _tune_sqlite(engine)
        return engine
    kwargs.setdefault("pool_size", 20)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, json_serializer=_json_dumps, pool_pre_ping=True, **kwargs)


def _ensure_sqlite_dir(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver (see the module docstring).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def begin_write(session: Session) -> None:
    """Start ``session``'s transaction as a write transaction (SQLite: ``BEGIN IMMEDIATE``).

    Call it first thing in a read-then-write unit of work. A no-op on other databases, and
    when the session's transaction has already begun.
    """
    if session.in_transaction():
        return
    session.connection(execution_options={_IMMEDIATE: True})


def writer(engine: Engine) -> Engine:
    """``engine`` whose transactions are write transactions (SQLite: ``BEGIN IMMEDIATE``)."""
    return engine.execution_options(**{_IMMEDIATE: True})


def end_transaction(session: Session) -> None:
    """Finish ``session``'s open transaction before waiting on the network.

    Services call this before awaiting Temporal: a transaction left open across a network
    call would hold SQLite's lock (and a PostgreSQL snapshot) for its duration.
    """
    if session.in_transaction():
        session.commit()


def write_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose every transaction is a write transaction (SQLite: ``BEGIN IMMEDIATE``).

    For units of work that read, then write (idempotent inserts, upserts): under WAL a
    deferred transaction that read first cannot upgrade to a writer once another writer
    committed (``database is locked`` at once, no busy wait). Taking the write lock up front
    makes such work queue on the busy timeout instead. Plain ``BEGIN`` elsewhere.
    """
    return sessionmaker(writer(engine), class_=Session, expire_on_commit=False)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)


@lru_cache
def get_engine() -> Engine:
    """The process-wide engine for the configured database (override in tests)."""
    return make_engine(get_settings().sqlalchemy_url)


def get_session() -> Iterator[Session]:
    """FastAPI dependency: one session per request (``SessionDep`` in the API layer)."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session

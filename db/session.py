"""Engines and sessions.

SQLite is tuned for several processes at once (web app, worker, CLI): WAL so readers never
block the writer, a 30 s busy timeout instead of instant "database is locked", foreign keys
on, and SQLAlchemy emitting BEGIN itself so transactions really are transactions (the
sqlite3 driver's legacy mode skips BEGIN before SELECTs). A write that reads first (the
coupon ledger) asks for ``BEGIN IMMEDIATE`` through :func:`begin_write`, so it takes the
write lock up front and waits for it rather than failing halfway.

The threads of one process that want SQLite's write lock queue for it in arrival order
(:class:`WriterQueue`), and the head of each process's queue then waits on a lock file
beside the database (``flock``: the kernel wakes a blocked waiter, nobody sleeps and
retries) before asking SQLite. SQLite's own busy handler is a sleep-and-retry loop, so
under many writers a late arrival often wins while an early one sleeps: a few unlucky
writers waited 10-20 s (bench.web_load: p99 of the web app's ``BEGIN IMMEDIATE`` 12-19 s
with holds of a few ms), and a process whose writers queue back to back (the web app)
starved another's (the worker's activities) whose one waiter slept between its retries.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

SQLITE_BUSY_TIMEOUT_MS = 30_000
_IMMEDIATE = "journeys_sqlite_immediate"
#: in a pooled connection's ``info``: the writer queue this connection's transaction holds
_QUEUED = "journeys_writer_queue"

log = logging.getLogger(__name__)

SessionFactory = Callable[[], Session]

P = ParamSpec("P")
T = TypeVar("T")


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


class WriterQueue:
    """First come, first served among the threads of this process that want one SQLite
    database's write lock; with ``lock_file``, the turn also takes an exclusive ``flock``
    on it, so the processes on that database take turns too.

    :meth:`acquire` returns at once when nobody holds it, else waits its turn; ``release``
    (any thread: a transaction may end in another thread than it began) hands it straight
    to the longest waiter. A thread that holds it already is not queued again (a second
    writer of its own would wait on itself): it goes to SQLite's busy handler as before.
    """

    def __init__(self, lock_file: Path | None = None) -> None:
        self._mutex = threading.Lock()
        self._held = False
        self._owner: int | None = None
        self._waiters: deque[threading.Lock] = deque()
        self._lock_file = lock_file
        self._fd: int | None = None

    def acquire(self, timeout: float) -> bool:
        """Wait for the turn of this thread (at most ``timeout`` s in this process); False:
        not queued (held by this thread already, or the wait timed out — then SQLite's busy
        timeout rules)."""
        me = threading.get_ident()
        with self._mutex:
            if self._held and self._owner == me:
                return False
            if not self._held:
                self._held, self._owner = True, me
                return self._between_processes()
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if not turn.acquire(timeout=timeout):
            with self._mutex:
                if turn in self._waiters:
                    self._waiters.remove(turn)
                    log.warning("no turn for the SQLite write lock after %.0f s", timeout)
                    return False
            # handed over between the timeout and the mutex: it is ours
        with self._mutex:
            self._owner = me
        return self._between_processes()

    def _between_processes(self) -> bool:
        """This thread has the process's turn: now the other processes' (the lock file).
        Without a usable lock file, the turn is this process's alone."""
        if self._lock_file is None:
            return True
        try:
            if self._fd is None:
                self._fd = os.open(self._lock_file, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except OSError as exc:
            log.warning("no lock file %s for SQLite's writers: %s", self._lock_file, exc)
            self._lock_file = None
        return True

    def release(self) -> None:
        with self._mutex:
            self._owner = None
            if self._fd is not None and self._lock_file is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            if self._waiters:
                self._waiters.popleft().release()  # still held: handed over
            else:
                self._held = False


_WRITER_QUEUES: dict[str, WriterQueue] = {}
_WRITER_QUEUES_LOCK = threading.Lock()


def writer_queue(url: str) -> WriterQueue:
    """The process's one queue for the database at ``url`` (every engine on it shares it)."""
    database = make_url(url).database or ""
    path = Path(database).expanduser().resolve() if _is_file(database) else None
    key = str(path) if path is not None else url
    with _WRITER_QUEUES_LOCK:
        if key not in _WRITER_QUEUES:
            lock_file = path.with_name(path.name + "-writers") if path is not None else None
            _WRITER_QUEUES[key] = WriterQueue(lock_file)
        return _WRITER_QUEUES[key]


def _is_file(database: str) -> bool:
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def _leave_queue(info: dict[Any, Any]) -> None:
    queue = info.pop(_QUEUED, None)
    if queue is not None:
        queue.release()


def _tune_sqlite(engine: Engine) -> None:
    queue = writer_queue(str(engine.url))

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
        if not conn.get_execution_options().get(_IMMEDIATE, False):
            conn.exec_driver_sql("BEGIN")
            return
        # conn.info lives with the pooled DBAPI connection: the pool's checkin sees it too
        if queue.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000):
            conn.info[_QUEUED] = queue
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave_queue(conn.info)
            raise

    # the write lock is SQLite's until the transaction ends; then the next in line goes
    event.listen(engine, "commit", lambda conn: _leave_queue(conn.info))
    event.listen(engine, "rollback", lambda conn: _leave_queue(conn.info))
    # a connection that goes back to the pool (or away) without either: never strand the queue
    event.listen(engine, "checkin", lambda _dbapi, record: _leave_queue(record.info))
    event.listen(engine, "invalidate", lambda _dbapi, record, _exc: _leave_queue(record.info))


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


@contextmanager
def read_session(session: Session) -> Iterator[Session]:
    """A session on ``session``'s database for reads alone: its transactions are plain
    ``BEGIN`` even when ``session`` is a writer's (a POST's request session), so a lookup
    does not queue for SQLite's write lock. Objects stay readable after the block."""
    bind = session.get_bind()
    if isinstance(bind, Connection):  # bound to a connection already: its transaction
        yield session
        return
    with Session(bind.execution_options(**{_IMMEDIATE: False}), expire_on_commit=False) as reading:
        try:
            yield reading
        finally:
            reading.rollback()


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


async def in_thread(fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Run blocking database work in a worker thread, never on the event loop.

    Async code (routes that await Temporal, the worker's activities) calls the database
    only through this: a SQLite busy wait or a slow query on the event loop would stall
    every other request of the process, and a lock held by a transaction the loop itself
    has to finish would deadlock it. One session is used by one thread at a time.

    The transactions of the sessions ``fn`` works on (passed to it, or closed over) end in
    that thread — committed, or rolled back when it raised: a transaction left open would
    hold SQLite's write lock while the caller awaits Temporal or waits for a pool thread.
    """

    def run() -> T:
        sessions = [*args, *kwargs.values(), *_closed_over(fn)]
        try:
            result = fn(*args, **kwargs)
        except BaseException:
            end_sessions(sessions, commit=False)
            raise
        end_sessions(sessions, commit=True)
        return result

    return await anyio.to_thread.run_sync(run)


def _closed_over(fn: Callable[..., Any]) -> list[Any]:
    cells = getattr(fn, "__closure__", None) or ()
    found = []
    for cell in cells:
        try:
            found.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return found


def end_sessions(values: Any, *, commit: bool) -> None:
    """End the open transaction of every :class:`Session` among ``values``."""
    for value in values:
        if isinstance(value, Session) and value.in_transaction():
            if commit:
                value.commit()
            else:
                value.rollback()


class BlockingCallOnEventLoopError(RuntimeError):
    """A database statement ran on the thread of a running event loop."""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


#: set for the duration of a web request (``canvas_ui.middleware.RequestScopeMiddleware``)
IN_REQUEST: ContextVar[bool] = ContextVar("journeys_in_request", default=False)


def guard_event_loop(engine: Engine) -> Engine:
    """Make every statement on ``engine`` fail when a web request runs it on the event
    loop's thread.

    Tests install it on the web app's engine, so a route that blocks its loop on the
    database fails loudly instead of stalling a busy install. Worker threads (plain ``def``
    routes and dependencies, :func:`in_thread`) are not on a loop and pass.
    """

    @event.listens_for(engine, "before_cursor_execute")
    def _check(conn: Connection, _cursor: Any, statement: str, *_rest: Any) -> None:
        if IN_REQUEST.get() and _on_event_loop():
            raise BlockingCallOnEventLoopError(
                f"blocking database call on the event loop: {statement[:120]!r}; "
                "use db.session.in_thread (or a plain def route)"
            )

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions bound to ``engine`` whose objects stay readable after commit."""
    return sessionmaker(engine, class_=Session, expire_on_commit=False)

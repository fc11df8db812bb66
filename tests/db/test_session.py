"""SQLite is tuned for several processes at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import Engine, event, text
from sqlmodel import Session

from db.session import WriterQueue, make_engine, read_session, writer, writer_queue


def test_sqlite_engine_uses_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'j.db'}")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def _counter_table(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v INTEGER)"))


def test_read_session_of_a_writer_session_does_not_take_the_write_lock(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'j.db'}")
    _counter_table(engine)
    begins: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda _c, _cur, sql, *_a: begins.append(sql))
    try:
        with Session(writer(engine)) as outer, read_session(outer) as reading:
            reading.execute(text("SELECT count(*) FROM t"))
        assert "BEGIN" in begins and "BEGIN IMMEDIATE" not in begins
    finally:
        engine.dispose()


def test_writers_of_one_process_take_the_write_lock_in_arrival_order() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=1)
    order: list[str] = []
    threads = []
    for name in ("first", "second", "third"):

        def wait(name: str = name) -> None:
            assert queue.acquire(timeout=10)
            order.append(name)
            queue.release()

        thread = threading.Thread(target=wait)
        thread.start()
        threads.append(thread)
        while len(queue._waiters) < len(threads):  # queued before the next one arrives
            time.sleep(0.001)
    queue.release()
    for thread in threads:
        thread.join(timeout=10)
    assert order == ["first", "second", "third"]
    assert queue.acquire(timeout=0)  # free again


def test_a_waiter_whose_turn_does_not_come_goes_to_sqlite_instead() -> None:
    queue = WriterQueue()
    assert queue.acquire(timeout=1)
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(queue.acquire(timeout=0.05)))
    thread.start()
    thread.join(timeout=10)
    assert got == [False] and not queue._waiters
    assert not queue.acquire(timeout=0)  # this thread holds it: not queued behind itself


def test_every_way_a_write_transaction_ends_frees_the_writer_queue(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'j.db'}"
    engine = make_engine(url)
    _counter_table(engine)
    queue = writer_queue(url)

    def free() -> bool:
        # another thread's turn comes at once only when nobody holds it
        got: list[bool] = []
        thread = threading.Thread(target=lambda: got.append(queue.acquire(timeout=0.5)))
        thread.start()
        thread.join(timeout=10)
        if got == [True]:
            queue.release()
        return got == [True]

    try:
        with Session(writer(engine)) as session:
            session.execute(text("INSERT INTO t VALUES (1)"))
            assert not free()
            session.commit()
        assert free()
        with Session(writer(engine)) as session:
            session.execute(text("INSERT INTO t VALUES (2)"))
            session.rollback()
        assert free()
        with Session(writer(engine)) as session:  # closed with its transaction open
            session.execute(text("INSERT INTO t VALUES (3)"))
        assert free()
        conn = writer(engine).connect()
        conn.begin()
        conn.close()
        assert free()
        with Session(engine) as session:  # plain readers never queue
            session.execute(text("SELECT count(*) FROM t"))
            assert free()
    finally:
        engine.dispose()


def test_processes_on_one_database_take_turns_through_its_lock_file(tmp_path: Path) -> None:
    # two queues on one lock file stand for two processes (flock: one open file each)
    web, worker = WriterQueue(tmp_path / "j.db-writers"), WriterQueue(tmp_path / "j.db-writers")
    assert web.acquire(timeout=1)
    got: list[str] = []
    thread = threading.Thread(target=lambda: got.append("worker") if worker.acquire(10) else None)
    thread.start()
    time.sleep(0.2)
    assert got == []  # the other process waits for the lock file
    web.release()
    thread.join(timeout=10)
    assert got == ["worker"]
    worker.release()
    assert web.acquire(timeout=1)
    web.release()

"""SQLite is tuned for several processes at once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, event, text
from sqlmodel import Session

from db.session import make_engine, read_session, writer


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

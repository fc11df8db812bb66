"""The web process's background jobs survive its restart (issue 17): a version move pass
whose process stopped (its lease lapsed) is claimed by exactly one reconciler and resumed
from its cursor; a backtest whose process stopped is marked interrupted; a live lease is
left alone. Both databases (the ``engine`` fixture); Temporal is a stand-in client that
records the signals (the pass itself is tested on the time-skipping server in
tests/workflows/test_version_move_pass.py)."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db import crud
from db.crud import backtests as backtest_crud
from db.crud import version_moves as moves_crud
from db.models import JourneyCreate, JourneyRun, JourneyVersionMove, utcnow
from db.models.backtests import JourneyBacktest
from db.session import make_engine, writer
from engine.compiler import compile_document
from services import backtest
from services import version_moves as moves
from services.reconcile import reconcile_once

ENTRY: dict[str, Any] = {
    "id": "entry",
    "kind": "entry",
    "config": {"trigger": {"type": "manual"}, "reentry": {"policy": "after_exit"}},
}
WAIT = {
    "id": "w",
    "kind": "wait",
    "config": {"until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}},
}
DOC = {
    "name": "复购",
    "nodes": [ENTRY, WAIT, {"id": "done", "kind": "exit"}],
    "edges": [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "w"},
        {"id": "e2", "source": "w", "source_port": "next", "target": "done"},
    ],
}
CUSTOMERS = 7
#: runs told before the restart (the pass's stored cursor is the second run's row id)
TOLD_BEFORE = 2


class Signals:
    """A stand-in Temporal client: records every ``move_version`` signal."""

    def __init__(self) -> None:
        self.told: list[str] = []

    def get_workflow_handle(self, workflow_id: str) -> Any:
        told = self.told

        class Handle:
            async def signal(self, name: str, arg: Any, **_kw: Any) -> None:
                assert name == "move_version"
                await asyncio.sleep(0)  # let a racing pass interleave
                told.append(workflow_id)

        return Handle()


def _journey_with_waiting_runs(engine: Engine) -> tuple[str, list[tuple[int, str]]]:
    """A journey in v1 and v2, CUSTOMERS runs waiting at ``w`` of v1: (journey, runs)."""
    with Session(writer(engine), expire_on_commit=False) as s:
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="复购"), by="hq")
        for version in (1, 2):
            result = compile_document(DOC, journey_id=journey.id, version=version)
            assert result.journey is not None, [d.message for d in result.diagnostics]
            crud.publish_version(
                session=s,
                journey_id=journey.id,
                document=DOC,
                compiled=result.journey.to_dict(),
                content_hash=result.journey.content_hash,
                by="hq",
            )
        for n in range(CUSTOMERS):
            s.add(
                JourneyRun(
                    workflow_id=f"journey-{journey.id}-C{n}",
                    run_id=f"run-{n}",  # confirmed: the reconciler's start check leaves it
                    journey_id=journey.id,
                    journey_version=1,
                    customer_id=f"C{n}",
                    current_node="w",
                )
            )
        s.commit()
        runs = [
            (r.id or 0, r.workflow_id)
            for r in s.exec(
                select(JourneyRun)
                .where(JourneyRun.journey_id == journey.id)
                .order_by(col(JourneyRun.id))
            )
        ]
    return journey.id, runs


def _pass(engine: Engine, journey_id: str, cursor: int, lease_until: datetime) -> int:
    """A running pass that told the runs up to ``cursor`` under a process that is gone."""
    with Session(writer(engine)) as s:
        row = moves_crud.create_move(
            session=s,
            journey_id=journey_id,
            from_version=1,
            to_version=2,
            node_map={"w": "w"},
            total=CUSTOMERS,
            by="li",
            owner="web-1:4242:gone",
            lease_until=lease_until,
        )
        row.cursor, row.moved = cursor, TOLD_BEFORE
        s.add(row)
        s.commit()
        assert row.id is not None
        return row.id


def _move(engine: Engine, move_id: int) -> JourneyVersionMove:
    with Session(engine, expire_on_commit=False) as s:
        row = s.get(JourneyVersionMove, move_id)
        assert row is not None
        return row


async def test_two_reconcilers_resume_an_orphaned_pass_once_from_its_cursor(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moves, "PAGE_SIZE", 2)  # several pages, a cursor stored after each
    journey_id, runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, runs[TOLD_BEFORE - 1][0], utcnow() - timedelta(seconds=1))
    client = Signals()
    other = make_engine(db_url)  # a second web process: its own engine and pool
    try:
        first, second = await asyncio.gather(
            reconcile_once(engine=engine, client=client, task_queue="q"),  # type: ignore[arg-type]
            reconcile_once(engine=other, client=client, task_queue="q"),  # type: ignore[arg-type]
        )
    finally:
        other.dispose()
    assert first.moves_resumed + second.moves_resumed == 1
    # the pages done before the restart are not told again; every other run exactly once
    assert Counter(client.told) == Counter(w for _, w in runs[TOLD_BEFORE:])
    done = _move(engine, move_id)
    assert (done.status, done.moved, done.skipped, done.cursor) == (
        "done",
        CUSTOMERS,
        0,
        runs[-1][0],
    )
    assert done.lease_until is None and done.finished_at is not None
    # finished: the next rounds find nothing to resume
    again = await reconcile_once(engine=engine, client=client, task_queue="q")  # type: ignore[arg-type]
    assert again.moves_resumed == 0 and len(client.told) == CUSTOMERS - TOLD_BEFORE


def test_one_of_many_racing_claims_wins(engine: Engine, db_url: str) -> None:
    """The conditional UPDATE itself, from threads of two engines at the same moment."""
    journey_id, runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, 0, utcnow() - timedelta(minutes=5))
    other = make_engine(db_url)
    start = threading.Barrier(6)
    won: list[list[tuple[int, str]]] = []
    lock = threading.Lock()

    def claim(eng: Engine) -> None:
        start.wait()
        got = moves.claim_orphaned(engine=eng)
        with lock:
            won.append(got)

    threads = [threading.Thread(target=claim, args=(e,)) for e in [engine, other] * 3]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        other.dispose()
    claims = [c for got in won for c in got]
    assert [m for m, _ in claims] == [move_id]
    row = _move(engine, move_id)
    assert row.lease_owner == claims[0][1] and row.lease_until is not None
    assert row.lease_until > utcnow() + moves.LEASE - timedelta(seconds=30)


async def test_a_live_lease_is_left_alone(engine: Engine) -> None:
    journey_id, _runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, 0, utcnow() + timedelta(seconds=30))
    with Session(writer(engine)) as s:
        bt = _backtest(
            s, journey_id, status="running", lease_until=utcnow() + timedelta(seconds=30)
        )
        s.commit()
    client = Signals()
    result = await reconcile_once(engine=engine, client=client, task_queue="q")  # type: ignore[arg-type]
    assert (result.moves_resumed, result.backtests_interrupted, client.told) == (0, 0, [])
    row = _move(engine, move_id)
    assert (row.status, row.lease_owner) == ("running", "web-1:4242:gone")
    assert moves.move_json(row)["active"]  # another process runs it: no Resume button
    with Session(engine) as s:
        assert s.get(JourneyBacktest, bt).status == "running"  # type: ignore[union-attr]
        # pressing Resume meanwhile would run it twice: refused
        with pytest.raises(moves.MoveInputError) as refused:
            moves.resume_move(session=s, move_id=move_id)
        assert refused.value.status == 409


async def test_a_pass_that_lost_its_lease_stops(engine: Engine) -> None:
    """A stalled pass whose lease another process took tells nothing more."""
    journey_id, _runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, 0, utcnow() - timedelta(seconds=1))
    [(_, winner)] = moves.claim_orphaned(engine=engine)
    client = Signals()
    row = await moves.run_move(
        engine=engine,
        client=client,  # type: ignore[arg-type]
        move_id=move_id,
        owner="web-1:4242:gone",
    )
    assert client.told == [] and (row.status, row.lease_owner) == ("running", winner)
    with Session(writer(engine)) as s:
        kept = moves_crud.set_progress(
            session=s, move_id=move_id, cursor=99, moved=9, skipped=0, owner="web-1:4242:gone"
        )
        s.commit()
    assert not kept and _move(engine, move_id).cursor == 0


def test_resume_takes_a_failed_pass(engine: Engine) -> None:
    journey_id, _runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, 0, utcnow() + timedelta(minutes=1))
    with Session(writer(engine)) as s:
        moves_crud.set_progress(
            session=s, move_id=move_id, cursor=0, moved=0, skipped=0, status="failed", error="x"
        )
        s.commit()
    assert moves.claim_orphaned(engine=engine) == []  # failed: Resume is the marketer's call
    with Session(writer(engine), expire_on_commit=False) as s:
        row = moves.resume_move(session=s, move_id=move_id)
        s.commit()
    assert (row.status, row.error) == ("running", "")
    assert row.lease_owner and row.lease_until is not None and row.lease_until > utcnow()


def _backtest(
    session: Session, journey_id: str, *, status: str, lease_until: datetime | None
) -> int:
    row = backtest_crud.create_backtest(
        session=session,
        journey_id=journey_id,
        baseline_version=1,
        candidate="v2",
        candidate_version=2,
        candidate_document={},
        source="entered",
        segment_id=None,
        period_start=datetime(2026, 3, 1, tzinfo=UTC),
        period_end=datetime(2026, 4, 1, tzinfo=UTC),
        total=CUSTOMERS,
        by="hq",
        lease_until=lease_until,
    )
    row.status = status
    session.add(row)
    session.flush()
    assert row.id is not None
    return row.id


async def test_an_orphaned_backtest_is_marked_interrupted(engine: Engine) -> None:
    journey_id, _runs = _journey_with_waiting_runs(engine)
    past = utcnow() - timedelta(seconds=1)
    with Session(writer(engine)) as s:
        running = _backtest(s, journey_id, status="running", lease_until=past)
        queued = _backtest(s, journey_id, status="queued", lease_until=past)
        finished = _backtest(s, journey_id, status="done", lease_until=None)
        s.commit()
    result = await reconcile_once(engine=engine, client=Signals(), task_queue="q")  # type: ignore[arg-type]
    assert result.backtests_interrupted == 2
    with Session(engine) as s:
        rows = {i: s.get(JourneyBacktest, i) for i in (running, queued, finished)}
    for i in (running, queued):
        row = rows[i]
        assert row is not None
        assert (row.status, row.error) == ("failed", backtest.INTERRUPTED)
        assert row.finished_at is not None and row.lease_until is None
    assert rows[finished].status == "done"  # type: ignore[union-attr]
    # the old job, were it still alive somewhere, can no longer bring it back
    with Session(writer(engine)) as s:
        assert not backtest_crud.renew_lease(session=s, backtest_id=running, until=utcnow())
        assert not backtest_crud.set_progress(
            session=s, backtest_id=running, status="running", done=3
        )
        assert not backtest_crud.finish_backtest(session=s, backtest_id=running, result={})
        s.commit()
    with pytest.raises(backtest.BacktestAbandonedError):
        backtest._progress(engine, running, "running", 4)
    with Session(engine) as s:
        assert s.get(JourneyBacktest, running).status == "failed"  # type: ignore[union-attr]


def test_a_running_backtest_renews_its_lease(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The heartbeat thread keeps the lease ahead while the job works."""
    journey_id, _runs = _journey_with_waiting_runs(engine)
    with Session(writer(engine)) as s:
        bt = _backtest(s, journey_id, status="running", lease_until=utcnow())
        s.commit()
    monkeypatch.setattr(backtest, "HEARTBEAT", timedelta(milliseconds=10))

    def lease() -> datetime:
        with Session(engine) as s:
            row = s.get(JourneyBacktest, bt)
            assert row is not None and row.lease_until is not None
            return row.lease_until

    before = lease()
    with backtest._Heartbeat(engine, bt):
        for _ in range(500):  # wait on the row, not the clock
            if lease() > before + backtest.LEASE / 2:
                break
            threading.Event().wait(0.01)
    assert lease() > utcnow() + backtest.LEASE / 2


async def test_the_web_apps_reconciler_resumes_in_the_background(engine: Engine) -> None:
    """The web app's rounds start the claimed pass on their event loop and go on; the
    pass's progress (the dialog's bar) is on its row, and it is active meanwhile."""
    journey_id, runs = _journey_with_waiting_runs(engine)
    move_id = _pass(engine, journey_id, runs[TOLD_BEFORE - 1][0], utcnow() - timedelta(seconds=1))
    client = Signals()
    result = await reconcile_once(
        engine=engine,
        client=client,  # type: ignore[arg-type]
        task_queue="q",
        moves_in_background=True,
    )
    assert result.moves_resumed == 1
    for _ in range(500):  # wait on the row, not the clock
        if not moves.is_active(move_id):
            break
        await asyncio.sleep(0.01)
    assert _move(engine, move_id).status == "done"
    assert sorted(client.told) == sorted(w for _, w in runs[TOLD_BEFORE:])

"""What-if backtest (issue 17 item 1) on the hand-computed chain of
:mod:`tests.services.backtest_chain`; a version against itself; bad input."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from db.models.backtests import JourneyBacktest
from services import backtest
from services.backtest import BacktestInputError, BacktestRequest, BacktestSettings
from tests.services.backtest_chain import HORIZON, V1, seed

INLINE = BacktestSettings(workers=0, chunk=2)
PERIOD = BacktestRequest(start=date(2026, 3, 1), end=date(2026, 3, 31))


def _run(engine: Engine, journey_id: str, req: BacktestRequest) -> dict:
    with Session(engine) as session:
        row = backtest.prepare(
            session=session, journey_id=journey_id, req=req, by="hq", timezone="UTC"
        )
        session.commit()
        assert row.id is not None
        bid = row.id
    return backtest.run_backtest(
        engine=engine, backtest_id=bid, timezone="UTC", settings=INLINE, now=HORIZON
    )


def test_the_draft_against_the_live_version_by_hand(engine: Engine) -> None:
    with Session(engine) as session:
        jid = seed(session)
    result = _run(engine, jid, PERIOD)
    b, c = result["baseline"], result["candidate"]
    assert (result["customers"], result["runs"]) == (3, 3)
    assert b["ports"] == {
        "entry|next": 3,
        "wfe|matched": 1,
        "wfe|timeout": 2,
        "c|next": 1,
        "m|next": 1,
        "t|expired": 2,
        "x|(ended)": 3,
    }
    assert c["ports"] == {
        "entry|next": 3,
        "wfe|matched": 2,
        "wfe|timeout": 1,
        "c|next": 2,
        "m|next": 2,
        "x|(ended)": 2,
    }
    assert (b["waiting"], c["waiting"]) == ({}, {"t": 1})
    assert (b["beyond_history"], c["beyond_history"]) == (0, 1)
    assert (b["coupons"], b["coupon_value"], c["coupons"], c["coupon_value"]) == (1, 20, 2, 60)
    assert b["messages"] == {"sms|2026-03-04": 1}
    assert c["messages"] == {"sms|2026-03-04": 1, "sms|2026-03-06": 1}
    assert b["tasks"] == {"G1|2026-03-05": 1, "G1|2026-03-07": 1}
    assert c["tasks"] == {"G1|2026-03-09": 1}
    # no goal: any order within 14 days converts — A's ¥150, whatever the path
    assert (b["conversions"], b["revenue"], c["conversions"], c["revenue"]) == (1, 150, 1, 150)
    diff = result["diff"]
    assert (diff["coupons"], diff["coupon_value"], diff["beyond_history"]) == (1, 40, 1)
    assert diff["ports"] == {
        "wfe|matched": 1,
        "wfe|timeout": -1,
        "c|next": 1,
        "m|next": 1,
        "t|expired": -2,
        "x|(ended)": -1,
    }
    assert diff["messages"] == {"sms|2026-03-06": 1}
    assert diff["tasks"] == {"G1|2026-03-05": -1, "G1|2026-03-07": -1, "G1|2026-03-09": 1}
    task_rows = {(t["day"], t["baseline"], t["candidate"], t["capacity"]) for t in result["tasks"]}
    assert ("2026-03-09", 0, 1, 1) in task_rows
    assert result["over_capacity"] == {"baseline": 0, "candidate": 0}
    assert "beyond_history" in result["notes"]
    with Session(engine) as session:
        rows = session.exec(select(JourneyBacktest)).all()
        assert [(r.status, r.done, r.total) for r in rows] == [("done", 3, 3)]


def test_a_version_against_itself_has_no_difference(engine: Engine) -> None:
    with Session(engine) as session:
        jid = seed(session, draft_document=V1)
    for req in (
        PERIOD,
        BacktestRequest(candidate=1, start=date(2026, 3, 1), end=date(2026, 3, 31)),
    ):
        result = _run(engine, jid, req)
        assert backtest.is_zero(result["diff"]), result["diff"]
        assert result["baseline"] == result["candidate"]


def test_processes_give_the_same_numbers(engine: Engine) -> None:
    with Session(engine) as session:
        jid = seed(session)
    inline = _run(engine, jid, PERIOD)
    with Session(engine) as session:
        row = backtest.prepare(session=session, journey_id=jid, req=PERIOD, by="hq", timezone="UTC")
        session.commit()
        bid = row.id
    assert bid is not None
    pooled = backtest.run_backtest(
        engine=engine,
        backtest_id=bid,
        timezone="UTC",
        settings=BacktestSettings(workers=2, chunk=1),
        now=HORIZON,
    )
    assert pooled["baseline"] == inline["baseline"]
    assert pooled["candidate"] == inline["candidate"]


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (BacktestRequest(start=date(2025, 1, 1), end=date(2025, 1, 31)), "start"),
        (BacktestRequest(since_days=0), "since_days"),
        (BacktestRequest(start=date(2026, 3, 9), end=date(2026, 3, 1)), "end"),
        (BacktestRequest(candidate=7, start=date(2026, 3, 1)), "candidate"),
        (BacktestRequest(baseline=5), "baseline"),
        (BacktestRequest(source="everyone"), "source"),
        (BacktestRequest(source="segment"), "segment_id"),
    ],
)
def test_bad_requests_name_the_field(engine: Engine, req: BacktestRequest, field: str) -> None:
    with Session(engine) as session:
        jid = seed(session)
        with pytest.raises(BacktestInputError) as info:
            backtest.prepare(session=session, journey_id=jid, req=req, by="hq", timezone="UTC")
    assert info.value.field == field


def test_a_period_without_entries_is_explained(engine: Engine) -> None:
    with Session(engine) as session:
        jid = seed(session)
        with pytest.raises(BacktestInputError) as info:
            backtest.prepare(
                session=session,
                journey_id=jid,
                req=BacktestRequest(start=date(2026, 4, 1), end=date(2026, 4, 30)),
                by="hq",
                timezone="UTC",
            )
    assert "first customer entered on 2026-03-02" in info.value.message


def test_the_cli_prints_the_report(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from journeys.cli import app
    from settings import get_settings

    with Session(engine) as session:
        jid = seed(session)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("JOURNEYS_TIMEZONE", "UTC")
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            app, ["backtest", jid, "--draft", "--since", "365d", "--workers", "0"]
        )
        assert out.exit_code == 0, out.output
        assert "coupons" in out.output and "+1" in out.output
        bad = CliRunner().invoke(app, ["backtest", jid, "--since", "soon"])
        assert bad.exit_code == 2
    finally:
        get_settings.cache_clear()


def test_a_saved_segment_enters_at_the_start_of_the_period(engine: Engine) -> None:
    from db.models import Customer, Segment

    with Session(engine) as session:
        jid = seed(session)
        for cid in ("A", "B"):
            customer = session.get(Customer, cid)
            assert customer is not None
            customer.tags = ["回测"]
            session.add(customer)
        session.add(
            Segment(
                id="bt_ab",
                name="A and B",
                definition={
                    "match": "all",
                    "rules": [{"type": "tag", "tags": ["回测"], "match": "any"}],
                },
            )
        )
        session.commit()
    req = BacktestRequest(
        start=date(2026, 3, 2), end=date(2026, 3, 31), source="segment", segment_id="bt_ab"
    )
    result = _run(engine, jid, req)
    # both enter on 2026-03-02 00:00 UTC: A visits on day 4 (after 3 days in v1: timeout;
    # within 5 in the draft: matched), B on day 2 (matched in both)
    assert (result["customers"], result["runs"]) == (2, 2)
    assert result["baseline"]["ports"]["wfe|matched"] == 1
    assert result["candidate"]["ports"]["wfe|matched"] == 2


def test_cases_carry_every_order_for_the_metrics_as_of_each_moment(engine: Engine) -> None:
    """A branch on purchases or the average order reads, in a backtest, the stored metrics
    as of the moment it runs (engine.metrics from the recorded orders, never later ones)."""
    from engine.metrics import Purchase
    from services.backtest_load import Population, load_cases
    from tests.services.backtest_chain import DAY, T0

    with Session(engine) as session:
        journey_id = seed(session)
        cases = load_cases(
            session=session,
            pop=Population(journey_id, T0, HORIZON, version=1),
            horizon=HORIZON,
            entry_event_type=None,
            contacts_since=None,
        )
    by_id = {c.facts.customer_id: c for c in cases}
    assert by_id["A"].purchases == [Purchase(T0 + 4 * DAY, 150.0)]
    assert by_id["B"].purchases == [] and by_id["C"].purchases == []


def test_orders_are_read_only_when_a_version_reads_a_stored_metric() -> None:
    from engine.compiler import compile_document
    from engine.ir import CompiledJourney
    from services.backtest_load import reads_stored_metrics
    from tests.engine.sim import journey_doc

    def journey(condition: dict[str, object]) -> CompiledJourney:
        document = journey_doc(
            [
                {"id": "entry", "kind": "entry"},
                {
                    "id": "b",
                    "kind": "branch",
                    "config": {"rules": [{"id": "r", "conditions": [condition]}]},
                },
                {"id": "x", "kind": "exit"},
            ],
            [("entry", "next", "b"), ("b", "r", "x"), ("b", "else", "x")],
        )
        compiled = compile_document(document, journey_id="j", version=1).journey
        assert compiled is not None
        return compiled

    average = {"type": "metric", "field": "avg_order_amount", "op": "gte", "value": 800}
    contacts = {"type": "metric", "field": "contacts_7d", "op": "lte", "value": 1}
    tag = {"type": "tag", "tag": "VIP"}
    assert reads_stored_metrics([journey(tag), journey(average)])
    assert not reads_stored_metrics([journey(tag), journey(contacts)])

"""What-if backtest at chain scale, on SQLite.

    python -m bench.backtest [--customers 100000] [--workers 2] [--keep PATH]

Builds a throwaway SQLite file with the real schema (Alembic): ``bench.segment``'s chain
(customers, a year of orders, browse events) with 120 guides, the chain's coupon templates
and the second-purchase template published as v1 (entry on a purchase, a branch on the
purchase count, a care message after a day inside a send window, a coupon, its notice, a
reminder before it expires, a guide's call, a last wait for a purchase). Every customer
entered it once in the last 30 days on a recorded purchase; a third bought again within
20 days (purchase event and order). The draft gives the ¥30 coupon and waits 5 days at the
end instead of 3.

Then :func:`services.backtest.run_backtest` runs the draft against v1 exactly as the web
app's background job does (bulk load, worker processes, stored report) and prints, as
``key=value`` lines: ``customers``, ``journeys`` (customer-journeys simulated: customers ×
2 versions), ``load_s`` (reading history, overlapped with the simulation), ``total_s``,
``cpu_s`` (CPU seconds of this process and, as they report them, the workers' chunks —
not the workers' start-up), ``journeys_per_cpu_s``,
``journeys_per_s`` (wall clock; target ≥ 5,000 on 2 cores — on a shared machine it also
counts everyone else's load, ``journeys_per_cpu_s`` × 2 is what 2 idle cores give) and
``peak_rss_mb`` (this process's peak plus ``workers`` × the largest worker's peak: an
upper bound of the memory the backtest held at once).
"""

from __future__ import annotations

import argparse
import copy
import random
import resource
import sqlite3
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from bench.segment import NOW, STORES, _ts, generate
from db import crud, make_engine, upgrade
from db.models import JourneyCreate
from db.seed_data import COUPON_TEMPLATES
from services import backtest, journeys
from services.backtest import BacktestRequest, BacktestSettings
from templates_lib import instantiate

TZ = "Asia/Shanghai"
GUIDES = tuple(f"G{i:03d}" for i in range(1, 121))


def _draft(doc: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for node in out["nodes"]:
        if node["id"] == "coupon":
            node["config"]["coupon_template_id"] = "WAKE30"
        if node["id"] == "final_wait":
            node["config"]["timeout"]["amount"] = 5
    return out


def _prepare(path: Path, customers: int, rng: random.Random) -> str:
    url = f"sqlite:///{path}"
    upgrade(url)
    print(f"# generating {customers} customers", flush=True)
    generate(path, customers)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.executemany(
        "INSERT INTO guide (id, store_id, name, phone, role, daily_capacity, active) "
        "VALUES (?, ?, ?, '', 'guide', 30, 1)",
        [(g, STORES[i % len(STORES)], f"导购{g}") for i, g in enumerate(GUIDES)],
    )
    con.execute("UPDATE customer SET guide_id = printf('G%03d', (rowid % 120) + 1)")
    con.executemany(
        "INSERT INTO coupon_template (id, name, face_value, min_spend, validity_days, stock, "
        "issued_count, active) VALUES (?, ?, ?, ?, ?, ?, 0, 1)",
        COUPON_TEMPLATES,
    )
    con.commit()
    con.close()
    engine = make_engine(url)
    doc = instantiate("second_purchase")
    with Session(engine) as session:
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name="新客二回", draft_document=doc),
            by="bench",
        )
        outcome = journeys.publish(session=session, journey_id=journey.id, by="bench")
        assert outcome.ok, outcome.diagnostics
        crud.update_draft(session=session, journey_id=journey.id, document=_draft(doc), by="bench")
        session.commit()
        journey_id = journey.id
    engine.dispose()
    runs, events, orders = [], [], []
    for i in range(1, customers + 1):
        cid = f"C{i:07d}"
        at = NOW - timedelta(days=rng.uniform(0, 30))
        amount = float(rng.randint(60, 1500))
        # the run row is written just after the purchase that brought the customer in
        entered = _ts(at + timedelta(seconds=1))
        runs.append((f"journey-{journey_id}-{cid}", journey_id, cid, f"e{i}", entered))
        events.append((f"p-{cid}-0", cid, f'{{"amount": {amount}}}', _ts(at)))
        orders.append((cid, rng.choice(STORES), amount, _ts(at)))
        if rng.random() < 1 / 3:
            again = at + timedelta(days=rng.uniform(0.5, 20))
            if again < NOW:
                amount = float(rng.randint(60, 1500))
                events.append((f"p-{cid}-1", cid, f'{{"amount": {amount}}}', _ts(again)))
                orders.append((cid, rng.choice(STORES), amount, _ts(again)))
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.executemany(
        "INSERT INTO journey_run (workflow_id, journey_id, journey_version, customer_id, "
        "enrollment_id, status, entered_at, goal_reached) VALUES (?, ?, 1, ?, ?, 'exited', ?, 0)",
        runs,
    )
    con.executemany(
        "INSERT INTO customer_event (event_id, customer_id, type, properties, occurred_at, "
        "received_at) VALUES (?, ?, 'purchase', ?, ?, ?)",
        [(*e, e[3]) for e in events],
    )
    con.executemany(
        "INSERT INTO orders (customer_id, store_id, amount, channel, created_at) "
        "VALUES (?, ?, ?, 'store', ?)",
        orders,
    )
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return journey_id


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the database at this path; when it exists already, reuse it (no generation)",
    )
    args = parser.parse_args()
    rng = random.Random(17)
    with tempfile.TemporaryDirectory(prefix="journeys-backtest-") as tmp:
        path = args.keep or Path(tmp) / "backtest.db"
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        if path.exists():
            upgrade(url)
            con = sqlite3.connect(path)
            journey_id = con.execute("SELECT id FROM journey WHERE name = '新客二回'").fetchone()[0]
            con.close()
            print(f"# reusing {path}", flush=True)
        else:
            journey_id = _prepare(path, args.customers, rng)
            print(f"# generated in {time.perf_counter() - started:.1f}s", flush=True)
        engine = make_engine(url)
        today = NOW.date()
        with Session(engine) as session:
            row = backtest.prepare(
                session=session,
                journey_id=journey_id,
                req=BacktestRequest(start=today - timedelta(days=30), end=today),
                by="bench",
                timezone=TZ,
            )
            session.commit()
            assert row.id is not None
            bid = row.id
        settings = BacktestSettings(workers=args.workers, chunk=args.chunk)
        cpu0 = _cpu()
        t0 = time.perf_counter()
        result = backtest.run_backtest(
            engine=engine, backtest_id=bid, timezone=TZ, settings=settings, now=NOW
        )
        elapsed = time.perf_counter() - t0
        cpu = _cpu() - cpu0
        engine.dispose()
        b, c = result["baseline"], result["candidate"]
        sims = b["runs"] + c["runs"]
        print(
            f"# v1: coupons={b['coupons']} ¥{b['coupon_value']:.0f} "
            f"messages={sum(b['messages'].values())} tasks={sum(b['tasks'].values())} "
            f"conversions={b['conversions']} beyond_history={b['beyond_history']} "
            f"errors={sum(b['errors'].values())}"
        )
        print(
            f"# draft: coupons={c['coupons']} ¥{c['coupon_value']:.0f} "
            f"messages={sum(c['messages'].values())} tasks={sum(c['tasks'].values())} "
            f"conversions={c['conversions']} beyond_history={c['beyond_history']} "
            f"errors={sum(c['errors'].values())}"
        )
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        # the workers come from a fork server (not this process's children): they report
        # their own CPU and peak memory with each chunk
        timing = result["timing"]
        cpu += timing["worker_cpu_s"]
        child = timing["worker_peak_rss_mb"]
        print(f"customers={result['customers']}")
        print(f"journeys={sims}")
        print(f"load_s={result['timing']['load_s']}")
        print(f"total_s={elapsed:.1f}")
        print(f"cpu_s={cpu:.1f}")
        # what the work needs of 2 idle cores: the wall clock above also counts every other
        # process on a shared machine
        print(f"journeys_per_cpu_s={sims / cpu:.0f}")
        print(f"journeys_per_s={sims / elapsed:.0f}")
        print(f"peak_rss_mb={own + max(args.workers, 0) * child:.0f}")


if __name__ == "__main__":
    main()

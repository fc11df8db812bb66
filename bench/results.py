"""Journey results and attribution at chain scale, on SQLite.

    python -m bench.results [--customers 1000000] [--runs 1000000] [--keep PATH]

Builds a throwaway SQLite file with the real schema (Alembic): ``bench.segment``'s chain
(1,000,000 customers and ~2.5M orders over a year, 40 stores; a third of the orders made
online by customers bound to one of 120 guides), four published journeys and
``--runs`` journey runs over the year with their node visits and split sides — the
measured journey (新客二回: entry → A/B split with a holdout → wait for a purchase → coupon
→ exit, no goal so orders convert) holds 40 % of them. Then:

* ``build_s``: the results store counts everything from scratch (what an install upgrading
  to it does once, in steps, from the reconciler);
* ``results_ms``: what a marketer opening the journey's results waits for — the store
  catching up with the rows since the reconciler's last round (10 s at the install's peak:
  400 new runs with their visits — the dev server starts ~40 workflows/s — and 400 new
  orders) and then the funnel, conversions, revenue and the variant lift of the last 30
  days (median of 5; ``results_runs_ms`` lists them);
* ``results_year_ms``: the same for the longest period a report allows (a year);
* ``attribution_ms``: the attribution report of a month for HQ (store / guide credit by
  region, store and guide, and every journey's claimed orders — kept by the results store
  as ``order_claim``; best of 3, after the store caught up).

Last lines ``key=value``; targets: ``results_ms`` < 500, ``attribution_ms`` < 1000.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bench.segment import NOW, STORES, _ts, generate
from db import crud, make_engine, upgrade
from db.models import JourneyCreate
from services import attribution, lift, results, results_store
from services.accounts import Principal
from settings import Settings

TZ = "Asia/Shanghai"
GUIDES = tuple(f"G{i:03d}" for i in range(1, 121))
_RUNNING: set[str] = set()
#: runs (and orders) that arrive between two reconciler rounds at peak: 10 s x 40 starts/s
ROUND = 400


def _document(name: str, split: bool, goal: bool) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "entry", "kind": "entry", "label": "首购"}]
    edges = []
    if split:
        nodes.append(
            {
                "id": "s",
                "kind": "split",
                "label": "券测试",
                "config": {
                    "variants": [
                        {"id": "a", "label": "送券", "weight": 90},
                        {"id": "hold", "label": "对照组", "weight": 10, "holdout": True},
                    ]
                },
            }
        )
    nodes += [
        {
            "id": "w",
            "kind": "wait_for_event",
            "label": "等复购",
            "config": {"event_type": "purchase", "timeout": {"amount": 14, "unit": "days"}},
        },
        {"id": "c", "kind": "send_coupon", "label": "发券", "config": {"coupon_template_id": "T"}},
        {"id": "x", "kind": "exit", "label": "结束"},
    ]
    edges = [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "s" if split else "w"}
    ]
    settings = {"goal": {"event_type": "purchase", "value_property": "amount"}} if goal else {}
    return {"name": name, "settings": settings, "nodes": nodes, "edges": edges}


def _journeys(url: str) -> list[tuple[str, bool]]:
    """Publish the measured journey and three others → [(id, has a split)]."""
    engine = make_engine(url)
    out = []
    with Session(engine) as session:
        for name, split, goal in [
            ("新客二回", True, False),
            ("潜客激活", False, True),
            ("沉睡唤醒", False, False),
            ("会员日", False, True),
        ]:
            doc = _document(name, split, goal)
            journey = crud.create_journey(
                session=session, journey_create=JourneyCreate(name=name, draft_document=doc), by="b"
            )
            crud.publish_version(
                session=session,
                journey_id=journey.id,
                document=doc,
                compiled={},
                content_hash=name,
                by="b",
            )
            out.append((journey.id, split))
    engine.dispose()
    return out


def _runs(
    con: sqlite3.Connection,
    journeys: list[tuple[str, bool]],
    n: int,
    customers: int,
    rng: random.Random,
    *,
    first_id: int,
    latest: bool = False,
) -> int:
    """``n`` runs (ids from ``first_id``) with their visits and sides; ``latest``: all
    entered in the last hour (the rows a report has to catch up with). → visits written."""
    shares = [0.4, 0.2, 0.2, 0.2]
    runs, visits, sides = [], [], []
    for k in range(n):
        rid = first_id + k
        jid, split = rng.choices(journeys, shares)[0]
        cid = f"C{rng.randint(1, customers):07d}"
        age = rng.uniform(0, 1 / 24) if latest else rng.uniform(0, 365)
        at = NOW - timedelta(days=age)
        wid, enrollment = f"journey-{jid}-{cid}", f"e{rid}"
        path: list[tuple[str, str | None]] = [("entry", "next")]
        if split:
            side = "hold" if int(cid[1:]) % 10 == 0 else "a"  # stable per customer
            path.append(("s", side))
            sides.append((rid, jid, 1, "s", side))
        # one running run per workflow id (the database says so)
        waiting = age < 14 and rng.random() < 0.5 and wid not in _RUNNING
        if waiting:
            _RUNNING.add(wid)
        if not waiting:
            matched = rng.random() < 0.3
            path.append(("w", "matched" if matched else "timeout"))
            if matched:
                path.append(("c", "next"))
            path.append(("x", None))
        status, node = ("running", "w") if waiting else ("exited", "x")
        runs.append(
            (rid, wid, jid, 1, cid, enrollment, status, node, _ts(at), None if waiting else _ts(at))
        )
        for node_id, port in path:
            visits.append((wid, enrollment, jid, 1, cid, rid, node_id, 1, port, _ts(at)))
    con.executemany(
        "INSERT INTO journey_run (id, workflow_id, journey_id, journey_version, customer_id, "
        "enrollment_id, status, current_node, entered_at, exited_at, goal_reached) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
        runs,
    )
    con.executemany(
        "INSERT INTO node_visit (workflow_id, enrollment_id, journey_id, journey_version, "
        "customer_id, run_id, node_id, visit, port, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        visits,
    )
    con.executemany(
        "INSERT INTO journey_run_variant (run_id, journey_id, journey_version, node_id, variant) "
        "VALUES (?, ?, ?, ?, ?)",
        sides,
    )
    con.commit()
    return len(visits)


def _orders(con: sqlite3.Connection, n: int, customers: int, rng: random.Random) -> None:
    """``n`` orders made in the last hour."""
    rows = []
    for _ in range(n):
        at = NOW - timedelta(hours=rng.uniform(0, 1))
        online = rng.random() < 0.35
        rows.append(
            (
                f"C{rng.randint(1, customers):07d}",
                rng.choice(STORES),
                float(rng.randint(60, 1500)),
                "online" if online else "store",
                rng.choice(GUIDES) if online else None,
                _ts(at),
            )
        )
    con.executemany(
        "INSERT INTO orders (customer_id, store_id, amount, channel, bound_guide_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    con.commit()


def _prepare(path: Path, customers: int, runs: int, rng: random.Random) -> dict[str, Any]:
    url = f"sqlite:///{path}"
    upgrade(url)
    sizes: dict[str, Any] = dict(generate(path, customers))
    journeys = _journeys(url)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.executemany(
        "INSERT INTO guide (id, store_id, name, phone, role, daily_capacity, active) "
        "VALUES (?, ?, ?, '', 'guide', 30, 1)",
        [(g, STORES[i % len(STORES)], f"导购{g}") for i, g in enumerate(GUIDES)],
    )
    # a third of the orders online, by customers bound to a guide at the time
    con.execute(
        "UPDATE orders SET channel = 'online', "
        "bound_guide_id = printf('G%03d', (id % 120) + 1) WHERE id % 3 = 0"
    )
    con.commit()
    sizes["visits"] = 0
    step = 100_000
    for first in range(1, runs + 1, step):
        sizes["visits"] += _runs(
            con, journeys, min(step, runs - first + 1), customers, rng, first_id=first
        )
    con.execute("ANALYZE")
    con.commit()
    con.close()
    sizes["runs"] = runs
    sizes["journey"] = journeys[0][0]
    return sizes


def _sizes(path: Path) -> dict[str, Any]:
    con = sqlite3.connect(path)
    try:
        running = con.execute("SELECT workflow_id FROM journey_run WHERE status = 'running'")
        _RUNNING.update(w for (w,) in running)
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "customers": one("SELECT count(*) FROM customer"),
            "orders": one("SELECT count(*) FROM orders"),
            "visits": one("SELECT count(*) FROM node_visit"),
            "runs": one("SELECT max(id) FROM journey_run"),
            "journey": one("SELECT id FROM journey WHERE name = '新客二回'"),
        }
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument(
        "--keep",
        type=Path,
        help="keep the database at this path; when it exists already, reuse it (no generation)",
    )
    args = parser.parse_args()
    rng = random.Random(11)
    with tempfile.TemporaryDirectory(prefix="journeys-results-") as tmp:
        path = args.keep or Path(tmp) / "results.db"
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        if path.exists():
            upgrade(url)  # a database kept by an older release
            sizes = _sizes(path)
            print(f"reusing {path}: {sizes}", flush=True)
        else:
            sizes = _prepare(path, args.customers, args.runs, rng)
            print(f"generated {sizes} in {time.perf_counter() - started:.1f}s", flush=True)
        journey_id = sizes.pop("journey")
        engine = make_engine(url)
        t0 = time.perf_counter()
        steps = results_store.catch_up(engine=engine, timezone=TZ)
        build_s = time.perf_counter() - t0
        print(f"# results store built in {steps} steps", flush=True)

        zone = ZoneInfo(TZ)
        today = NOW.astimezone(zone).date()

        def report(days: int) -> tuple[Any, Any]:
            lo = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), zone)
            hi = datetime.combine(today + timedelta(days=1), datetime.min.time(), zone)
            results_store.catch_up(engine=engine, timezone=TZ)
            with Session(engine) as session:
                res = results.journey_results(
                    session=session, journey_id=journey_id, version=None, start=lo, end=hi
                )
                var = lift.variant_report(
                    session=session, journey_id=journey_id, version=None, start=lo, end=hi
                )
            return res, var

        # the statistics library is imported by a web process's first report, not each one
        import statsmodels.stats.proportion  # noqa: F401

        timings = []
        next_run = sizes["runs"] + 1
        for _ in range(5):
            con = sqlite3.connect(path)
            journeys = [(journey_id, True)] + [
                (j, False)
                for (j,) in con.execute("SELECT id FROM journey WHERE id != ?", (journey_id,))
            ]
            _runs(con, journeys, ROUND, args.customers, rng, first_id=next_run, latest=True)
            _orders(con, ROUND, args.customers, rng)
            con.close()
            next_run += ROUND
            t0 = time.perf_counter()
            res, var = report(30)
            timings.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        year, _ = report(365)
        year_ms = (time.perf_counter() - t0) * 1000
        split = var.splits[0]
        print(
            f"# last 30 days: entered={res.entered} conversions={res.conversions} "
            f"revenue={res.revenue:.0f} nodes="
            f"{[(n.node_id, n.entered, n.waiting) for n in res.nodes]}"
        )
        print(
            "# variants: "
            f"{[(v.variant, v.entered, v.conversions) for v in split.variants]} "
            f"lift={[(x.variant, x.status, x.lift, x.p_value) for x in split.lifts]}"
        )
        print(f"# last 365 days: entered={year.entered} conversions={year.conversions}")

        hq = Principal(user_id=1, username="hq", display_name="HQ", role="hq")
        settings = Settings(timezone=TZ)
        month_first = date(today.year, today.month, 1)
        att = []
        rep = None
        for _ in range(3):
            t0 = time.perf_counter()
            with Session(engine) as session:
                rep = attribution.report(
                    session=session,
                    actor=hq,
                    settings=settings,
                    first=month_first,
                    last=today,
                    today=today,
                )
            att.append((time.perf_counter() - t0) * 1000)
        assert rep is not None
        print(
            f"# attribution {month_first}..{today}: total={rep.total.total} "
            f"journeys={[(j.name, j.version, j.orders) for j in rep.journeys if j.version is None]}"
        )
        engine.dispose()
        print(f"runs={sizes['runs']}")
        print(f"visits={sizes['visits']}")
        print(f"orders={sizes['orders']}")
        print(f"build_s={build_s:.1f}")
        print(f"results_runs_ms={[round(t) for t in timings]}")
        print(f"results_year_ms={year_ms:.0f}")
        print(f"attribution_runs_ms={[round(t) for t in att]}")
        print(f"results_ms={statistics.median(timings):.0f}")
        print(f"attribution_ms={min(att):.0f}")


if __name__ == "__main__":
    main()

"""Segment evaluation at chain scale: 1,000,000 customers with orders in SQLite.

    python -m bench.segment [--customers 1000000] [--keep PATH]

Builds a throwaway SQLite file with the real schema (Alembic), fills it with generated
customers, orders and browse events through ``executemany`` (RFM scores and classes from
``db.rfm``'s own median and classify functions), then times a three-rule segment —
RFM class + tag + "browsed in the last 7 days" — compiled by ``audiences`` exactly as the
app does. Last lines: ``customers=…`` and ``segment_ms=…`` (best of 3 counts; target
< 2,000 ms).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

from audiences import compile_segment, count, parse_definition, sample
from db import make_engine, upgrade
from db.rfm import Medians, RfmScore, classify, compute_medians

NOW = datetime(2025, 6, 30, 12, 0, tzinfo=UTC)
TAGS = ("企业微信好友", "高客单", "孕期", "宝宝1岁", "价格敏感", "线上浏览")
TAG_SHARES = (0.45, 0.07, 0.08, 0.10, 0.15, 0.18)
LEVELS = ("regular", "silver", "gold", "diamond")
STORES = tuple(f"S{i:03d}" for i in range(1, 41))

SEGMENT = {
    "match": "all",
    "rules": [
        {"type": "field", "field": "rfm_class", "op": "in", "value": ["重要价值", "重要保持"]},
        {"type": "tag", "tags": ["企业微信好友"], "match": "any"},
        {"type": "event", "event_type": "browse", "window_days": 7, "op": "gte", "value": 1},
    ],
}


def _ts(moment: datetime) -> str:
    # the stored form of UTCDateTime on SQLite: naive UTC, ISO with a space
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def generate(path: Path, n: int, seed: int = 7) -> dict[str, int]:
    """Fill the migrated database at ``path`` with ``n`` customers, orders and events."""
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("INSERT INTO region (id, name) VALUES ('R1', '华东')")
    con.executemany(
        "INSERT INTO store (id, region_id, name, city, timezone) VALUES (?, 'R1', ?, '上海', "
        "'Asia/Shanghai')",
        [(s, f"门店{s}") for s in STORES],
    )
    scores: list[RfmScore] = []
    people: list[tuple[Any, ...]] = []
    orders: list[tuple[Any, ...]] = []
    events: list[tuple[Any, ...]] = []
    for i in range(1, n + 1):
        cid = f"C{i:07d}"
        kind = rng.random()
        count_ = 0 if kind < 0.08 else rng.choice((1, 1, 2, 2, 3, 4, 6))
        days = sorted(rng.uniform(0.5, 360) for _ in range(count_))
        amounts = [float(rng.randint(60, 1500)) for _ in range(count_)]
        for d, amount in zip(days, amounts, strict=True):
            orders.append((cid, rng.choice(STORES), amount, "store", _ts(NOW - timedelta(days=d))))
        if rng.random() < 0.15:
            for k in range(rng.randint(1, 3)):
                at = NOW - timedelta(days=rng.uniform(0, 14))
                events.append((f"b-{cid}-{k}", cid, "browse", "{}", _ts(at), _ts(at)))
        tags = [t for t, share in zip(TAGS, TAG_SHARES, strict=True) if rng.random() < share]
        score = RfmScore(
            cid,
            int(days[0]) if days else None,
            count_,
            sum(amounts),
            int(days[-1] - days[0]) if days else None,
        )
        scores.append(score)
        people.append(
            (
                cid,
                f"客户{i}",
                rng.choice(LEVELS),
                rng.choice(STORES),
                json.dumps(tags, ensure_ascii=False),
                date(1970 + rng.randint(0, 35), rng.randint(1, 12), rng.randint(1, 28)).isoformat(),
                _ts(NOW - timedelta(days=days[-1] if days else 10) - timedelta(days=30)),
                _ts(NOW - timedelta(days=days[-1])) if days else None,
                _ts(NOW - timedelta(days=days[0])) if days else None,
            )
        )
    medians: Medians = compute_medians(scores)
    rows = [
        (*p, classify(s, medians), s.r_days, s.f_count, s.m_amount, s.l_days)
        for p, s in zip(people, scores, strict=True)
    ]
    con.executemany(
        "INSERT INTO customer (id, name, member_level, store_id, tags, birthday, created_at, "
        "first_purchase_at, last_purchase_at, rfm_class, r_days, f_count, m_amount, l_days, "
        "phone, gender, timezone, attributes, opted_out_channels) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 'F', 'Asia/Shanghai', '{}', '[]')",
        rows,
    )
    con.executemany(
        "INSERT INTO orders (customer_id, store_id, amount, channel, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        orders,
    )
    con.executemany(
        "INSERT INTO customer_event (event_id, customer_id, type, properties, occurred_at, "
        "received_at) VALUES (?, ?, ?, ?, ?, ?)",
        events,
    )
    con.commit()
    con.execute("ANALYZE")
    con.commit()
    con.close()
    return {"customers": n, "orders": len(orders), "events": len(events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--keep", type=Path, help="keep the database at this path")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="journeys-segment-") as tmp:
        path = args.keep or Path(tmp) / "segment.db"
        url = f"sqlite:///{path}"
        started = time.perf_counter()
        upgrade(url)
        sizes = generate(path, args.customers)
        print(f"generated {sizes} in {time.perf_counter() - started:.1f}s", flush=True)
        engine = make_engine(url)
        compiled = compile_segment(parse_definition(SEGMENT), now=NOW)
        timings, matched = [], 0
        with Session(engine) as session:
            for _ in range(3):
                t0 = time.perf_counter()
                matched = count(session, compiled)
                timings.append((time.perf_counter() - t0) * 1000)
            first = [r.id for r in sample(session, compiled, limit=3)]
        engine.dispose()
        print(f"segment: {json.dumps(SEGMENT, ensure_ascii=False)}")
        print(f"matched={matched} sample={first} runs_ms={[round(t) for t in timings]}")
        print(f"customers={sizes['customers']}")
        print(f"segment_ms={min(timings):.0f}")


if __name__ == "__main__":
    main()

"""The journey claims the results store keeps (services.results_store, read by the
attribution report) against a brute-force computation on random data (windows per version,
runs and guide tasks as touches, last and first touch; the rows arrive in two halves with
a count between, so the claims are kept incrementally), SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from db import crud
from db.crud import results as store_sql
from db.models import Customer, Guide, GuideTask, Journey, JourneyRun, Order, Region, Store
from services.results_store import ClaimRule
from tests.results.fixtures import count_results

T0 = datetime(2026, 5, 1, tzinfo=UTC)
SINCE, UNTIL = T0 + timedelta(days=20), T0 + timedelta(days=50)
WINDOWS = {("J0", 1): 3.0, ("J1", 2): 0.5}
#: the goal windows of those versions, as their documents say them
GOAL_WINDOWS = {
    ("J0", 1): {"amount": 3, "unit": "days"},
    ("J1", 2): {"amount": 12, "unit": "hours"},
}
DEFAULT = 7.0


def _moment(rng: random.Random) -> datetime:
    return T0 + timedelta(seconds=rng.randrange(60 * 86400))


@pytest.mark.parametrize("seed", [1, 2])
def test_claims_match_brute_force(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    session.add(Region(id="R", name="R"))
    session.flush()
    session.add(Store(id="S", region_id="R", name="S", city="c"))
    session.flush()
    session.add(Guide(id="G", store_id="S", name="G"))
    for n in range(3):
        session.add(Journey(id=f"J{n}", name=f"J{n}"))
        session.flush()
        for v in (1, 2):
            window = GOAL_WINDOWS.get((f"J{n}", v))
            goal = {"event_type": "purchase", **({"window": window} if window else {})}
            doc = {"name": f"J{n}", "settings": {"goal": goal}, "nodes": [], "edges": []}
            crud.publish_version(
                session=session,
                journey_id=f"J{n}",
                document=doc,
                compiled={},
                content_hash=f"J{n}{v}",
                by="t",
            )
    customers = [f"C{i}" for i in range(25)]
    for cid in customers:
        session.add(Customer(id=cid, name=cid, created_at=T0 - timedelta(days=1)))
    session.commit()
    touches: list[tuple[str, datetime, str, int, int | None]] = []  # customer, at, j, v, run
    for i in range(120):
        cid, at = rng.choice(customers), _moment(rng)
        j, v = f"J{rng.randrange(3)}", rng.randrange(1, 3)
        session.add(
            JourneyRun(
                id=i + 1,
                workflow_id=f"w{i}",
                journey_id=j,
                journey_version=v,
                customer_id=cid,
                status="exited",
                entered_at=at,
            )
        )
        touches.append((cid, at, j, v, i + 1))
    for i in range(40):
        cid, at = rng.choice(customers), _moment(rng)
        j, v = f"J{rng.randrange(3)}", rng.randrange(1, 3)
        session.add(
            GuideTask(
                id=f"T{i}",
                idempotency_key=f"T{i}",
                customer_id=cid,
                guide_id="G",
                journey_id=j,
                journey_version=v,
                task_type="call",
                title="t",
                status=rng.choice(("completed", "completed", "open")),
                due_at=at,
                completed_at=at,
            )
        )
        session.flush()
    orders: list[tuple[int, str, datetime, float]] = []
    for i in range(300):
        cid, at, amount = rng.choice(customers), _moment(rng), float(rng.randrange(1, 500))
        session.add(Order(id=i + 1, customer_id=cid, amount=amount, created_at=at))
        orders.append((i + 1, cid, at, amount))
        if i == 150:  # half the orders counted first, then the rest
            count_results(session, "UTC", ClaimRule(DEFAULT, True))
    session.commit()
    tasks = [
        (t.customer_id, t.completed_at, t.journey_id or "", t.journey_version or 0, None)
        for t in session.exec(select(GuideTask).where(GuideTask.status == "completed"))
    ]
    all_touches = touches + [(c, a, j, v, r) for c, a, j, v, r in tasks if a is not None]
    for last in (True, False):
        expected: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
        for _oid, cid, at, amount in orders:
            if not SINCE <= at < UNTIL:
                continue
            claims = [
                (t_at, j, v)
                for c, t_at, j, v, _r in all_touches
                if c == cid
                and t_at.replace(tzinfo=UTC) <= at
                and at < t_at.replace(tzinfo=UTC) + timedelta(days=WINDOWS.get((j, v), DEFAULT))
            ]
            if not claims:
                continue
            # ties on the moment go to the smaller journey id, as the SQL orders them
            ordered = sorted(
                claims, key=lambda c: (c[0], c[1]) if not last else (-c[0].timestamp(), c[1])
            )
            _, j, v = ordered[0]
            expected[(j, v)][0] += 1
            expected[(j, v)][1] += amount
        assert len(expected) >= 3  # the random chain does exercise the claims
        count_results(session, "UTC", ClaimRule(DEFAULT, last))
        got: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0, 0.0])
        for j, v, _run, n, r in store_sql.claimed(session=session, since=SINCE, until=UNTIL):
            got[(j, v)][0] += n
            got[(j, v)][1] += r
        assert {k: (int(n), round(r, 2)) for k, (n, r) in got.items()} == {
            k: (int(n), round(r, 2)) for k, (n, r) in expected.items()
        }

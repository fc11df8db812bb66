"""The maintained results (services.results_store) against a brute-force computation on
random data (issue 14, "Speed": "a test must compare them with a brute-force computation").

Random customers enter two journeys (one with an event goal over two versions, the second
version without a goal so orders convert; one with a split), their runs are recorded by the
run recorder's crud with visits and sides, goal and other events and orders arrive, some
late and out of order, some visits come from before ``node_visit.run_id`` existed, and a
run row that never started is deleted. The store counts after random batches (so it works
incrementally); at the end the reports read from it must equal what a straightforward pass
over every row says, for several periods and versions, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert
from sqlmodel import Session, select

from db import crud
from db.crud.runs import RunReport
from db.crud.visits import VisitReport
from db.models import (
    Customer,
    CustomerEvent,
    JourneyCreate,
    JourneyRun,
    JourneyRunVariant,
    NodeVisit,
    Order,
)
from services import goals, lift, results
from tests.results.fixtures import count_results

TZ = "Asia/Shanghai"
SH = ZoneInfo(TZ)
T0 = datetime(2026, 5, 1, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai

GOAL = {
    "event_type": "purchase",
    "filters": [{"field": "amount", "op": "gte", "value": 50}],
    "window": {"amount": 5, "unit": "days"},
    "value_property": "amount",
}


def _doc(goal: dict[str, Any] | None, split: bool) -> dict[str, Any]:
    nodes: list[dict[str, Any]] = [{"id": "entry", "kind": "entry", "label": "in"}]
    if split:
        nodes.append(
            {
                "id": "s",
                "kind": "split",
                "label": "test",
                "config": {
                    "variants": [
                        {"id": "a", "label": "A", "weight": 50},
                        {"id": "h", "label": "H", "weight": 50, "holdout": True},
                    ]
                },
            }
        )
    nodes += [
        {"id": "w", "kind": "wait_for_event", "label": "wait"},
        {"id": "x", "kind": "exit", "label": "out"},
    ]
    return {"name": "r", "settings": {"goal": goal} if goal else {}, "nodes": nodes, "edges": []}


def _publish(session: Session, name: str, docs: list[dict[str, Any]]) -> str:
    journey = crud.create_journey(
        session=session, journey_create=JourneyCreate(name=name, draft_document=docs[0]), by="t"
    )
    for n, doc in enumerate(docs):
        crud.publish_version(
            session=session,
            journey_id=journey.id,
            document=doc,
            compiled={},
            content_hash=f"{name}{n}",
            by="t",
        )
    return journey.id


def _path(rng: random.Random, split: bool) -> list[tuple[str, str | None]]:
    """(node, port) visits of one run; the last one may be an end (port None) or missing
    (the run still waits at ``w``)."""
    path: list[tuple[str, str | None]] = [("entry", "next")]
    if split:
        path.append(("s", rng.choice(["a", "h"])))
    for _ in range(rng.randint(0, 2)):  # a loop through the wait
        path.append(("w", rng.choice(["matched", "timeout"])))
    if rng.random() < 0.8:
        path.append(("x", None))
    return path


def _seed_and_count(session: Session, rng: random.Random) -> tuple[str, str]:
    j1 = _publish(session, "goal", [_doc(GOAL, False), _doc(None, False)])
    j2 = _publish(session, "split", [_doc({**GOAL, "window": None}, True)])
    customers = [f"K{i}" for i in range(12)]
    for c in customers:
        session.add(Customer(id=c, name=c))
    session.commit()
    actions: list[Any] = []
    for c in customers:
        side = rng.choice(["a", "h"])  # stable per (journey, customer)
        for k in range(rng.randint(0, 3)):
            jid = rng.choice([j1, j2])
            version = rng.choice([1, 2]) if jid == j1 else 1
            at = T0 + timedelta(hours=rng.randint(0, 20 * 24))
            actions.append(("run", c, jid, version, at, k, side))
        for k in range(rng.randint(0, 4)):
            at = T0 + timedelta(hours=rng.randint(0, 24 * 24))
            etype = rng.choice(["purchase", "purchase", "store_visit"])
            actions.append(("event", c, etype, at, rng.choice([10, 60, 120, "x"]), k))
        for k in range(rng.randint(0, 3)):
            actions.append(("order", c, T0 + timedelta(hours=rng.randint(0, 24 * 24)), k))
    rng.shuffle(actions)  # late and out of order
    for n, action in enumerate(actions):
        kind = action[0]
        if kind == "run":
            _, c, jid, version, at, k, side = action
            wid = f"journey-{jid}-{c}"
            path = _path(rng, jid == j2)
            ended = path[-1][1] is None
            visits = tuple(
                VisitReport(node, 1 + sum(1 for p in path[:i] if p[0] == node), port, at)
                for i, (node, port) in enumerate(path)
            )
            enrollment = f"e{k}-{n}"
            first = RunReport(
                wid, jid, version, c, "running", "entry", at=at, enrollment_id=enrollment
            )
            last = RunReport(
                wid,
                jid,
                version,
                c,
                "exited" if ended else "running",
                path[-1][0] if ended else "w",
                exit_reason="exit" if ended else None,
                at=at + timedelta(minutes=5),
                enrollment_id=enrollment,
                visits=visits,
                variants=(("s", side),) if jid == j2 else (),
            )
            if ended and rng.random() < 0.15:
                # recorded before node_visit.run_id: the visits carry no run id
                crud.upsert_runs(session=session, reports=[first, replace(last, visits=())])
                session.execute(
                    insert(NodeVisit),
                    [
                        {
                            "workflow_id": wid,
                            "enrollment_id": enrollment,
                            "journey_id": jid,
                            "journey_version": version,
                            "customer_id": c,
                            "node_id": v.node_id,
                            "visit": v.visit,
                            "port": v.port,
                            "at": v.at,
                            "run_id": None,
                        }
                        for v in visits
                    ],
                )
                session.commit()
            else:
                crud.upsert_runs(session=session, reports=[first, last])
        elif kind == "event":
            _, c, etype, at, amount, k = action
            session.add(
                CustomerEvent(
                    event_id=f"ev-{c}-{k}-{n}",
                    customer_id=c,
                    type=etype,
                    properties={"amount": amount},
                    occurred_at=at,
                )
            )
            session.commit()
        else:
            _, c, at, k = action
            session.add(Order(customer_id=c, amount=float(rng.randint(1, 300)), created_at=at))
            session.commit()
        if rng.random() < 0.15:
            count_results(session, TZ)
    # a claimed run whose workflow never started: counted, then deleted
    ghost = crud.upsert_run(
        session=session,
        workflow_id="ghost",
        journey_id=j1,
        journey_version=1,
        customer_id="K0",
        status="running",
        at=T0 + timedelta(days=2),
    )
    count_results(session, TZ)
    assert ghost.id is not None
    crud.delete_run(session=session, row_id=ghost.id)
    count_results(session, TZ)
    return j1, j2


# ------------------------------------------------------------------ the brute force


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _brute(session: Session) -> dict[str, Any]:
    """Every run's day, conversion, revenue, ended node and first exposures, and every
    visit's run, straight from the rows."""
    runs = list(session.exec(select(JourneyRun)))
    rules = _rules(session)
    conv: dict[int, list[Any]] = {r.id: [False, 0.0] for r in runs if r.id is not None}
    events = list(session.exec(select(CustomerEvent)))
    orders = list(session.exec(select(Order)))
    for r_customer, r_journey in {(r.customer_id, r.journey_id) for r in runs}:
        mine = sorted(
            (_utc(r.entered_at), r.id, r.journey_version)
            for r in runs
            if r.customer_id == r_customer and r.journey_id == r_journey
        )
        happenings = [
            (_utc(e.occurred_at), e.type, e.properties or {}, None)
            for e in events
            if e.customer_id == r_customer
        ] + [
            (_utc(o.created_at), None, {}, o.amount) for o in orders if o.customer_id == r_customer
        ]
        for at, etype, props, amount in happenings:
            before = [m for m in mine if m[0] <= at]
            if not before:
                continue
            entered, run_id, version = before[-1]
            goal = rules[(r_journey, version)]
            if at > entered + goal.window:
                continue
            if goal.event_type is None:
                if amount is None:
                    continue
                value = amount
            else:
                if etype is None or not goal.matches(etype, props):
                    continue
                value = goal.value(props)
            conv[run_id][0] = True
            conv[run_id][1] += value
    visits = list(session.exec(select(NodeVisit)))
    owner: dict[int, int] = {}
    for v in visits:
        assert v.id is not None
        if v.run_id is not None:
            owner[v.id] = v.run_id
            continue
        same = sorted((_utc(r.entered_at), r.id) for r in runs if r.workflow_id == v.workflow_id)
        before = [rid for at, rid in same if at <= _utc(v.at)]
        owner[v.id] = before[-1] if before else same[0][1]
    ended = {owner[v.id]: v.node_id for v in visits if v.port is None and v.id is not None}
    sides = list(session.exec(select(JourneyRunVariant)))
    first: dict[tuple[str, str, str], tuple[tuple[datetime, int], str, int]] = {}
    by_id = {r.id: r for r in runs}
    for s in sides:
        r = by_id[s.run_id]
        key = (r.journey_id, s.node_id, r.customer_id)
        rank = (_utc(r.entered_at), s.run_id)
        if key not in first or rank < first[key][0]:
            first[key] = (rank, s.variant, s.run_id)
    return {
        "runs": runs,
        "conv": conv,
        "visits": visits,
        "owner": owner,
        "ended": ended,
        "first": first,
        "by_id": by_id,
    }


def _rules(session: Session) -> dict[tuple[str, int], goals.Goal]:
    from db.models import JourneyVersion

    return {
        (v.journey_id, v.version): goals.goal_of(v.document) or goals.ANY_ORDER
        for v in session.exec(select(JourneyVersion))
    }


def _day(at: datetime) -> date:
    return _utc(at).astimezone(SH).date()


def _expected(b: dict[str, Any], jid: str, version: int | None, first: date, last: date) -> Any:
    def ours(r: JourneyRun) -> bool:
        return (
            r.journey_id == jid
            and (version is None or r.journey_version == version)
            and first <= _day(r.entered_at) <= last
        )

    cohort = {r.id for r in b["runs"] if ours(r)}
    entered = len(cohort)
    conversions = sum(1 for rid in cohort if b["conv"][rid][0])
    revenue = round(sum(b["conv"][rid][1] for rid in cohort if b["conv"][rid][0]), 2)
    ports: Counter[tuple[str, str | None]] = Counter()
    for v in b["visits"]:
        if b["owner"].get(v.id) in cohort:
            ports[(v.node_id, v.port)] += 1
    converted_at: Counter[str] = Counter(
        node for rid, node in b["ended"].items() if rid in cohort and b["conv"][rid][0]
    )
    waiting = Counter(r.current_node for r in b["runs"] if r.id in cohort and r.status == "running")
    variants: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for (j, node, _c), (_rank, variant, rid) in b["first"].items():
        if j == jid and rid in cohort:
            acc = variants[(node, variant)]
            acc[0] += 1
            if b["conv"][rid][0]:
                acc[1] += 1
                acc[2] += b["conv"][rid][1]
    return entered, conversions, revenue, ports, converted_at, waiting, variants


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_the_maintained_results_equal_a_brute_force_count(session: Session, seed: int) -> None:
    rng = random.Random(seed)
    j1, j2 = _seed_and_count(session, rng)
    b = _brute(session)
    periods = [
        (date(2026, 5, 1), date(2026, 5, 31)),
        (date(2026, 5, 3), date(2026, 5, 9)),
        (date(2026, 5, 12), date(2026, 5, 12)),
    ]
    for jid, version in [(j1, None), (j1, 1), (j1, 2), (j2, None)]:
        for first, last in periods:
            lo = datetime.combine(first, datetime.min.time(), SH)
            hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), SH)
            got = results.journey_results(
                session=session, journey_id=jid, version=version, start=lo, end=hi
            )
            entered, conversions, revenue, ports, converted_at, waiting, variants = _expected(
                b, jid, version, first, last
            )
            where = f"seed {seed}, {jid} v{version}, {first}…{last}"
            assert (got.entered, got.conversions, got.revenue) == (
                entered,
                conversions,
                pytest.approx(revenue),
            ), where
            for n in got.nodes:
                assert n.ended == ports[(n.node_id, None)], where
                assert n.converted == converted_at[n.node_id], where
                assert n.waiting == waiting[n.node_id], where
                for p in n.ports:
                    assert p.count == ports[(n.node_id, p.port)], where
            counted = {(n.node_id, p.port) for n in got.nodes for p in n.ports if p.count}
            counted |= {(n.node_id, None) for n in got.nodes if n.ended}
            assert counted == {k for k, c in ports.items() if c}, where
            if jid == j2:
                report = lift.variant_report(
                    session=session, journey_id=jid, version=version, start=lo, end=hi
                )
                seen = {
                    ("s", v.variant): (v.entered, v.conversions, v.revenue)
                    for v in report.splits[0].variants
                }
                for key, (c, k, r) in variants.items():
                    assert seen[key][:2] == (c, k), where
                    assert seen[key][2] == pytest.approx(r), where
                assert sum(x[0] for x in seen.values()) == sum(x[0] for x in variants.values())

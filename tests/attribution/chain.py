"""A small chain with known orders, journeys and tasks (March 2026, Asia/Shanghai); the
expected attribution is worked out by hand in the tests next to it.

Regions R1 (S1, S2) and R2 (S3). Guides G1, G2 in S1; G3 in S2; G4 in S3.
C1 bound to G1; C2 bound to G2 until 10 March, then G1; C3 to G3; C4 to nobody; C5 to G4.

Orders (UTC; 04:00 is noon in Shanghai):
  o1  C1  in store S1   100  2 Mar
  o2  C1  online        200  4 Mar   (G1)
  o3  C2  online         50  5 Mar   (G2, bound then)
  o4  C2  online         70 15 Mar   (G1, bound since the 10th)
  o5  C3  in store S1    30  8 Mar   (C3 shops at S1, though bound to G3 of S2)
  o6  C3  online        300 12 Mar   (G3)
  o7  C4  online S3      40  6 Mar   (nobody bound: the order's store S3)
  o8  C5  in store S3    25 20 Mar
  o9  C1  online        999 20 Feb   (before the period)
  o10 C4  online         11 21 Mar   (no store, no guide: unattributed)

Journeys: J1 v1 (no goal window: 14 days), J2 v1 (goal window 3 days).
  run r1  J1 C1 entered 1 Mar 00:00     run r2  J2 C1 entered 3 Mar 00:00
  run r3  J1 C3 entered 25 Feb 00:00
Tasks (completed): T1 G2 C2 J2 4 Mar 00:00; T2 G1 C1 J1 1 Mar 12:00; T3 G1 C5 J1 22 Mar.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import Session

from db import crud
from db.models import (
    Customer,
    CustomerUpdate,
    Guide,
    GuideTask,
    Journey,
    JourneyRun,
    JourneyVersion,
    OrderCreate,
    Region,
    Store,
)

TODAY = date(2026, 3, 31)
MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def at(month: int, day: int, hour: int = 4) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=UTC)


def build(session: Session) -> None:
    session.add(Region(id="R1", name="华东"))
    session.add(Region(id="R2", name="华南"))
    session.commit()
    for sid, rid, name in (
        ("S1", "R1", "南京西路店"),
        ("S2", "R1", "徐家汇店"),
        ("S3", "R2", "天河店"),
    ):
        session.add(Store(id=sid, region_id=rid, name=name, city="上海"))
    session.commit()
    for gid, sid, role in (
        ("G1", "S1", "guide"),
        ("G2", "S1", "store_manager"),
        ("G3", "S2", "guide"),
        ("G4", "S3", "guide"),
    ):
        session.add(Guide(id=gid, store_id=sid, name=f"导购{gid}", role=role))
    session.commit()
    created = at(1, 1)
    bindings: tuple[tuple[str, str, str | None], ...] = (
        ("C1", "S1", "G1"),
        ("C2", "S1", "G2"),
        ("C3", "S2", "G3"),
        ("C4", "S3", None),
        ("C5", "S3", "G4"),
    )
    for cid, sid, bound in bindings:
        customer = Customer(id=cid, name=f"顾客{cid}", store_id=sid, created_at=created)
        session.add(customer)
        session.flush()
        crud.bind_guide(session=session, customer=customer, guide_id=bound, at=created)
    session.commit()
    crud.update_customer(
        session=session,
        customer_id="C2",
        customer_update=CustomerUpdate(guide_id="G1"),
        at=at(3, 10),
    )
    for cid, channel, store, amount, moment in (
        ("C1", "store", "S1", 100, at(3, 2)),
        ("C1", "online", None, 200, at(3, 4)),
        ("C2", "online", None, 50, at(3, 5)),
        ("C2", "online", None, 70, at(3, 15)),
        ("C3", "store", "S1", 30, at(3, 8)),
        ("C3", "online", None, 300, at(3, 12)),
        ("C4", "online", "S3", 40, at(3, 6)),
        ("C5", "store", "S3", 25, at(3, 20)),
        ("C1", "online", None, 999, at(2, 20)),
        ("C4", "online", None, 11, at(3, 21)),
    ):
        crud.create_order(
            session=session,
            order_create=OrderCreate(
                customer_id=cid, channel=channel, store_id=store, amount=amount, created_at=moment
            ),
        )
    for jid, name, window in (
        ("J1", "新客二回", None),
        ("J2", "沉睡唤醒", {"amount": 3, "unit": "days"}),
    ):
        session.add(Journey(id=jid, name=name, status="live", live_version=1))
        session.flush()
        goal = {"event_type": "purchase", "filters": [], **({"window": window} if window else {})}
        session.add(
            JourneyVersion(
                journey_id=jid,
                version=1,
                document={"name": name, "settings": {"goal": goal}},
                compiled={"t": "CompiledJourney", "goal": {"t": "Goal", "event_type": "purchase"}},
                content_hash=jid,
            )
        )
    session.commit()
    for i, (jid, cid, entered) in enumerate(
        (("J1", "C1", at(3, 1, 0)), ("J2", "C1", at(3, 3, 0)), ("J1", "C3", at(2, 25, 0))), 1
    ):
        session.add(
            JourneyRun(
                id=i,
                workflow_id=f"wf-{i}",
                journey_id=jid,
                journey_version=1,
                customer_id=cid,
                status="exited",
                entered_at=entered,
            )
        )
    for tid, gid, sid, cid, jid, done in (
        ("T1", "G2", "S1", "C2", "J2", at(3, 4, 0)),
        ("T2", "G1", "S1", "C1", "J1", at(3, 1, 12)),
        ("T3", "G1", "S1", "C5", "J1", at(3, 22)),
    ):
        session.add(
            GuideTask(
                id=tid,
                idempotency_key=tid,
                customer_id=cid,
                guide_id=gid,
                store_id=sid,
                journey_id=jid,
                journey_version=1,
                task_type="call",
                title=f"回访 {cid}",
                status="completed",
                outcome="reached",
                due_at=done,
                created_at=done,
                completed_at=done,
            )
        )
    session.commit()

"""A small journey with known visits, orders and conversions (issue 14's results)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session

from db import crud
from db.crud.runs import RunReport
from db.crud.visits import VisitReport
from db.models import CustomerEvent, JourneyCreate

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
DAY = timedelta(days=1)

DOC: dict[str, Any] = {
    "name": "新客二回",
    "settings": {
        "goal": {
            "event_type": "purchase",
            "filters": [{"field": "amount", "op": "gte", "value": 100}],
            "window": {"amount": 7, "unit": "days"},
            "value_property": "amount",
        }
    },
    "nodes": [
        {"id": "entry", "kind": "entry", "label": "首购", "position": {"x": 0, "y": 160}},
        {
            "id": "wfe",
            "kind": "wait_for_event",
            "label": "等到店",
            "position": {"x": 320, "y": 160},
            "config": {"event_type": "store_visit", "timeout": {"amount": 3, "unit": "days"}},
        },
        {
            "id": "c",
            "kind": "send_coupon",
            "position": {"x": 640, "y": 60},
            "config": {"coupon_template_id": "NEW20"},
        },
        {
            "id": "goal",
            "kind": "exit",
            "label": "转化",
            "position": {"x": 960, "y": 60},
            "config": {"goal_reached": True},
        },
        {"id": "done", "kind": "exit", "label": "结束", "position": {"x": 640, "y": 300}},
    ],
    "edges": [
        {"id": "1", "source": "entry", "source_port": "next", "target": "wfe"},
        {"id": "2", "source": "wfe", "source_port": "matched", "target": "c"},
        {"id": "3", "source": "wfe", "source_port": "timeout", "target": "done"},
        {"id": "4", "source": "c", "source_port": "next", "target": "goal"},
    ],
}


def _report(
    jid: str, customer: str, status: str, node: str, at: datetime, *visits: VisitReport
) -> RunReport:
    return RunReport(
        workflow_id=f"wf-{customer}",
        journey_id=jid,
        journey_version=1,
        customer_id=customer,
        status=status,
        current_node=node,
        exit_reason=None if status == "running" else "exit",
        at=at,
        enrollment_id=f"en-{customer}",
        visits=visits,
    )


def seed_small_chain(session: Session) -> str:
    """The journey 新客二回 with four customers entering in March 2026 (and one in
    February), as the run recorder would write them. Expected, for 1-31 March:

    =========  =======  =====  ======================  ========
    node       entered  wait   ports                   ended
    =========  =======  =====  ======================  ========
    entry      4               next 4 (100 %)
    wfe        4        1      matched 1 (25 %),
                               timeout 2 (50 %)
    c          1               next 1 (100 %)
    goal       1                                       1 (1 converted)
    done       2                                       2 (1 converted)
    =========  =======  =====  ======================  ========

    Conversions 2 of 4 (C1 300 within the window; C2 120 after its run ended, within
    the window); revenue 420. Not counted: C1's 999 on day 18 (outside the 7-day window),
    C5's 50 (below the goal's amount filter), C4 (entered in February).
    """
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name=DOC["name"], draft_document=DOC),
        by="hq",
    )
    crud.publish_version(
        session=session,
        journey_id=journey.id,
        document=DOC,
        compiled={},
        content_hash="x",
        by="hq",
    )
    j = journey.id
    v = VisitReport
    reports = [
        # C1: in, matched, coupon, goal exit
        _report(j, "C1", "running", "wfe", T0, v("entry", 1, "next", T0)),
        _report(
            j,
            "C1",
            "exited",
            "goal",
            T0 + DAY,
            v("wfe", 1, "matched", T0),
            v("c", 1, "next", T0 + DAY),
            v("goal", 1, None, T0 + DAY),
        ),
        # C2: in, timed out, done
        _report(j, "C2", "running", "wfe", T0, v("entry", 1, "next", T0)),
        _report(
            j,
            "C2",
            "exited",
            "done",
            T0 + 3 * DAY,
            v("wfe", 1, "timeout", T0),
            v("done", 1, None, T0 + 3 * DAY),
        ),
        # C3: in, waiting at wfe now
        _report(j, "C3", "running", "wfe", T0 + 2 * DAY, v("entry", 1, "next", T0 + 2 * DAY)),
        # C5: in, timed out, done
        _report(j, "C5", "running", "wfe", T0 + 3 * DAY, v("entry", 1, "next", T0 + 3 * DAY)),
        _report(
            j,
            "C5",
            "exited",
            "done",
            T0 + 6 * DAY,
            v("wfe", 1, "timeout", T0 + 3 * DAY),
            v("done", 1, None, T0 + 6 * DAY),
        ),
        # C4: entered in February
        _report(j, "C4", "running", "wfe", T0 - 20 * DAY, v("entry", 1, "next", T0 - 20 * DAY)),
    ]
    for r in reports:
        crud.upsert_runs(session=session, reports=[r])
    crud.upsert_runs(session=session, reports=reports[1:2])  # a retried report: no doubles
    for i, (customer, at, amount) in enumerate(
        [
            ("C1", T0 + DAY, 300),
            ("C1", T0 + 18 * DAY, 999),
            ("C2", T0 + 6 * DAY, 120),
            ("C5", T0 + 4 * DAY, 50),
            ("C4", T0 - 19 * DAY, 500),
        ]
    ):
        session.add(
            CustomerEvent(
                event_id=f"ev{i}",
                customer_id=customer,
                type="purchase",
                properties={"amount": amount},
                occurred_at=at,
            )
        )
    session.add(
        CustomerEvent(
            event_id="ev-visit",
            customer_id="C1",
            type="store_visit",
            properties={"amount": 1000},
            occurred_at=T0,
        )
    )
    session.commit()
    return j


def count_results(session: Session, timezone: str = "Asia/Shanghai", rule: Any = None) -> None:
    """Bring the results store up to date with what ``session``'s database holds (what the
    reconciler and every report do) and start ``session`` on a fresh snapshot."""
    from sqlalchemy import Engine

    from services.results_store import ClaimRule, catch_up

    session.commit()
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    catch_up(engine=engine, timezone=timezone, rule=rule or ClaimRule())

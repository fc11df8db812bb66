"""record_run writes the node visits a run's record carries (release journey-node-visits)
into node_visit, through the group-committed run recorder: once, however often a record
is retried (issue 14, item 2)."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db import crud
from db.models import JourneyCreate, JourneyRun, NodeVisit
from engine.effect_parts import NodeVisit as Visit
from engine.effects import RunRecord
from tests.activities.conftest import NOW


async def test_record_run_writes_its_visits_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="j"), by="hq")
    env = ActivityEnvironment()
    at = NOW.isoformat()

    def record(status: str, node: str, *visits: Visit) -> RunRecord:
        return RunRecord(
            workflow_id="wf-1",
            journey_id=journey.id,
            journey_version=1,
            customer_id="C1",
            status=status,
            current_node=node,
            at=at,
            enrollment_id="en-1",
            visits=list(visits),
        )

    waiting = record("running", "w", Visit("in", 1, "next", at))
    ended = record("exited", "x", Visit("w", 1, "next", at), Visit("x", 1, None, at))
    await env.run(acts.record_run, waiting)
    await env.run(acts.record_run, ended)
    await env.run(acts.record_run, ended)  # a retried report
    await env.run(acts.record_run, record("exited", "x"))  # a record without visits
    with shop() as s:
        rows = list(s.exec(select(NodeVisit).order_by(NodeVisit.id)))  # type: ignore[arg-type]
        runs = list(s.exec(select(JourneyRun)))
    assert [(r.node_id, r.visit, r.port, r.enrollment_id, r.at) for r in rows] == [
        ("in", 1, "next", "en-1", NOW),
        ("w", 1, "next", "en-1", NOW),
        ("x", 1, None, "en-1", NOW),
    ]
    assert [(r.status, r.current_node) for r in runs] == [("exited", "x")]

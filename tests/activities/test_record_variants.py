"""record_run writes the side each split gave the run (journey_run_variant) once per split,
from the run's first report that carries it (issue 14, item 5)."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db import crud
from db.models import JourneyCreate, JourneyRun, JourneyRunVariant
from engine.effects import RunRecord
from tests.activities.conftest import NOW


async def test_record_run_keeps_each_split_side_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        journey = crud.create_journey(session=s, journey_create=JourneyCreate(name="j"), by="hq")
    env = ActivityEnvironment()

    def record(status: str, node: str, variants: dict[str, str]) -> RunRecord:
        return RunRecord(
            workflow_id="wf-1",
            journey_id=journey.id,
            journey_version=1,
            customer_id="C1",
            status=status,
            current_node=node,
            at=NOW.isoformat(),
            variants=variants,
        )

    await env.run(acts.record_run, record("running", "entry", {}))
    await env.run(acts.record_run, record("running", "wait", {"s1": "a"}))
    await env.run(acts.record_run, record("exited", "exit", {"s1": "a", "s2": "hold"}))
    with shop() as s:
        (run,) = s.exec(select(JourneyRun))
        rows = s.exec(select(JourneyRunVariant).order_by(JourneyRunVariant.node_id)).all()
    assert [(r.run_id, r.node_id, r.variant, r.journey_version) for r in rows] == [
        (run.id, "s1", "a", 1),
        (run.id, "s2", "hold", 1),
    ]

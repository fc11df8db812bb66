"""Journeys, versions and runs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from db import crud
from db.errors import ImmutableVersionError, InvalidStatusError, RunAlreadyRunningError
from db.models import JourneyCreate, JourneyRun

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _journey(session: Session, name: str = "New customer second purchase") -> str:
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name=name, draft_document={"name": name, "nodes": []}),
        by="hq-li",
    )
    return journey.id


def test_publish_gives_versions_1_and_2_and_keeps_the_old_one(session: Session) -> None:
    jid = _journey(session)
    v1 = crud.publish_version(
        session=session,
        journey_id=jid,
        document={"n": 1},
        compiled={"ir": 1},
        content_hash="h1",
        by="hq-li",
    )
    crud.update_draft(session=session, journey_id=jid, document={"name": "v2", "n": 2}, by="hq-wu")
    v2 = crud.publish_version(
        session=session,
        journey_id=jid,
        document={"n": 2},
        compiled={"ir": 2},
        content_hash="h2",
        by="hq-wu",
    )
    assert (v1.version, v2.version) == (1, 2)
    session.expire_all()
    old = crud.get_version(session=session, journey_id=jid, version=1)
    assert old is not None
    assert (old.document, old.compiled, old.content_hash) == ({"n": 1}, {"ir": 1}, "h1")
    assert [v.version for v in crud.list_versions(session=session, journey_id=jid)] == [2, 1]
    journey = crud.get_journey(session=session, journey_id=jid)
    assert journey is not None
    assert (journey.live_version, journey.status, journey.name) == (2, "live", "v2")
    assert journey.updated_by == "hq-wu"


def test_published_versions_are_immutable(session: Session) -> None:
    jid = _journey(session)
    version = crud.publish_version(
        session=session, journey_id=jid, document={}, compiled={}, content_hash="h", by="a"
    )
    version.content_hash = "tampered"
    session.add(version)
    with pytest.raises(ImmutableVersionError):
        session.commit()


def test_set_status_validates(session: Session) -> None:
    jid = _journey(session)
    assert crud.set_status(session=session, journey_id=jid, status="paused", by="a").status == (
        "paused"
    )
    with pytest.raises(InvalidStatusError):
        crud.set_status(session=session, journey_id=jid, status="deleted", by="a")


def test_list_journeys_filters_and_counts_runs(session: Session) -> None:
    wake = _journey(session, "Wake up dormant VIPs")
    _journey(session, "Birthday month care")
    for n, customer in enumerate(("C1", "C2", "C3")):
        crud.create_run(
            session=session,
            workflow_id=f"wf-{n}",
            journey_id=wake,
            journey_version=1,
            customer_id=customer,
            entered_at=T0,
        )
    crud.mark_run(session=session, workflow_id="wf-0", status="exited", goal_reached=True, at=T0)

    items = crud.list_journeys(session=session, search="dormant")
    assert [i.id for i in items] == [wake]
    assert (items[0].entered, items[0].running, items[0].goal_reached) == (3, 2, 1)
    assert len(crud.list_journeys(session=session, status="draft")) == 2
    assert crud.list_journeys(session=session, status="live") == []


def test_no_second_running_run_per_workflow(session: Session) -> None:
    jid = _journey(session)

    def start() -> JourneyRun:
        return crud.create_run(
            session=session, workflow_id="wf", journey_id=jid, journey_version=1, customer_id="C1"
        )

    first = start()
    with pytest.raises(RunAlreadyRunningError) as raised:
        start()
    assert raised.value.existing_id == first.id
    crud.mark_run(session=session, workflow_id="wf", status="exited", exit_reason="done", at=T0)
    again = start()
    assert again.id != first.id
    assert [
        r.id for r in crud.get_running_runs_for_customer(session=session, customer_id="C1")
    ] == [again.id]


def test_upsert_run_creates_then_updates_one_row(session: Session) -> None:
    jid = _journey(session)

    def report(status: str, node: str, reason: str | None = None) -> JourneyRun:
        return crud.upsert_run(
            session=session,
            workflow_id="wf",
            journey_id=jid,
            journey_version=1,
            customer_id="C9",
            status=status,
            current_node=node,
            exit_reason=reason,
            goal_reached=reason == "goal",
            at=T0,
        )

    report("running", "wait")
    report("running", "wait")
    run = report("exited", "exit", "goal")
    assert len(crud.list_runs(session=session, journey_id=jid)) == 1
    assert (run.status, run.current_node, run.goal_reached, run.exited_at) == (
        "exited",
        "exit",
        True,
        T0,
    )
    counts = crud.run_counts(session=session)[jid]
    assert (counts.entered, counts.exited, counts.goal_reached) == (1, 1, 1)

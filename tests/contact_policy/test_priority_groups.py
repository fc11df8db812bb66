"""Priority groups at entry, on SQLite and PostgreSQL (the ``sessions`` fixture runs each test
on both): two entries of one customer into two journeys of one group at the same moment
never both get in; a higher priority newcomer is blocked or takes the seat from the lower
run as the group says; a seat frees when its run ends; a failed start gives it back."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from threading import Barrier

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db import crud
from db.crud import priority_groups as groups_crud
from db.models import Customer, JourneyCreate, JourneyVersion
from engine.compiler import compile_document
from services import enrollment
from services import priority_groups as groups

NOW = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)
CUSTOMERS = [f"C{i}" for i in range(1, 7)]


def _document(name: str) -> dict:
    return {
        "name": name,
        "nodes": [
            {
                "id": "entry",
                "kind": "entry",
                "config": {"trigger": {"type": "manual"}, "reentry": {"policy": "after_exit"}},
            },
            {"id": "done", "kind": "exit"},
        ],
        "edges": [{"id": "e1", "source": "entry", "source_port": "next", "target": "done"}],
    }


def _publish(s: Session, name: str) -> JourneyVersion:
    journey = crud.create_journey(session=s, journey_create=JourneyCreate(name=name), by="hq")
    doc = _document(name)
    result = compile_document(doc, journey_id=journey.id, version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    return crud.publish_version(
        session=s,
        journey_id=journey.id,
        document=doc,
        compiled=result.journey.to_dict(),
        content_hash=result.journey.content_hash,
        by="hq",
    )


def _setup(sessions: sessionmaker[Session], policy: str) -> tuple[JourneyVersion, JourneyVersion]:
    """Journeys 'high' (priority 1) and 'low' (priority 2) in one group with ``policy``."""
    with sessions() as s:
        for cid in CUSTOMERS:
            s.add(Customer(id=cid, name=cid))
        s.commit()
        high, low = _publish(s, "high"), _publish(s, "low")
        group = groups.create_group(session=s, name="G", policy=policy, by="hq")
        assert group.id is not None
        for version, priority in ((high, 1), (low, 2)):
            groups.set_journey_group(
                session=s,
                journey_id=version.journey_id,
                group_id=group.id,
                priority=priority,
                by="hq",
            )
        s.expunge_all()
        return high, low


def _claim(
    sessions: sessionmaker[Session], version: JourneyVersion, customer: str
) -> enrollment._Claim | str:
    with sessions() as s:
        return enrollment._claim_entry(s, version, customer, NOW, None)


def test_two_journeys_of_a_group_at_the_same_moment_never_both_get_in(
    sessions: sessionmaker[Session],
) -> None:
    high, low = _setup(sessions, "block")
    for customer in CUSTOMERS:
        start = Barrier(2)

        def enter(
            version: JourneyVersion, customer: str = customer, start: Barrier = start
        ) -> enrollment._Claim | str:
            start.wait()  # both entries at once, as two event deliveries
            return _claim(sessions, version, customer)

        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(enter, (high, low)))
        claims = [o for o in outcomes if not isinstance(o, str)]
        assert len(claims) == 1, outcomes
        [refused] = [o for o in outcomes if isinstance(o, str)]
        assert "priority group G" in refused
        with sessions() as s:
            assert len(groups_crud.seat_holders(session=s, group_id=1, customer_id=customer)) == 1


def test_under_preempt_concurrent_entries_leave_one_seat_holder(
    sessions: sessionmaker[Session],
) -> None:
    """Whichever wins the race: the low one first is preempted by the high one (its stop
    follows), the high one first refuses the low one; never two holders of the seat."""
    high, low = _setup(sessions, "preempt")
    for customer in CUSTOMERS:
        start = Barrier(2)

        def enter(
            version: JourneyVersion, customer: str = customer, start: Barrier = start
        ) -> enrollment._Claim | str:
            start.wait()
            return _claim(sessions, version, customer)

        with ThreadPoolExecutor(max_workers=2) as pool:
            got_high, got_low = pool.map(enter, (high, low))
        assert not isinstance(got_high, str)  # the high one always gets in
        if isinstance(got_low, str):
            assert got_high.preempted is None
        else:  # the low one came first: the high one took its seat
            assert got_high.preempted is not None
            assert got_high.preempted.journey_id == low.journey_id
            assert "preempted by journey 'high'" in got_high.preempted.reason


def test_block_preempt_and_a_freed_seat(sessions: sessionmaker[Session]) -> None:
    high, low = _setup(sessions, "block")
    low_claim = _claim(sessions, low, "C1")
    assert not isinstance(low_claim, str)
    # block: the higher priority newcomer is refused while the lower run holds the seat
    refused = _claim(sessions, high, "C1")
    assert isinstance(refused, str) and "which blocks newcomers" in refused
    with sessions() as s:
        groups.update_group(session=s, group_id=1, name="G", policy="preempt", by="hq")
    taken = _claim(sessions, high, "C1")
    assert not isinstance(taken, str) and taken.preempted is not None
    assert taken.preempted.workflow_id.endswith(f"{low.journey_id}-C1") or (
        low.journey_id in taken.preempted.workflow_id
    )
    # a lower newcomer is refused by the higher holder, whatever the policy
    with sessions() as s:
        crud.mark_run(session=s, workflow_id=taken.preempted.workflow_id, status="stopped")
    lower = _claim(sessions, low, "C1")
    assert isinstance(lower, str) and "priority 1, this one 2" in lower
    # the start of the high run failed: the seat goes back to the run it preempted
    enrollment_forget = enrollment._forget_run
    with sessions() as s:
        enrollment_forget(s, taken.row_id)
    with sessions() as s:
        seat = s.get(groups_crud.JourneyGroupSeat, (1, "C1"))
        assert seat is not None and seat.journey_id == low.journey_id
    # the seat is free once its holder's run ended (no running row): the low one re-enters
    again = _claim(sessions, low, "C1")
    assert not isinstance(again, str)


def test_a_journey_in_no_group_is_not_limited(sessions: sessionmaker[Session]) -> None:
    high, low = _setup(sessions, "block")
    with sessions() as s:
        groups.set_journey_group(
            session=s, journey_id=low.journey_id, group_id=None, priority=None, by="hq"
        )
    assert not isinstance(_claim(sessions, high, "C2"), str)
    assert not isinstance(_claim(sessions, low, "C2"), str)

"""Priority groups (issue 15 item 3, 去重 + 优先级): the groups, their journeys, and the seat
each customer holds in a group.

**Admission is atomic per group and customer.** :func:`admit` runs inside the write
transaction that inserts the entering run's row (``services.enrollment`` and segment
enrollment passes): SQLite's ``BEGIN IMMEDIATE`` already makes it the only writer;
PostgreSQL takes ``pg_advisory_xact_lock`` on the group + customer, held until that
transaction commits. Two entries of one customer into two journeys of one group at the same
moment are serialised: the second sees the first's seat, so they can never both get in.

A seat names the workflow that holds it; it is free once that workflow has no running row
(the run ended, was stopped, or its start failed and the row was removed), so ending a run
never has to touch it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlmodel import Session, col, delete, select

from db.crud._util import read_back
from db.crud.runs import get_running_run
from db.models import Journey, JourneyRun, utcnow
from db.models.priority_groups import JourneyGroup, JourneyGroupMember, JourneyGroupSeat
from db.session import begin_write

#: Journey statuses that hold customers: a group one of them is in cannot be deleted.
HOLDING_STATUSES = ("live", "paused")


@dataclass(frozen=True)
class Preempted:
    """A lower-priority run that gave its seat to a newcomer: stop it with ``reason``."""

    workflow_id: str
    journey_id: str
    reason: str


@dataclass(frozen=True)
class Admission:
    """May the customer enter? ``reason`` says why not; ``preempted`` is the run to stop."""

    ok: bool
    reason: str = ""
    preempted: Preempted | None = None


ADMITTED = Admission(True)


# ---------------------------------------------------------------------- groups


def list_groups(*, session: Session) -> list[JourneyGroup]:
    return list(session.exec(select(JourneyGroup).order_by(col(JourneyGroup.name))))


def get_group(*, session: Session, group_id: int) -> JourneyGroup | None:
    return session.get(JourneyGroup, group_id)


def find_group_by_name(*, session: Session, name: str) -> JourneyGroup | None:
    return session.exec(select(JourneyGroup).where(JourneyGroup.name == name)).first()


def create_group(*, session: Session, name: str, policy: str, by: str) -> JourneyGroup:
    """Add a group (committed)."""
    group = JourneyGroup(name=name, policy=policy, created_by=by)
    session.add(group)
    session.commit()
    read_back(session, group)
    return group


def update_group(*, session: Session, group: JourneyGroup, name: str, policy: str) -> None:
    """Rename a group or change its policy (committed)."""
    group.name = name
    group.policy = policy
    session.add(group)
    session.commit()


def delete_group(*, session: Session, group_id: int) -> None:
    """Remove a group, its journeys' places in it and its seats (committed; one write
    transaction from the start: SQLite's lock taken up front, not upgraded midway)."""
    begin_write(session)
    session.execute(delete(JourneyGroupSeat).where(col(JourneyGroupSeat.group_id) == group_id))
    session.execute(delete(JourneyGroupMember).where(col(JourneyGroupMember.group_id) == group_id))
    session.execute(delete(JourneyGroup).where(col(JourneyGroup.id) == group_id))
    session.commit()


def list_members(*, session: Session, group_id: int | None = None) -> list[JourneyGroupMember]:
    """Journeys' places in groups (of one group when given), by group then priority."""
    stmt = select(JourneyGroupMember)
    if group_id is not None:
        stmt = stmt.where(JourneyGroupMember.group_id == group_id)
    order = (col(JourneyGroupMember.group_id), col(JourneyGroupMember.priority))
    return list(session.exec(stmt.order_by(*order)))


def holding_journeys(*, session: Session, group_id: int) -> list[Journey]:
    """The group's journeys that hold customers (live or paused)."""
    stmt = (
        select(Journey)
        .join(JourneyGroupMember, col(JourneyGroupMember.journey_id) == col(Journey.id))
        .where(
            JourneyGroupMember.group_id == group_id,
            col(Journey.status).in_(HOLDING_STATUSES),
        )
        .order_by(col(Journey.name))
    )
    return list(session.exec(stmt))


def get_membership(*, session: Session, journey_id: str) -> JourneyGroupMember | None:
    return session.get(JourneyGroupMember, journey_id)


def member_at(*, session: Session, group_id: int, priority: int) -> JourneyGroupMember | None:
    """The journey of ``group_id`` that has ``priority``, if any."""
    stmt = select(JourneyGroupMember).where(
        JourneyGroupMember.group_id == group_id, JourneyGroupMember.priority == priority
    )
    return session.exec(stmt).first()


def set_membership(
    *, session: Session, journey_id: str, group_id: int | None, priority: int | None
) -> JourneyGroupMember | None:
    """Put a journey in a group with a priority, or take it out (``group_id`` None);
    committed. The caller checked the priority is free (a unique index backs it)."""
    row = session.get(JourneyGroupMember, journey_id)
    if group_id is None or priority is None:
        if row is not None:
            session.delete(row)
        session.commit()
        return None
    if row is None:
        row = JourneyGroupMember(journey_id=journey_id, group_id=group_id, priority=priority)
    else:
        row.group_id = group_id
        row.priority = priority
    session.add(row)
    session.commit()
    read_back(session, row)
    return row


# ---------------------------------------------------------------------- admission


def _lock(session: Session, group_id: int, customer_id: str) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
            {"k": f"journey_group:{group_id}:{customer_id}"},
        )


def admit(*, session: Session, journey_id: str, customer_id: str, workflow_id: str) -> Admission:
    """Take the customer's seat in the journey's group for ``workflow_id``, or refuse.

    Call it inside the write transaction that then inserts the run row, and commit both
    together (see the module docstring); nothing is committed here. A journey in no group
    is always admitted. The seat's holder (a running run of another journey of the group)
    keeps it when its priority is higher (1 is the highest), and when the group's policy is
    ``block``; under ``preempt`` a newcomer of higher priority takes it and the holder is
    returned in ``preempted`` for the caller to stop after the newcomer started.
    """
    member = session.get(JourneyGroupMember, journey_id)
    if member is None:
        return ADMITTED
    group = session.get(JourneyGroup, member.group_id)
    if group is None or group.id is None:
        return ADMITTED
    _lock(session, group.id, customer_id)
    seat = session.get(JourneyGroupSeat, (group.id, customer_id))
    preempted: Preempted | None = None
    if seat is not None and seat.workflow_id != workflow_id:
        holder = session.get(JourneyGroupMember, seat.journey_id)
        running = get_running_run(session=session, workflow_id=seat.workflow_id)
        if holder is not None and holder.group_id == group.id and running is not None:
            holder_name = _journey_name(session, seat.journey_id)
            if holder.priority <= member.priority:
                return Admission(
                    False,
                    f"in journey {holder_name} of priority group {group.name} "
                    f"(priority {holder.priority}, this one {member.priority})",
                )
            if group.policy != "preempt":
                return Admission(
                    False,
                    f"in journey {holder_name} of priority group {group.name}, "
                    "which blocks newcomers",
                )
            preempted = Preempted(
                workflow_id=seat.workflow_id,
                journey_id=seat.journey_id,
                reason=(
                    f"preempted by journey {_journey_name(session, journey_id)} "
                    f"(priority group {group.name}: priority {member.priority} "
                    f"over {holder.priority})"
                ),
            )
    if seat is None:
        seat = JourneyGroupSeat(
            group_id=group.id, customer_id=customer_id, journey_id=journey_id, workflow_id=""
        )
    seat.preempted_workflow_id = preempted.workflow_id if preempted else None
    seat.preempted_journey_id = preempted.journey_id if preempted else None
    seat.journey_id = journey_id
    seat.workflow_id = workflow_id
    seat.taken_at = utcnow()
    session.add(seat)
    session.flush()
    return Admission(True, preempted=preempted)


def give_back_seat(
    *, session: Session, journey_id: str, customer_id: str, workflow_id: str
) -> None:
    """The newcomer's start failed: the run it preempted (not stopped yet) gets its seat
    back. Inside the caller's transaction (not committed here)."""
    member = session.get(JourneyGroupMember, journey_id)
    if member is None:
        return
    _lock(session, member.group_id, customer_id)
    seat = session.get(JourneyGroupSeat, (member.group_id, customer_id))
    if seat is None or seat.workflow_id != workflow_id or not seat.preempted_workflow_id:
        return
    seat.workflow_id = seat.preempted_workflow_id
    seat.journey_id = seat.preempted_journey_id or seat.journey_id
    seat.preempted_workflow_id = None
    seat.preempted_journey_id = None
    session.add(seat)
    session.flush()


def seat_holders(*, session: Session, group_id: int, customer_id: str) -> list[JourneyRun]:
    """The customer's running runs in the group's journeys (tests and the run view: at most
    one once every preempted run has taken its stop)."""
    stmt = (
        select(JourneyRun)
        .join(JourneyGroupMember, col(JourneyGroupMember.journey_id) == col(JourneyRun.journey_id))
        .where(
            JourneyGroupMember.group_id == group_id,
            JourneyRun.customer_id == customer_id,
            JourneyRun.status == "running",
        )
    )
    return list(session.exec(stmt))


def _journey_name(session: Session, journey_id: str) -> str:
    journey = session.get(Journey, journey_id)
    return f"'{journey.name}'" if journey is not None else journey_id

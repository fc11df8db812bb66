"""Priority groups (issue 15 item 3, 去重 + 优先级): the policy page's group use cases and a
journey's place in a group (the editor's journey settings).

A customer is in at most one journey of a group at a time. When a journey of higher
priority (1 is the highest) wants a customer already in a lower one, the group's policy
decides: ``block`` refuses the newcomer, ``preempt`` stops the lower run (its exit reason
names the newcomer) and lets the newcomer in. Entry enforces it (``db.crud.priority_groups``
``admit``, inside the run row's write transaction); see docs/architecture.md.

Bad input raises :class:`GroupInputError` naming the field (a 422); deleting a group a live
or paused journey is in raises :class:`GroupInUseError` (a 409). Every change is recorded
with the contact policy's changes (subject ``group:<name>`` or ``journey_group:<journey>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from db.crud import priority_groups as crud
from db.crud.audit import add_policy_changes
from db.models import GROUP_POLICIES, Journey, JourneyGroup, JourneyGroupMember
from db.models.contact_policy import PolicyChange

MAX_GROUP_NAME = 80
MAX_PRIORITY = 999


class GroupInputError(ValueError):
    """Bad group input; ``field`` names it as the form and the API do."""

    def __init__(self, field: str, message: str, taken_by: str = "") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        #: the journey that has the priority asked for (a collision)
        self.taken_by = taken_by


class GroupInUseError(Exception):
    """The group holds journeys that hold customers (live or paused)."""

    def __init__(self, group: JourneyGroup, journeys: list[Journey]) -> None:
        names = ", ".join(j.name for j in journeys)
        super().__init__(
            f"priority group {group.name!r} is used by {names}: take them out of the group "
            "(their journey settings) or archive them first"
        )
        self.group = group
        self.journeys = journeys


class GroupNotFoundError(LookupError):
    pass


@dataclass
class GroupRow:
    group: JourneyGroup
    members: list[tuple[JourneyGroupMember, str]]  # (place, journey name)


def overview(*, session: Session) -> list[GroupRow]:
    """Every group with its journeys by priority (the policy page)."""
    names = {j.id: j.name for j in session.exec(select(Journey))}
    by_group: dict[int, list[tuple[JourneyGroupMember, str]]] = {}
    for m in crud.list_members(session=session):
        by_group.setdefault(m.group_id, []).append((m, names.get(m.journey_id, m.journey_id)))
    return [GroupRow(g, by_group.get(g.id or 0, [])) for g in crud.list_groups(session=session)]


def _checked_name(session: Session, name: str, group_id: int | None) -> str:
    name = " ".join(name.split())
    if not name:
        raise GroupInputError("name", "give the group a name")
    if len(name) > MAX_GROUP_NAME:
        raise GroupInputError("name", f"at most {MAX_GROUP_NAME} characters")
    other = crud.find_group_by_name(session=session, name=name)
    if other is not None and other.id != group_id:
        raise GroupInputError("name", f"there is already a group called {name!r}")
    return name


def _checked_policy(policy: str) -> str:
    if policy not in GROUP_POLICIES:
        raise GroupInputError("policy", f"one of {', '.join(GROUP_POLICIES)}")
    return policy


def _record(session: Session, *, by: str, subject: str, old: str, new: str) -> None:
    if old != new:
        change = PolicyChange(by=by, subject=subject[:100], old=old[:500], new=new[:500])
        session.add(change)
        add_policy_changes(session, [change])


def create_group(*, session: Session, name: str, policy: str, by: str) -> JourneyGroup:
    name = _checked_name(session, name, None)
    policy = _checked_policy(policy)
    _record(session, by=by, subject=f"group:{name}", old="", new=policy)
    return crud.create_group(session=session, name=name, policy=policy, by=by)


def _require(session: Session, group_id: int) -> JourneyGroup:
    group = crud.get_group(session=session, group_id=group_id)
    if group is None:
        raise GroupNotFoundError(f"no priority group {group_id}")
    return group


def update_group(
    *, session: Session, group_id: int, name: str, policy: str, by: str
) -> JourneyGroup:
    """Rename a group or change its policy: it applies to entries from now on (a customer
    already in a journey of the group stays)."""
    group = _require(session, group_id)
    name = _checked_name(session, name, group_id)
    policy = _checked_policy(policy)
    _record(session, by=by, subject=f"group:{group.name}", old=group.name, new=name)
    _record(session, by=by, subject=f"group:{name}", old=group.policy, new=policy)
    crud.update_group(session=session, group=group, name=name, policy=policy)
    return group


def delete_group(*, session: Session, group_id: int, by: str) -> None:
    group = _require(session, group_id)
    holding = crud.holding_journeys(session=session, group_id=group_id)
    if holding:
        raise GroupInUseError(group, holding)
    _record(session, by=by, subject=f"group:{group.name}", old=group.policy, new="")
    crud.delete_group(session=session, group_id=group_id)


def set_journey_group(
    *, session: Session, journey_id: str, group_id: int | None, priority: int | None, by: str
) -> JourneyGroupMember | None:
    """Put a journey in a group with a priority (1 is the highest), or take it out (no
    group). A priority another journey of the group has → ``GroupInputError('priority')``
    naming that journey. Applies to entries from now on."""
    journey = session.get(Journey, journey_id)
    if journey is None:
        raise GroupNotFoundError(f"no journey {journey_id}")
    before = crud.get_membership(session=session, journey_id=journey_id)
    old = _place(session, before)
    if group_id is None:
        _record(session, by=by, subject=f"journey_group:{journey.name}", old=old, new="")
        return crud.set_membership(
            session=session, journey_id=journey_id, group_id=None, priority=None
        )
    group = crud.get_group(session=session, group_id=group_id)
    if group is None:
        raise GroupInputError("group_id", f"no priority group {group_id}")
    if priority is None:
        raise GroupInputError(
            "priority", "give the journey a priority in the group (1 is the highest)"
        )
    if not 1 <= priority <= MAX_PRIORITY:
        raise GroupInputError("priority", f"between 1 (the highest) and {MAX_PRIORITY}")
    taken = crud.member_at(session=session, group_id=group_id, priority=priority)
    if taken is not None and taken.journey_id != journey_id:
        other = session.get(Journey, taken.journey_id)
        name = other.name if other else taken.journey_id
        raise GroupInputError(
            "priority",
            f"journey {name!r} already has priority {priority} in group {group.name!r}; "
            "choose another",
            taken_by=name,
        )
    try:
        row = crud.set_membership(
            session=session, journey_id=journey_id, group_id=group_id, priority=priority
        )
    except IntegrityError as exc:
        # another journey took the priority between the check above and this commit
        session.rollback()
        raise GroupInputError(
            "priority",
            f"another journey took priority {priority} in group {group.name!r} just now; "
            "choose another",
        ) from exc
    _record(
        session, by=by, subject=f"journey_group:{journey.name}", old=old, new=_place(session, row)
    )
    session.commit()
    return row


def _place(session: Session, member: JourneyGroupMember | None) -> str:
    if member is None:
        return ""
    group = crud.get_group(session=session, group_id=member.group_id)
    return f"{group.name if group else member.group_id}#{member.priority}"


def journey_places(*, session: Session) -> dict[str, tuple[str, int]]:
    """journey id → (group name, priority): the journey list's column."""
    groups = {g.id: g.name for g in crud.list_groups(session=session)}
    return {
        m.journey_id: (groups.get(m.group_id, str(m.group_id)), m.priority)
        for m in crud.list_members(session=session)
    }


@dataclass
class EditorSettings:
    """The editor's journey settings: the groups to choose from and the journey's place."""

    groups: list[JourneyGroup]
    group_id: int | None
    priority: int | None
    taken: dict[int, list[int]]  # group id → priorities other journeys have


def editor_settings(*, session: Session, journey_id: str) -> EditorSettings:
    member = crud.get_membership(session=session, journey_id=journey_id)
    taken: dict[int, list[int]] = {}
    for m in crud.list_members(session=session):
        if m.journey_id != journey_id:
            taken.setdefault(m.group_id, []).append(m.priority)
    return EditorSettings(
        groups=crud.list_groups(session=session),
        group_id=member.group_id if member else None,
        priority=member.priority if member else None,
        taken=taken,
    )

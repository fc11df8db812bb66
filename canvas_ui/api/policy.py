"""JSON API of the contact policy (admin / HQ only, see ``canvas_ui.access``): read it with
the latest changes, replace it. Thin over ``services.contact_policy``; bad input is a 422
whose ``detail`` names the field (``quiet_hours.end``, ``caps[0].window_days`` …)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, Field

from canvas_ui.deps import CurrentPrincipal, SessionDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services import contact_policy as policy
from services import priority_groups as groups

router = APIRouter(prefix="/api", tags=["policy"], route_class=UnitOfWorkRoute)


class CapBody(BaseModel):
    id: str = Field(max_length=40)
    channel: str = Field(max_length=32)
    max_contacts: int = Field(ge=-1_000_000, le=1_000_000)
    window_days: int = Field(ge=-1_000_000, le=1_000_000)
    category: str = Field(default="all", max_length=16)


class QuietHoursBody(BaseModel):
    start: str = Field(max_length=5)
    end: str = Field(max_length=5)


class PolicyBody(BaseModel):
    quiet_hours: QuietHoursBody | None = None
    fallback_timezone: str = Field(default="", max_length=64)
    caps: list[CapBody] = Field(default_factory=list, max_length=100)


def _json(session: Any) -> dict[str, Any]:
    v = policy.view(session=session)
    row = v.policy
    return {
        "quiet_hours": (
            {"start": row.quiet_start, "end": row.quiet_end} if row.quiet_start else None
        ),
        "fallback_timezone": row.fallback_timezone,
        "caps": row.caps,
        "max_points_per_step": row.max_points_per_step,
        "updated_at": row.updated_at.isoformat() if row.updated_by else None,
        "updated_by": row.updated_by or None,
        "guides": [
            {"id": g.id, "store_id": g.store_id, "name": g.name, "daily_capacity": g.daily_capacity}
            for g in v.guides
        ],
        "changes": [
            {"at": c.at.isoformat(), "by": c.by, "subject": c.subject, "old": c.old, "new": c.new}
            for c in v.changes
        ],
    }


@router.get("/policy")
def get_policy(session: SessionDep) -> dict[str, Any]:
    """The contact policy, every active guide's daily capacity and the latest changes."""
    return _json(session)


@router.put("/policy")
def put_policy(body: PolicyBody, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    """Replace the policy; every change is recorded (who, when, old → new). Runs already
    waiting meet it at their next action."""
    new = policy.PolicyIn(
        quiet_start=body.quiet_hours.start if body.quiet_hours else "",
        quiet_end=body.quiet_hours.end if body.quiet_hours else "",
        fallback_timezone=body.fallback_timezone,
        caps=[policy.CapIn(**c.model_dump()) for c in body.caps],
    )
    try:
        policy.save(session=session, policy=new, by=actor.username)
    except policy.PolicyInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return _json(session)


class PointsBody(BaseModel):
    max_points_per_step: int = Field(ge=-(2**31), le=2**31)


@router.get("/policy/points")
def get_points_rule(session: SessionDep) -> dict[str, int]:
    """The most points one award_points step may give (the chain's setting)."""
    return {"max_points_per_step": policy.max_points_per_step(session=session)}


@router.put("/policy/points")
def put_points_rule(body: PointsBody, session: SessionDep, actor: CurrentPrincipal) -> Any:
    """Set it (1 – 1,000,000; recorded with the policy's changes). Journeys are checked
    against it at their next validate, publish or test run; live versions run as published."""
    try:
        policy.set_max_points_per_step(
            session=session, most=body.max_points_per_step, by=actor.username
        )
    except policy.PolicyInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return {"max_points_per_step": body.max_points_per_step}


# ---------------------------------------------------------------------- priority groups


class GroupBody(BaseModel):
    name: str = Field(max_length=200)
    policy: str = Field(default="block", max_length=16)


class JourneyGroupBody(BaseModel):
    """``group_id`` null takes the journey out of its group."""

    group_id: int | None = Field(default=None, ge=1, le=2**31)
    priority: int | None = Field(default=None, ge=-1_000_000, le=1_000_000)


def _group_json(row: groups.GroupRow) -> dict[str, Any]:
    g = row.group
    return {
        "id": g.id,
        "name": g.name,
        "policy": g.policy,
        "journeys": [
            {"journey_id": m.journey_id, "name": name, "priority": m.priority}
            for m, name in row.members
        ],
    }


def _one(session: Any, group_id: int | None) -> dict[str, Any]:
    return next(_group_json(r) for r in groups.overview(session=session) if r.group.id == group_id)


def _unprocessable(exc: groups.GroupInputError) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc))


@router.get("/policy/groups")
def list_groups(session: SessionDep) -> list[dict[str, Any]]:
    """Priority groups with their journeys by priority (1 is the highest)."""
    return [_group_json(r) for r in groups.overview(session=session)]


@router.post("/policy/groups", status_code=status.HTTP_201_CREATED)
def create_group(body: GroupBody, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    try:
        group = groups.create_group(
            session=session, name=body.name, policy=body.policy, by=actor.username
        )
    except groups.GroupInputError as exc:
        raise _unprocessable(exc) from exc
    return _one(session, group.id)


@router.put("/policy/groups/{group_id}")
def update_group(
    group_id: int, body: GroupBody, session: SessionDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    """Rename a group or change its policy (``block`` or ``preempt``)."""
    try:
        groups.update_group(
            session=session,
            group_id=group_id,
            name=body.name,
            policy=body.policy,
            by=actor.username,
        )
    except groups.GroupNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except groups.GroupInputError as exc:
        raise _unprocessable(exc) from exc
    return _one(session, group_id)


@router.delete("/policy/groups/{group_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_group(group_id: int, session: SessionDep, actor: CurrentPrincipal) -> None:
    """Delete a group; a live or paused journey in it → 409 naming them."""
    try:
        groups.delete_group(session=session, group_id=group_id, by=actor.username)
    except groups.GroupNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except groups.GroupInUseError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.put("/journeys/{journey_id}/group")
def set_journey_group(
    journey_id: str, body: JourneyGroupBody, session: SessionDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    """Put a journey in a priority group with a priority, or take it out (``group_id``
    null). A priority another journey of the group has → 422 naming ``priority``."""
    try:
        row = groups.set_journey_group(
            session=session,
            journey_id=journey_id,
            group_id=body.group_id,
            priority=body.priority,
            by=actor.username,
        )
    except groups.GroupNotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except groups.GroupInputError as exc:
        raise _unprocessable(exc) from exc
    if row is None:
        return {"journey_id": journey_id, "group_id": None, "priority": None}
    return {"journey_id": journey_id, "group_id": row.group_id, "priority": row.priority}

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

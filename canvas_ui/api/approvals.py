"""JSON API of launch approval and campaign dates (issue 17 item 4): the chain's setting,
submissions, decisions, and a journey's entry window.

Thin: the rules live in ``services.approvals`` and ``services.campaign``. Deciding one's own
submission, or without the ``approve_journeys`` permission, is a 403; a decided submission
a 409; a missing comment on a rejection or a campaign ending before it starts a 422 naming
the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from canvas_ui.api.params import MAX_ID
from canvas_ui.api.responses import TEMPORAL_UNAVAILABLE
from canvas_ui.deps import CurrentPrincipal, CurrentUser, SessionDep, TemporalDep
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.models import APPROVAL_STATUSES, Journey, JourneyApproval
from db.session import in_thread
from services import approvals, campaign
from services.journeys import JourneyStateError

router = APIRouter(prefix="/api", tags=["approvals"], route_class=UnitOfWorkRoute)


def approval_json(a: JourneyApproval, *, with_document: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": a.id,
        "journey_id": a.journey_id,
        "status": a.status,
        "base_version": a.base_version,
        "diff": a.diff,
        "backtest": a.backtest,
        "note": a.note,
        "submitted_by": a.submitted_by,
        "submitted_at": a.submitted_at.isoformat(),
        "decided_by": a.decided_by,
        "decided_at": a.decided_at.isoformat() if a.decided_at else None,
        "decision_comment": a.decision_comment,
        "published_version": a.published_version,
    }
    if with_document:
        body["document"] = a.document
    return body


def field_error(field: str, message: str) -> RequestValidationError:
    """A 422 in the API's one shape, naming ``field`` (the app's handler words it)."""
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


def _diagnostics_422(exc: approvals.SubmissionInvalidError, document: Any) -> JSONResponse:
    labels = node_labels(document)
    return JSONResponse(
        {
            "detail": str(exc),
            "diagnostics": [
                localize(d.to_dict(), labels, document=document) for d in exc.diagnostics
            ],
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


# ----------------------------------------------------------------------------- the setting


class ApprovalRuleBody(BaseModel):
    required: bool


@router.get("/policy/approval")
def get_approval_rule(session: SessionDep) -> dict[str, bool]:
    """Whether publishing requires an approver (the chain's setting)."""
    return {"required": approvals.requires_approval(session=session)}


@router.put("/policy/approval")
def put_approval_rule(
    body: ApprovalRuleBody, session: SessionDep, actor: CurrentPrincipal
) -> dict[str, bool]:
    """Switch the setting (recorded with the policy's changes and in the audit log)."""
    approvals.set_requires_approval(session=session, required=body.required, by=actor.username)
    return {"required": body.required}


# ----------------------------------------------------------------------------- submissions


class SubmitBody(BaseModel):
    note: str = Field(default="", max_length=approvals.MAX_COMMENT)


class DecisionBody(BaseModel):
    comment: str = Field(default="", max_length=approvals.MAX_COMMENT)


@router.post("/journeys/{journey_id}/approvals", status_code=status.HTTP_201_CREATED)
def submit(journey_id: str, body: SubmitBody, session: SessionDep, user: CurrentUser) -> Any:
    """Submit the journey's saved draft for approval, with its diff against the live
    version and the latest backtest; 422 with the diagnostics when it does not compile."""
    journey = session.get(Journey, journey_id)
    if journey is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No journey with id {journey_id}.")
    try:
        approval = approvals.submit(session=session, journey_id=journey_id, by=user, note=body.note)
    except approvals.SubmissionInvalidError as exc:
        return _diagnostics_422(exc, journey.draft_document)
    except JourneyStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return approval_json(approval)


@router.get("/approvals")
def list_approvals(
    session: SessionDep,
    status_: str = Query(default="", alias="status", max_length=16),
    journey_id: str = Query(default="", max_length=64),
) -> list[dict[str, Any]]:
    """Submissions, pending first, newest first (filter by status or journey)."""
    if status_ and status_ not in APPROVAL_STATUSES:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "status"),
                    "msg": f"one of {', '.join(APPROVAL_STATUSES)}",
                    "type": "value_error",
                }
            ]
        )
    found = approvals.list_approvals(
        session=session, status=status_ or None, journey_id=journey_id or None
    )
    return [approval_json(a) for a in found]


@router.get("/approvals/{approval_id}")
def get_approval(session: SessionDep, approval_id: int = Path(ge=1, le=MAX_ID)) -> dict[str, Any]:
    """One submission with the document as submitted."""
    return approval_json(
        approvals.get(session=session, approval_id=approval_id), with_document=True
    )


@router.post("/approvals/{approval_id}/approve", responses=TEMPORAL_UNAVAILABLE)
async def approve(
    body: DecisionBody,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
    approval_id: int = Path(ge=1, le=MAX_ID),
) -> Any:
    """Approve: the submitted version goes live. 403 on one's own submission or without
    the ``approve_journeys`` permission; 409 once decided."""
    try:
        decision = await approvals.approve(
            session=session,
            temporal=temporal,
            approval_id=approval_id,
            principal=actor,
            comment=body.comment,
        )
    except approvals.ApprovalForbiddenError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except (approvals.ApprovalStateError, JourneyStateError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except approvals.SubmissionInvalidError as exc:
        found = await in_thread(approvals.get, session=session, approval_id=approval_id)
        return _diagnostics_422(exc, found.document)
    assert decision.version is not None
    return {
        "approval": approval_json(decision.approval),
        "version": decision.version.version,
        "warnings": [d.to_dict() for d in decision.warnings],
    }


@router.post("/approvals/{approval_id}/reject")
def reject(
    body: DecisionBody,
    session: SessionDep,
    actor: CurrentPrincipal,
    approval_id: int = Path(ge=1, le=MAX_ID),
) -> dict[str, Any]:
    """Reject with a comment (422 naming ``comment`` without one); 403 / 409 as approve."""
    try:
        decision = approvals.reject(
            session=session, approval_id=approval_id, principal=actor, comment=body.comment
        )
    except approvals.ApprovalInputError as exc:
        raise field_error(exc.field, exc.message) from exc
    except approvals.ApprovalForbiddenError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    except approvals.ApprovalStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return approval_json(decision.approval)


# ----------------------------------------------------------------------------- campaign


class CampaignBody(BaseModel):
    """The campaign's entry window; null for open-ended. Times carry their zone."""

    starts_at: datetime | None = None
    ends_at: datetime | None = None


@router.put("/journeys/{journey_id}/campaign", responses=TEMPORAL_UNAVAILABLE)
async def put_campaign(
    journey_id: str,
    body: CampaignBody,
    session: SessionDep,
    temporal: TemporalDep,
    user: CurrentUser,
) -> dict[str, Any]:
    """Set the campaign's start and end: customers enter only between them (422 naming
    ``ends_at`` when it is not after ``starts_at``). A published journey's segment entry
    schedules follow."""
    try:
        outcome = await campaign.set_campaign(
            session=session,
            temporal=temporal,
            journey_id=journey_id,
            starts_at=body.starts_at,
            ends_at=body.ends_at,
            by=user,
        )
    except campaign.CampaignInputError as exc:
        if exc.field == "journey":
            raise HTTPException(status.HTTP_409_CONFLICT, exc.message) from exc
        raise field_error(exc.field, exc.message) from exc
    j = outcome.journey
    return {
        "journey_id": j.id,
        "starts_at": j.starts_at.isoformat() if j.starts_at else None,
        "ends_at": j.ends_at.isoformat() if j.ends_at else None,
        "schedules": outcome.schedules,
        "warning": outcome.warning or None,
    }

"""Launch approval pages (issue 17 item 4): the approvals list, one submission with its diff
and the approve / reject dialog, and the editor's launch section (campaign dates, submit
for approval, the latest submission's state).

The decisions are the API's (``services.approvals``); these routes render. A decision the
user may not take answers 403 (a toast for htmx), a decided submission 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import Response

from canvas_ui import queries
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentPrincipal, SessionDep, TemporalDep
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.i18n import gettext, lazy
from canvas_ui.summaries import node_meta
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.models import APPROVAL_STATUSES, Journey, JourneyApproval
from db.session import in_thread
from services import approvals, campaign
from services.accounts import Principal
from services.journeys import JourneyStateError

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

APPROVAL_LABELS = {
    "pending": lazy("Waiting for approval"),
    "approved": lazy("Approved"),
    "rejected": lazy("Rejected"),
    "withdrawn": lazy("Withdrawn"),
}


#: The backtest's headline numbers a submission keeps (the candidate minus the live version).
BACKTEST_LABELS = {
    "customers": lazy("Customers replayed"),
    "coupons": lazy("Coupons issued (difference)"),
    "coupon_value": lazy("Coupon face value (difference)"),
    "conversions": lazy("Conversions (difference)"),
    "revenue": lazy("Revenue (difference)"),
    "guide_days_over_capacity": lazy("Guide-days over capacity (difference)"),
}


def _labels() -> dict[str, str]:
    return {k: gettext(v) for k, v in APPROVAL_LABELS.items()}


def launch_context(
    session: Any,
    journey: Journey,
    *,
    errors: dict[str, str] | None = None,
    notice: str = "",
    diagnostics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """What the editor's launch section shows: the chain's approval rule, the journey's
    latest submission and its campaign dates."""
    return {
        "required": approvals.requires_approval(session=session),
        "latest": approvals.latest_for(session=session, journey_id=journey.id),
        "labels": _labels(),
        "errors": errors or {},
        "notice": notice,
        "diagnostics": diagnostics or [],
    }


def _launch(request: Request, session: Any, journey: Journey, **kwargs: Any) -> Response:
    status_code = kwargs.pop("status_code", 200)
    return render(
        request,
        "editor.html",
        {"journey": journey, "launch": launch_context(session, journey, **kwargs)},
        block="launch",
        status_code=status_code,
        force_block=True,
    )


def _journey(session: Any, journey_id: str) -> Journey:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    return journey


@router.post("/journeys/{journey_id}/submit")
def submit(
    journey_id: str,
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    note: str = Form(default="", max_length=approvals.MAX_COMMENT),
) -> Response:
    """Submit the saved draft for approval (the editor saves first)."""
    journey = _journey(session, journey_id)
    try:
        approvals.submit(session=session, journey_id=journey_id, by=actor.username, note=note)
    except approvals.SubmissionInvalidError as exc:
        labels = node_labels(journey.draft_document)
        diagnostics = [
            localize(d.to_dict(), labels, document=journey.draft_document)
            for d in exc.diagnostics
            if d.severity.value == "error"
        ]
        return _launch(
            request,
            session,
            journey,
            diagnostics=diagnostics,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    except JourneyStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _launch(request, session, journey, notice=gettext("Submitted for approval."))


def _parse_local(value: str, zone: str) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(zone))


@router.post("/journeys/{journey_id}/campaign")
async def set_campaign(
    journey_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
    starts_at: str = Form(default="", max_length=32),
    ends_at: str = Form(default="", max_length=32),
) -> Response:
    """The editor's campaign dates (local times of the chain's zone)."""
    journey = await in_thread(_journey, session, journey_id)
    zone = request.app.state.settings.timezone
    parsed: dict[str, datetime | None] = {}
    for name, raw in (("starts_at", starts_at), ("ends_at", ends_at)):
        try:
            parsed[name] = _parse_local(raw, zone)
        except ValueError:
            return await in_thread(
                _launch,
                request,
                session,
                journey,
                errors={name: gettext("Give a date and time.")},
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
    try:
        outcome = await campaign.set_campaign(
            session=session,
            temporal=temporal,
            journey_id=journey_id,
            starts_at=parsed["starts_at"],
            ends_at=parsed["ends_at"],
            by=actor.username,
        )
    except campaign.CampaignInputError as exc:
        message = (
            gettext("The campaign must end after it starts.")
            if exc.field == "ends_at"
            else exc.message
        )
        return await in_thread(
            _launch,
            request,
            session,
            journey,
            errors={exc.field: message},
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    notice = gettext("Campaign dates saved.")
    if outcome.warning:
        notice += " " + outcome.warning
    return await in_thread(_launch, request, session, outcome.journey, notice=notice)


# ----------------------------------------------------------------------------- approvals list


@router.get("/approvals")
def approvals_page(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    status_: str = Query(default="", alias="status", max_length=16),
) -> Response:
    """Submissions (pending first); filter by status."""
    chosen = status_ if status_ in APPROVAL_STATUSES else ""
    rows = approvals.list_approvals(session=session, status=chosen or None)
    names = {j.id: j.name for j in crud.all_journeys(session=session)}
    return render(
        request,
        "approvals.html",
        {
            "rows": rows,
            "names": names,
            "status": chosen,
            "labels": _labels(),
            "required": approvals.requires_approval(session=session),
            "can_approve": actor.can(approvals.PERMISSION),
        },
        block="table",
    )


def _changes(session: Any, approval: JourneyApproval) -> dict[str, list[dict[str, Any]]]:
    """The diff with each step's summary in the canvas's words: added and changed steps as
    submitted, removed ones as they were live."""
    ctx = queries.summary_context(session=session)
    new_nodes = {n["id"]: n for n in approval.document.get("nodes", []) if isinstance(n, dict)}
    old_nodes: dict[str, Any] = {}
    if approval.base_version is not None:
        live = crud.get_version(
            session=session, journey_id=approval.journey_id, version=approval.base_version
        )
        if live is not None:
            old_nodes = {n["id"]: n for n in live.document.get("nodes", []) if isinstance(n, dict)}

    def summary(nodes: dict[str, Any], node_id: str) -> str:
        node = nodes.get(node_id)
        return str(node_meta(node, ctx)["summary"]) if node else ""

    diff = approval.diff
    return {
        "added": [{**n, "summary": summary(new_nodes, n["id"])} for n in diff.get("added", [])],
        "removed": [{**n, "summary": summary(old_nodes, n["id"])} for n in diff.get("removed", [])],
        "changed": [
            {
                **n,
                "before": summary(old_nodes, n["id"]),
                "summary": summary(new_nodes, n["id"]),
            }
            for n in diff.get("changed", [])
        ],
    }


def _detail(
    request: Request,
    session: Any,
    actor: Principal,
    approval: JourneyApproval,
    *,
    notice: str = "",
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    journey = crud.get_journey(session=session, journey_id=approval.journey_id)
    return render(
        request,
        "approval.html",
        {
            "a": approval,
            "journey": journey,
            "changes": _changes(session, approval),
            "labels": _labels(),
            "bt_labels": {k: gettext(v) for k, v in BACKTEST_LABELS.items()},
            "can_decide": actor.can(approvals.PERMISSION)
            and actor.username != approval.submitted_by
            and approval.status == "pending",
            "own": actor.username == approval.submitted_by,
            "notice": notice,
            "errors": errors or {},
        },
        block="detail",
        status_code=status_code,
    )


@router.get("/approvals/{approval_id}")
def approval_page(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    approval_id: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """One submission: what changes against the live version, the backtest, the decision."""
    approval = approvals.get(session=session, approval_id=approval_id)
    return _detail(request, session, actor, approval)


@router.post("/approvals/{approval_id}/approve")
async def approve(
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
    approval_id: int = Path(ge=1, le=MAX_ID),
    comment: str = Form(default="", max_length=approvals.MAX_COMMENT),
) -> Response:
    try:
        decision = await approvals.approve(
            session=session,
            temporal=temporal,
            approval_id=approval_id,
            principal=actor,
            comment=comment,
        )
    except approvals.ApprovalForbiddenError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, gettext(str(exc))) from exc
    except (approvals.ApprovalStateError, JourneyStateError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    except approvals.SubmissionInvalidError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    version = decision.version.version if decision.version else ""
    notice = gettext("Approved: version %(num)s is live.") % {"num": version}
    return await in_thread(_detail, request, session, actor, decision.approval, notice=notice)


@router.post("/approvals/{approval_id}/reject")
def reject(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    approval_id: int = Path(ge=1, le=MAX_ID),
    comment: str = Form(default="", max_length=approvals.MAX_COMMENT),
) -> Response:
    try:
        decision = approvals.reject(
            session=session, approval_id=approval_id, principal=actor, comment=comment
        )
    except approvals.ApprovalInputError:
        approval = approvals.get(session=session, approval_id=approval_id)
        errors = {"comment": gettext("Say why it is rejected.")}
        return _detail(
            request,
            session,
            actor,
            approval,
            errors=errors,
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    except approvals.ApprovalForbiddenError as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, gettext(str(exc))) from exc
    except approvals.ApprovalStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return _detail(request, session, actor, decision.approval, notice=gettext("Rejected."))

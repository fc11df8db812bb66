"""JSON API of segments and segment enrollments.

Bad rules answer 422 with ``problems``: one entry per offending rule, each naming it
(``rule`` path, 1-based ``label``, the builder's ``rule_id``), a stable ``code``, the
``message`` and a ``hint``. Handlers stay thin: the work is in ``services.segments``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from audiences import FIELDS, SampleRow, SegmentValidationError
from audiences.fields import MAX_WINDOW_DAYS, RELATIVE_MONTHS
from canvas_ui.api.responses import TEMPORAL_UNAVAILABLE
from canvas_ui.deps import CurrentUser, SessionDep, TemporalDep
from canvas_ui.i18n import gettext
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.models import Journey, Segment, SegmentEnrollment
from db.session import end_transaction, in_thread
from services import segment_counts as counts
from services import segments as service

router = APIRouter(prefix="/api", tags=["segments"], route_class=UnitOfWorkRoute)

SEGMENT_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]{0,63}$"


class SegmentIn(BaseModel):
    """A segment as the builder saves it; ``definition`` is checked rule by rule."""

    id: str = Field(pattern=SEGMENT_ID_PATTERN, description="e.g. dormant_90d")
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any]


class SegmentUpdate(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    definition: dict[str, Any]


class PreviewIn(BaseModel):
    definition: dict[str, Any]
    sample: int = Field(default=10, ge=0, le=50)


class EntryLimitsIn(BaseModel):
    max_per_run: int | None = Field(default=None, ge=1, le=service.MAX_ENTRY_LIMIT)
    max_per_hour: int | None = Field(default=None, ge=1, le=service.MAX_ENTRY_LIMIT)


def invalid(exc: SegmentValidationError) -> JSONResponse:
    """422 naming every offending rule."""
    return JSONResponse(
        {
            "detail": gettext("The segment has invalid rules; fix them and try again."),
            "problems": [p.to_dict() for p in exc.problems],
        },
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def segment_json(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "definition": segment.definition,
        "last_count": segment.last_count,
        "last_counted_at": segment.last_counted_at.isoformat() if segment.last_counted_at else None,
        "updated_at": segment.updated_at.isoformat(),
        "updated_by": segment.updated_by,
    }


def sample_json(row: SampleRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "member_level": row.member_level,
        "store_id": row.store_id,
        "rfm_class": row.rfm_class,
        "tags": row.tags,
        "last_purchase_at": row.last_purchase_at.isoformat() if row.last_purchase_at else None,
        "m_amount": row.m_amount,
    }


def enrollment_json(row: SegmentEnrollment) -> dict[str, Any]:
    return {
        "id": row.id,
        "journey_id": row.journey_id,
        "journey_version": row.journey_version,
        "segment_id": row.segment_id,
        "workflow_id": row.workflow_id,
        "trigger": row.trigger,
        "status": row.status,
        "total": row.total,
        "entered": row.entered,
        "skipped": row.skipped,
        "started_at": row.started_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "message": row.message,
    }


@router.get("/segments/fields")
def fields() -> dict[str, Any]:
    """What rules may name: fields with their kind, operators and choices."""
    return {
        "fields": [
            {
                "name": f.name,
                "label": gettext(f.label),
                "kind": f.kind.value,
                "group": f.group,
                "ops": [o.value for o in f.ops],
                "choices": list(f.choices),
                "ref": f.ref,
            }
            for f in FIELDS.values()
        ],
        "relative_months": list(RELATIVE_MONTHS),
        "max_window_days": MAX_WINDOW_DAYS,
    }


@router.get("/segments")
def list_segments(session: SessionDep, q: str = "") -> list[dict[str, Any]]:
    """Saved segments by name."""
    return [segment_json(s) for s in crud.list_segments(session=session, search=q or None)]


@router.post("/segments", status_code=status.HTTP_201_CREATED)
def create_segment(body: SegmentIn, session: SessionDep, user: CurrentUser) -> Any:
    """Save a new segment; 422 naming each bad rule, 409 if the id is taken."""
    try:
        segment = service.save_segment(
            session=session,
            segment_id=body.id,
            name=body.name,
            description=body.description,
            definition=body.definition,
            by=user,
            create=True,
        )
    except SegmentValidationError as exc:
        return invalid(exc)
    except crud.SegmentExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return segment_json(segment)


@router.get("/segments/{segment_id}")
def get_segment(segment_id: str, session: SessionDep) -> dict[str, Any]:
    """One segment with the journeys that use it."""
    segment = service.require_segment(session, segment_id)
    usage = service.where_used(session=session, segment_id=segment_id)
    return {**segment_json(segment), "used_by": [u.__dict__ for u in usage]}


@router.put("/segments/{segment_id}")
def update_segment(
    segment_id: str, body: SegmentUpdate, session: SessionDep, user: CurrentUser
) -> Any:
    """Replace name, description and rules; 422 naming each bad rule."""
    service.require_segment(session, segment_id)
    try:
        segment = service.save_segment(
            session=session,
            segment_id=segment_id,
            name=body.name,
            description=body.description,
            definition=body.definition,
            by=user,
            create=False,
        )
    except SegmentValidationError as exc:
        return invalid(exc)
    return segment_json(segment)


@router.post("/segments/{segment_id}/count")
def count_segment(
    segment_id: str, session: SessionDep, only_if_stale: bool = False
) -> dict[str, Any]:
    """Count the segment now and remember the result (the segments list's "Customers");
    ``only_if_stale`` keeps a count younger than an hour. Rules that no longer validate are
    not counted: ``error`` says why."""
    result = counts.refresh(session=session, segment_id=segment_id, only_if_stale=only_if_stale)
    return {
        "id": result.segment_id,
        "count": result.count,
        "counted_at": result.counted_at.isoformat() if result.counted_at else None,
        "error": result.error or None,
    }


@router.delete("/segments/{segment_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_segment(segment_id: str, session: SessionDep, user: CurrentUser) -> None:
    """Delete an unused segment; 409 while journeys enter by it or branch on it."""
    service.require_segment(session, segment_id)
    try:
        service.delete_segment(session=session, segment_id=segment_id, by=user)
    except service.SegmentInUseError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


@router.post("/segments/preview")
def preview(body: PreviewIn, session: SessionDep) -> Any:
    """Count and sample rules without saving them; 422 naming each bad rule."""
    try:
        result = service.preview(session=session, definition=body.definition, limit=body.sample)
    except SegmentValidationError as exc:
        return invalid(exc)
    return {
        "count": result.count,
        "sample": [sample_json(r) for r in result.sample],
        "as_of": result.as_of.isoformat(),
        "elapsed_ms": round(result.elapsed_ms, 1),
    }


@router.get("/journeys/{journey_id}/enrollments")
def list_enrollments(journey_id: str, session: SessionDep) -> list[dict[str, Any]]:
    """The journey's segment enrollment passes, newest first, with progress."""
    return [
        enrollment_json(r) for r in crud.list_enrollments(session=session, journey_id=journey_id)
    ]


def _journey_read(session: Session, journey_id: str) -> Journey | None:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    end_transaction(session)
    return journey


@router.post(
    "/journeys/{journey_id}/enrollments",
    status_code=status.HTTP_202_ACCEPTED,
    responses=TEMPORAL_UNAVAILABLE,
)
async def start_enrollment(journey_id: str, session: SessionDep, temporal: TemporalDep) -> Any:
    """Enter the segment's audience now (the journey must be live and enter by segment)."""
    journey = await in_thread(_journey_read, session, journey_id)
    if journey is None:
        raise HTTPException(404, gettext("Journey not found."))
    if journey.status != "live":
        raise HTTPException(409, gettext("Only a live journey can take in its segment."))
    if temporal is None:
        raise HTTPException(503, gettext("Temporal is not configured."))
    workflow_id = await service.start_enrollment(
        client=await temporal.client(),
        task_queue=temporal.enrollment_queue,
        journey_id=journey_id,
    )
    return {"workflow_id": workflow_id}


@router.put("/journeys/{journey_id}/entry-limits")
def set_entry_limits(journey_id: str, body: EntryLimitsIn, session: SessionDep) -> Any:
    """Limit how many customers one pass enters, and how many per hour."""
    if crud.get_journey(session=session, journey_id=journey_id) is None:
        raise HTTPException(404, gettext("Journey not found."))
    row = crud.set_entry_limits(
        session=session,
        journey_id=journey_id,
        max_per_run=body.max_per_run,
        max_per_hour=body.max_per_hour,
    )
    return {"max_per_run": row.max_per_run, "max_per_hour": row.max_per_hour}

"""JSON API of journeys: list, create, draft get/put, validate, publish, pause/resume,
archive/restore, versions, import/export, and the document JSON Schema.

Handlers stay thin: persistence is ``db.crud``, compiling/publishing is ``services.journeys``.
Bad input answers 4xx with a message naming the field; unknown ids answer 404.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError

from canvas_ui import queries
from canvas_ui.api.params import MAX_ID
from canvas_ui.api.responses import TEMPORAL_UNAVAILABLE
from canvas_ui.deps import CurrentUser, ReadSessionDep, SessionDep, TemporalDep
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.drafts import DraftDocument, starter_document
from canvas_ui.i18n import gettext
from canvas_ui.summaries import document_meta
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.models import Journey, JourneyCreate, JourneyVersion
from db.session import end_transaction, in_thread
from engine.compiler import MAX_DOCUMENT_BYTES, document_size
from engine.document import journey_json_schema
from services import journeys as service
from services.journeys import ApprovalRequiredError, JourneyNotLiveError, JourneyStateError

router = APIRouter(prefix="/api", tags=["journeys"], route_class=UnitOfWorkRoute)

STATUSES = ("draft", "live", "paused", "archived")
#: Largest accepted import file / body (the compiler refuses larger documents anyway).
MAX_IMPORT_BYTES = 2_000_000


class JourneyIn(BaseModel):
    """Body of ``POST /api/journeys``."""

    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=2000)
    document: DraftDocument | None = None


def journey_json(journey: Journey) -> dict[str, Any]:
    """The public fields of a journey (without its draft document)."""
    return {
        "id": journey.id,
        "name": journey.name,
        "description": journey.description,
        "status": journey.status,
        "live_version": journey.live_version,
        "created_at": journey.created_at.isoformat(),
        "updated_at": journey.updated_at.isoformat(),
        "created_by": journey.created_by,
        "updated_by": journey.updated_by,
        "source_template_id": journey.source_template_id,
        "source_journey_id": journey.source_journey_id,
        "source_version": journey.source_version,
    }


def version_json(version: JourneyVersion, *, with_document: bool = False) -> dict[str, Any]:
    """A published version's public fields."""
    data: dict[str, Any] = {
        "journey_id": version.journey_id,
        "version": version.version,
        "content_hash": version.content_hash,
        "published_at": version.published_at.isoformat(),
        "published_by": version.published_by,
    }
    if with_document:
        data["document"] = version.document
    return data


def require_journey(session: Any, journey_id: str) -> Journey:
    """The journey, or 404 naming the id. Ends the read transaction (a POST's takes SQLite's
    write lock, which must not be held while the route awaits Temporal)."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    end_transaction(session)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    return journey


@router.get("/schema/journey.json")
def journey_schema() -> dict[str, Any]:
    """The JSON Schema of journey documents."""
    return journey_json_schema()


@router.get("/journeys")
def list_journeys(
    session: SessionDep,
    status_: str | None = Query(default=None, alias="status"),
    q: str | None = Query(default=None, max_length=100),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> list[dict[str, Any]]:
    """Journeys, newest edit first, with customers running / entered / goal counts."""
    if status_ and status_ not in STATUSES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("status must be one of %(choices)s.") % {"choices": ", ".join(STATUSES)},
        )
    items = crud.list_journeys(
        session=session, status=status_ or None, search=q, limit=limit, offset=offset
    )
    return [item.model_dump(mode="json", exclude={"draft_document"}) for item in items]


@router.post("/journeys", status_code=status.HTTP_201_CREATED)
def create_journey(body: JourneyIn, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Create a draft journey (from a document, or a starter entry → exit)."""
    document = (
        body.document.to_json() if body.document else starter_document(body.name, body.description)
    )
    check_document_size(document)
    document["name"], document["description"] = body.name, body.description
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(
            name=body.name, description=body.description, draft_document=document
        ),
        by=user,
    )
    return journey_json(journey)


#: The body the draft routes read themselves (size first, then the structure: see
#: :func:`parse_draft`), as the schema documents it.
DRAFT_JSON: dict[str, Any] = {
    "application/json": {"schema": {"$ref": "#/components/schemas/DraftDocument"}}
}
DRAFT_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": DRAFT_JSON}}
#: Import takes the same document, or an exported file in a form.
IMPORT_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            **DRAFT_JSON,
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            },
        },
    }
}


@router.post("/journeys/import", status_code=status.HTTP_201_CREATED, openapi_extra=IMPORT_BODY)
async def import_journey(request: Request, session: SessionDep, user: CurrentUser) -> Any:
    """Create a journey from an exported document (JSON body or a multipart ``file``)."""
    document = await _read_import(request)
    journey = await in_thread(
        crud.create_journey,
        session=session,
        journey_create=JourneyCreate(
            name=document.name,
            description=document.description,
            draft_document=document.to_json(),
        ),
        by=user,
    )
    return journey_json(journey)


async def _read_import(request: Request) -> DraftDocument:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                gettext("file: choose a journey JSON file to import."),
            )
        raw = await upload.read(MAX_IMPORT_BYTES + 1)
    else:
        raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            gettext("The file is larger than %(num)d bytes.") % {"num": MAX_IMPORT_BYTES},
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("The file is not valid JSON: %(error)s") % {"error": exc},
        ) from exc
    return parse_draft(data)


def parse_draft(data: Any) -> DraftDocument:
    """Check a document's size (413 naming the limit) and structure (422 listing each bad
    field, ``nodes.3.kind: …``)."""
    check_document_size(data)
    try:
        return DraftDocument.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc


def check_document_size(data: Any) -> None:
    """413 when a document is over the size a journey may have (checked when it is created,
    saved and imported, not only at publish)."""
    size = document_size(data)
    if size > MAX_DOCUMENT_BYTES:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            gettext("The journey document is %(size)d KB; the limit is %(limit)d KB.")
            % {"size": size // 1024, "limit": MAX_DOCUMENT_BYTES // 1024},
        )


@router.get("/journeys/{journey_id}")
def get_journey(journey_id: str, session: SessionDep) -> dict[str, Any]:
    """The journey with its draft document and each node's summary and ports."""
    journey = require_journey(session, journey_id)
    ctx = queries.summary_context(session=session)
    return {
        "journey": journey_json(journey),
        "document": journey.draft_document,
        "meta": document_meta(journey.draft_document, ctx),
    }


@router.put("/journeys/{journey_id}", openapi_extra=DRAFT_BODY)
async def put_draft(
    journey_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> dict[str, Any]:
    """Replace the draft document (autosave). Running customers are never affected."""
    await in_thread(require_journey, session, journey_id)
    try:
        data = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("The body is not valid JSON: %(error)s") % {"error": exc},
        ) from exc
    document = parse_draft(data).to_json()

    def save() -> dict[str, Any]:
        journey = crud.update_draft(
            session=session, journey_id=journey_id, document=document, by=user
        )
        ctx = queries.summary_context(session=session)
        return {"journey": journey_json(journey), "meta": document_meta(document, ctx)}

    return await in_thread(save)


@router.post("/journeys/{journey_id}/validate")
def validate(journey_id: str, session: ReadSessionDep) -> dict[str, Any]:
    """Compile the saved draft and list every diagnostic (200 even when there are errors)."""
    journey = require_journey(session, journey_id)
    result = service.validate_draft(session=session, document=journey.draft_document)
    labels = node_labels(journey.draft_document)
    return {
        "ok": result.ok,
        "diagnostics": [
            localize(d.to_dict(), labels, document=journey.draft_document)
            for d in result.diagnostics
        ],
    }


@router.post("/journeys/{journey_id}/check")
def check_document(
    journey_id: str, document: dict[str, Any], session: ReadSessionDep
) -> dict[str, Any]:
    """Compile a posted draft document without saving it, as :func:`validate` does the
    saved one: the editor re-checks the canvas this way after every change (a plain
    ``def``: the compiler runs in the thread pool, never on the event loop)."""
    require_journey(session, journey_id)
    check_document_size(document)
    result = service.validate_draft(session=session, document=document)
    labels = node_labels(document)
    return {
        "ok": result.ok,
        "diagnostics": [
            localize(d.to_dict(), labels, document=document) for d in result.diagnostics
        ],
    }


@router.post("/journeys/{journey_id}/publish")
async def publish(
    journey_id: str, session: SessionDep, temporal: TemporalDep, user: CurrentUser
) -> Any:
    """Publish the draft as the next immutable version; 422 with all diagnostics if invalid."""
    draft = (await in_thread(require_journey, session, journey_id)).draft_document
    labels = node_labels(draft)
    try:
        outcome = await service.publish_journey(
            session=session, temporal=temporal, journey_id=journey_id, by=user
        )
    except JourneyStateError as exc:
        raise state_conflict(exc) from exc
    except ApprovalRequiredError as exc:  # the chain's setting (issue 17): submit instead
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            gettext(
                "Publishing requires approval: submit this draft for approval; an approver "
                "other than you publishes it."
            ),
        ) from exc
    diagnostics = [localize(d.to_dict(), labels, document=draft) for d in outcome.diagnostics]
    if outcome.version is None:
        return JSONResponse(
            {
                "detail": gettext("The journey has errors; fix them and publish again."),
                "diagnostics": diagnostics,
            },
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    journey = await in_thread(require_journey, session, journey_id)
    return {
        "journey": journey_json(journey),
        "version": version_json(outcome.version),
        "diagnostics": diagnostics,
    }


async def _pause(
    journey_id: str, paused: bool, session: Any, temporal: Any, user: str
) -> dict[str, Any]:
    journey = await in_thread(require_journey, session, journey_id)
    allowed = ("live",) if paused else ("paused",)
    if journey.status not in allowed:
        message = (
            gettext("Only a live journey can be paused; this one is %(status)s.")
            if paused
            else gettext("Only a paused journey can be resumed; this one is %(status)s.")
        )
        raise HTTPException(status.HTTP_409_CONFLICT, message % {"status": journey.status})
    try:
        await service.set_paused(
            session=session, temporal=temporal, journey_id=journey_id, paused=paused, by=user
        )
    except JourneyNotLiveError as exc:  # changed meanwhile by someone else
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return {"journey": journey_json(await in_thread(require_journey, session, journey_id))}


@router.post("/journeys/{journey_id}/pause", responses=TEMPORAL_UNAVAILABLE)
async def pause(
    journey_id: str, session: SessionDep, temporal: TemporalDep, user: CurrentUser
) -> dict[str, Any]:
    """Pause a live journey: no new entries; running customers hold at their next step."""
    return await _pause(journey_id, True, session, temporal, user)


@router.post("/journeys/{journey_id}/resume", responses=TEMPORAL_UNAVAILABLE)
async def resume(
    journey_id: str, session: SessionDep, temporal: TemporalDep, user: CurrentUser
) -> dict[str, Any]:
    """Resume a paused journey."""
    return await _pause(journey_id, False, session, temporal, user)


def state_conflict(exc: JourneyStateError) -> HTTPException:
    """A 409 saying, in the UI language, why the journey's status refuses the action."""
    messages = {
        "archive": gettext(
            "Only a draft or a paused journey can be archived; this one is %(status)s."
        ),
        "restore": gettext("Only an archived journey can be restored; this one is %(status)s."),
        "publish": gettext("This journey is archived; restore it before publishing."),
    }
    return HTTPException(status.HTTP_409_CONFLICT, messages[exc.action] % {"status": exc.status})


@router.post("/journeys/{journey_id}/archive", responses=TEMPORAL_UNAVAILABLE)
async def archive(
    journey_id: str, session: SessionDep, temporal: TemporalDep, user: CurrentUser
) -> dict[str, Any]:
    """Archive a draft or paused journey: hidden from the list, customers still in it stopped."""
    try:
        stopped = await service.archive_journey(
            session=session, temporal=temporal, journey_id=journey_id, by=user
        )
    except JourneyStateError as exc:
        raise state_conflict(exc) from exc
    journey = await in_thread(require_journey, session, journey_id)
    return {"journey": journey_json(journey), "stopped": stopped}


@router.post("/journeys/{journey_id}/restore")
def restore(journey_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Bring an archived journey back (paused if it was ever published, else a draft)."""
    try:
        journey = service.restore_journey(session=session, journey_id=journey_id, by=user)
    except JourneyStateError as exc:
        raise state_conflict(exc) from exc
    return {"journey": journey_json(journey)}


@router.get("/journeys/{journey_id}/export")
def export(journey_id: str, session: SessionDep) -> Response:
    """The draft document as a JSON file download."""
    journey = require_journey(session, journey_id)
    body = json.dumps(journey.draft_document, ensure_ascii=False, indent=2)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{journey.id}.json"'},
    )


@router.get("/journeys/{journey_id}/versions")
def list_versions(journey_id: str, session: SessionDep) -> list[dict[str, Any]]:
    """Published versions, newest first: who published when."""
    require_journey(session, journey_id)
    return [version_json(v) for v in crud.list_versions(session=session, journey_id=journey_id)]


@router.get("/journeys/{journey_id}/versions/{version}")
def get_version(
    journey_id: str, session: SessionDep, version: int = Path(ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """One published version with its (immutable) document."""
    require_journey(session, journey_id)
    found = crud.get_version(session=session, journey_id=journey_id, version=version)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("Journey %(id)s has no version %(version)d.")
            % {"id": journey_id, "version": version},
        )
    return version_json(found, with_document=True)

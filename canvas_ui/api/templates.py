"""JSON API of templates: list, detail, instantiate with parameters, clone, save as template,
edit and delete user templates.

Thin handlers over :mod:`services.templates`. A bad parameter answers 422 with one error per
parameter (``errors[].param`` names it); changing a built-in or someone else's template 403.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from canvas_ui import i18n
from canvas_ui.api.journeys import journey_json
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentUser, SessionDep
from canvas_ui.i18n import gettext
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.models import Journey, UserTemplateUpdate
from services import templates as service
from services.templates import NotTemplateOwnerError, TemplateReadOnlyError
from templates_lib import ParameterError, UnknownTemplateError

router = APIRouter(prefix="/api", tags=["templates"], route_class=UnitOfWorkRoute)


class InstantiateIn(BaseModel):
    """Body of ``POST /api/templates/{id}/instantiate``."""

    params: dict[str, Any] = Field(default_factory=dict)
    name: str | None = Field(default=None, min_length=1, max_length=120)


class CloneIn(BaseModel):
    """Body of ``POST /api/journeys/{id}/clone``: no version = the current draft."""

    version: int | None = Field(default=None, ge=1, le=MAX_ID)
    name: str | None = Field(default=None, min_length=1, max_length=120)


class SaveAsTemplateIn(BaseModel):
    """Body of ``POST /api/journeys/{id}/save-as-template``."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    goal: str = Field(default="", max_length=200)
    version: int | None = Field(default=None, ge=1, le=MAX_ID)


class TemplateUpdateIn(BaseModel):
    """Body of ``PATCH /api/templates/{id}`` (user templates, by their owner)."""

    name: str | None = Field(default=None, min_length=1, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    goal: str | None = Field(default=None, max_length=200)


def parameter_error_response(exc: ParameterError) -> JSONResponse:
    """422 naming each offending parameter."""
    return JSONResponse(
        {"detail": str(exc), "errors": [i.to_dict() for i in exc.issues]},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def _forbidden(exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_403_FORBIDDEN)


def _created(journey: Journey) -> JSONResponse:
    return JSONResponse(
        {**journey_json(journey), "url": f"/journeys/{journey.id}/edit"},
        status_code=status.HTTP_201_CREATED,
        headers={"Location": f"/api/journeys/{journey.id}"},
    )


@router.get("/templates")
def list_templates(session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """Built-in templates, then user templates; texts in the request's locale."""
    cards = service.list_templates(session=session, user=user, locale=i18n.current_locale())
    return {"templates": [c.to_dict() for c in cards]}


@router.get("/templates/{template_id}")
def get_template(template_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """One template with its document (built-ins: made with the default parameters)."""
    card = service.get_card(
        session=session, template_id=template_id, user=user, locale=i18n.current_locale()
    )
    return {**card.to_dict(), "document": card.document}


@router.post("/templates/{template_id}/instantiate", status_code=status.HTTP_201_CREATED)
def instantiate(
    template_id: str, body: InstantiateIn, session: SessionDep, user: CurrentUser
) -> Response:
    """A new draft journey from the template with ``params`` (the rest take defaults)."""
    try:
        journey = service.instantiate(
            session=session, template_id=template_id, params=body.params, by=user, name=body.name
        )
    except UnknownTemplateError as exc:  # pragma: no cover - is_builtin() routes around it
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_404_NOT_FOUND)
    except ParameterError as exc:
        return parameter_error_response(exc)
    return _created(journey)


@router.patch("/templates/{template_id}")
def update_template(
    template_id: str, body: TemplateUpdateIn, session: SessionDep, user: CurrentUser
) -> Response:
    """Rename or re-describe a user template (its owner only)."""
    try:
        template = service.update_user_template(
            session=session,
            template_id=template_id,
            user=user,
            update=UserTemplateUpdate(**body.model_dump(exclude_none=True)),
        )
    except (TemplateReadOnlyError, NotTemplateOwnerError) as exc:
        return _forbidden(exc)
    return JSONResponse(service.user_card(template, user).to_dict())


@router.delete("/templates/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_template(template_id: str, session: SessionDep, user: CurrentUser) -> Response:
    """Delete a user template (its owner only); journeys made from it stay."""
    try:
        service.delete_user_template(session=session, template_id=template_id, user=user)
    except (TemplateReadOnlyError, NotTemplateOwnerError) as exc:
        return _forbidden(exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/journeys/{journey_id}/clone", status_code=status.HTTP_201_CREATED)
def clone(journey_id: str, body: CloneIn, session: SessionDep, user: CurrentUser) -> Response:
    """An independent draft copy of the journey's draft (or of published ``version``)."""
    journey = service.clone_journey(
        session=session,
        journey_id=journey_id,
        by=user,
        version=body.version,
        name=body.name,
        copy_name=gettext("%(name)s (copy)"),
    )
    return _created(journey)


@router.post("/journeys/{journey_id}/save-as-template", status_code=status.HTTP_201_CREATED)
def save_as_template(
    journey_id: str, body: SaveAsTemplateIn, session: SessionDep, user: CurrentUser
) -> Response:
    """Save the journey (draft or ``version``) as a template owned by the current user."""
    template = service.save_as_template(
        session=session,
        journey_id=journey_id,
        by=user,
        name=body.name,
        description=body.description,
        goal=body.goal,
        version=body.version,
    )
    return JSONResponse(
        service.user_card(template, user).to_dict(), status_code=status.HTTP_201_CREATED
    )

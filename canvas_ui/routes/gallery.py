"""The template gallery: cards with a read-only preview, the "use this template" parameter
form, saved-template editing, and clone / save-as-template actions on journeys.

Each handler gathers data and renders one page template; htmx form posts answer with the
form block (422 with inline errors) or an ``HX-Redirect`` to the new draft's editor.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

import templates_lib
from canvas_ui import i18n
from canvas_ui.deps import CurrentUser, SessionDep
from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import KINDS
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.errors import NotFoundError
from db.models import UserTemplateUpdate
from db.session import in_thread
from services import templates as service
from services.templates import NotTemplateOwnerError, TemplateCard, TemplateReadOnlyError
from templates_lib import ParameterError, ParamIssue, ParamType, Template

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

KIND_COLORS = {kind.value: info.color for kind, info in KINDS.items()}
CATEGORY_LABELS = {
    "acquire": lazy("Acquire"),
    "develop": lazy("Develop"),
    "retain": lazy("Retain"),
    "win_back": lazy("Win back"),
    "mine": lazy("Saved template"),
}
UNIT_LABELS = {"days": lazy("days"), "hours": lazy("hours"), "minutes": lazy("minutes")}


def _redirect(request: Request, url: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _kind_titles() -> dict[str, str]:
    """The kinds' names in the UI's language, for steps without a label."""
    return {k.value: gettext(info.title) for k, info in KINDS.items()}


def _card_view(card: TemplateCard) -> dict[str, Any]:
    return {
        "card": card,
        "category": gettext(CATEGORY_LABELS.get(card.category, card.category)),
        "preview": templates_lib.preview(card.document, _kind_titles()),
    }


def _param_summary(template: Template, locale: str) -> list[dict[str, str]]:
    """``label: default (bounds)`` lines for a card."""
    rows = []
    for p in template.params:
        if p.type is ParamType.INT:
            unit = gettext(UNIT_LABELS.get(p.unit, p.unit))
            value = f"{p.default} {unit} ({p.minimum}–{p.maximum})"
        elif p.type is ParamType.MULTI:
            value = "、".join(c.label.get(locale) for c in p.choices if c.value in p.default)
        elif p.type is ParamType.CHOICE:
            value = next((c.label.get(locale) for c in p.choices if c.value == p.default), "")
        else:
            value = str(p.default)
        rows.append({"label": p.label.get(locale), "value": value})
    return rows


@router.get("/templates")
def gallery_page(request: Request, session: SessionDep, user: CurrentUser) -> Response:
    """Built-in and saved templates as cards, and the journeys one can clone or save."""
    locale = i18n.current_locale()
    cards = service.list_templates(session=session, user=user, locale=locale)
    builtins = [
        {**_card_view(c), "params": _param_summary(templates_lib.get_template(c.id), locale)}
        for c in cards
        if c.builtin
    ]
    saved = [_card_view(c) for c in cards if not c.builtin]
    journeys = crud.list_journeys(session=session, limit=50)
    names = {j.id: j.name for j in journeys}
    return render(
        request,
        "gallery.html",
        {
            "builtins": builtins,
            "saved": saved,
            "journeys": journeys,
            "journey_names": names,
            "kind_colors": KIND_COLORS,
            "template_names": _template_names(session, locale),
        },
    )


def _template_names(session: Session, locale: str) -> dict[str, str]:
    names = {t.id: t.name.get(locale) for t in templates_lib.all_templates()}
    names.update({t.id: t.name for t in crud.list_user_templates(session=session)})
    return names


# ------------------------------------------------------------------ use a template


def _issue_text(issue: ParamIssue, template: Template | None, locale: str) -> str:
    details = dict(issue.details)
    if issue.code == "out_of_range":
        return gettext("Must be between %(min)s and %(max)s.") % {
            "min": details.get("minimum"),
            "max": details.get("maximum"),
        }
    if issue.code == "not_an_integer":
        return gettext("Enter a whole number.")
    if issue.code == "empty":
        return gettext("Pick at least one.")
    if issue.code == "unknown_coupon":
        return gettext("This coupon template does not exist.")
    if issue.code == "order" and template is not None:
        other = template.param(str(details.get("after")))
        return gettext("Must come after “%(other)s”.") % {"other": other.label.get(locale)}
    if issue.code == "not_a_choice":
        return gettext("Pick one of the options.")
    return issue.message


def _param_fields(
    session: Session,
    template: Template,
    values: dict[str, Any],
    errors: dict[str, str],
    locale: str,
) -> list[dict[str, Any]]:
    coupons = crud.list_coupon_templates(session=session, active_only=True)
    fields = []
    for p in template.params:
        value = values.get(p.name, p.default)
        field: dict[str, Any] = {
            "name": p.name,
            "type": p.type.value,
            "label": p.label.get(locale),
            "help": p.help.get(locale),
            "value": value,
            "error": errors.get(p.name, ""),
        }
        if p.type is ParamType.INT:
            field.update(
                min=p.minimum, max=p.maximum, unit=gettext(UNIT_LABELS.get(p.unit, p.unit))
            )
        elif p.type is ParamType.COUPON:
            field["choices"] = [
                {"value": c.id, "label": f"{c.name} · {c.id}", "selected": c.id == value}
                for c in coupons
            ]
            if value not in {c.id for c in coupons}:
                field["choices"].insert(0, {"value": value, "label": value, "selected": True})
        else:
            chosen = set(value) if p.type is ParamType.MULTI else {value}
            field["choices"] = [
                {"value": c.value, "label": c.label.get(locale), "selected": c.value in chosen}
                for c in p.choices
            ]
        fields.append(field)
    return fields


def _builtin_or_404(template_id: str) -> Template:
    if not templates_lib.is_builtin(template_id):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No template with id %(id)s.") % {"id": template_id}
        )
    return templates_lib.get_template(template_id)


def _use_context(
    session: Session,
    template_id: str,
    user: str,
    values: dict[str, Any],
    errors: dict[str, str],
    name: str = "",
) -> dict[str, Any]:
    locale = i18n.current_locale()
    card = service.get_card(session=session, template_id=template_id, user=user, locale=locale)
    template = templates_lib.get_template(template_id) if card.builtin else None
    fields = _param_fields(session, template, values, errors, locale) if template else []
    return {
        **_card_view(card),
        "fields": fields,
        "errors": errors,
        "form_name": name or card.name,
        "kind_colors": KIND_COLORS,
    }


@router.get("/templates/{template_id}/use")
def use_page(
    template_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """The parameters form of a template, with its defaults filled in."""
    try:
        ctx = _use_context(session, template_id, user, {}, {})
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return render(request, "gallery_use.html", ctx, block="use_form")


def _form_params(form: FormData, template: Template) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for p in template.params:
        if p.type is ParamType.MULTI:
            params[p.name] = [str(v) for v in form.getlist(p.name)]
        elif p.name in form:
            params[p.name] = str(form[p.name]).strip()
    return params


@router.post("/templates/{template_id}/use")
async def use_template(
    template_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """Create a draft from the template with the posted parameters; open it in the editor."""
    form = await request.form()

    def work() -> Response:
        name = str(form.get("name") or "").strip()[:120]
        template = _builtin_or_404(template_id) if templates_lib.is_builtin(template_id) else None
        params = _form_params(form, template) if template else {}
        try:
            journey = service.instantiate(
                session=session, template_id=template_id, params=params, by=user, name=name or None
            )
        except ParameterError as exc:
            locale = i18n.current_locale()
            errors = {i.param: _issue_text(i, template, locale) for i in exc.issues}
            ctx = _use_context(session, template_id, user, params, errors, name)
            return render(
                request,
                "gallery_use.html",
                ctx,
                block="use_form",
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        return _redirect(request, f"/journeys/{journey.id}/edit")

    return await in_thread(work)


# ------------------------------------------------------------------ saved templates


def _owned_card(session: Session, template_id: str, user: str) -> TemplateCard:
    if templates_lib.is_builtin(template_id):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, gettext("Built-in templates cannot be changed.")
        )
    card = service.get_card(
        session=session, template_id=template_id, user=user, locale=i18n.current_locale()
    )
    if not card.editable:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            gettext("Only %(owner)s can change this template.") % {"owner": card.owner},
        )
    return card


@router.get("/templates/{template_id}/edit")
def edit_page(
    template_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """Rename / re-describe a saved template (its owner only)."""
    card = _owned_card(session, template_id, user)
    return render(
        request,
        "gallery_edit.html",
        {**_card_view(card), "kind_colors": KIND_COLORS, "error": ""},
        block="edit_form",
    )


@router.post("/templates/{template_id}/edit")
async def edit_template(
    template_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    form = await request.form()

    def work() -> Response:
        card = _owned_card(session, template_id, user)
        name = str(form.get("name") or "").strip()
        description = str(form.get("description") or "").strip()
        goal = str(form.get("goal") or "").strip()
        if not name or len(name) > 120 or len(description) > 2000 or len(goal) > 200:
            return render(
                request,
                "gallery_edit.html",
                {
                    **_card_view(card),
                    "kind_colors": KIND_COLORS,
                    "error": gettext(
                        "A name (up to 120 characters) is required; the description is "
                        "limited to 2000 characters and the goal to 200."
                    ),
                },
                block="edit_form",
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        service.update_user_template(
            session=session,
            template_id=template_id,
            user=user,
            update=UserTemplateUpdate(name=name, description=description, goal=goal),
        )
        return _redirect(request, f"/templates?saved={template_id}#saved")

    return await in_thread(work)


@router.post("/templates/{template_id}/delete")
def delete_template(
    template_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """Delete a saved template (its owner only)."""
    try:
        service.delete_user_template(session=session, template_id=template_id, user=user)
    except (TemplateReadOnlyError, NotTemplateOwnerError) as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    return _redirect(request, f"/templates?deleted={template_id}#saved")


# ------------------------------------------------------------------ journeys → clone / save


@router.post("/journeys/{journey_id}/clone")
async def clone_journey(
    journey_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """Clone the draft (or the posted ``version``) into a new draft; open it."""
    form = await request.form()

    def work() -> Response:
        raw = str(form.get("version") or "").strip()
        version = int(raw) if raw.isdigit() else None
        journey = service.clone_journey(
            session=session,
            journey_id=journey_id,
            by=user,
            version=version,
            copy_name=gettext("%(name)s (copy)"),
        )
        return _redirect(request, f"/journeys/{journey.id}/edit")

    return await in_thread(work)


@router.post("/journeys/{journey_id}/save-as-template")
async def save_as_template(
    journey_id: str, request: Request, session: SessionDep, user: CurrentUser
) -> Response:
    """Save the journey's draft (or the posted ``version``) as a template of the user's."""
    form = await request.form()

    def work() -> Response:
        raw = str(form.get("version") or "").strip()
        name = str(form.get("name") or "").strip()
        description = form.get("description")
        goal = str(form.get("goal") or "").strip()
        if len(name) > 120 or len(str(description or "")) > 2000 or len(goal) > 200:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                gettext(
                    "The name takes up to 120 characters, the goal 200 and the description 2000."
                ),
            )
        template = service.save_as_template(
            session=session,
            journey_id=journey_id,
            by=user,
            name=name or None,  # none given: the journey's name
            description=str(description).strip() if description is not None else None,
            goal=goal,
            version=int(raw) if raw.isdigit() else None,
        )
        # a new query string, so the browser reloads even when it is on /templates already
        return _redirect(request, f"/templates?saved={template.id}#saved")

    return await in_thread(work)

"""The accounts page (admins only): who can sign in, as what; add an account, set a new
password, switch an account off; each guide's WeCom userid (where their notices go). htmx
posts answer the page's ``accounts`` block."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import Response

from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentPrincipal, SessionDep
from canvas_ui.i18n import gettext, lazy
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.errors import NotFoundError
from db.models import ACCOUNT_ROLES
from services import accounts, contact_ids

#: HTML pages, not part of the JSON API's OpenAPI schema (like every other page router)
router = APIRouter(tags=["pages"], include_in_schema=False, route_class=UnitOfWorkRoute)

ROLE_LABELS = {
    "admin": lazy("Administrator"),
    "hq": lazy("HQ marketer"),
    "store_manager": lazy("Store manager"),
    "guide": lazy("Sales guide"),
}
#: What the form says for each field the service refuses (its own text is English).
FIELD_ERRORS = {
    "username": lazy("2–64 characters: lower-case letters, digits, '.', '_' or '-'."),
    "password": lazy("Use at least 8 characters."),
    "role": lazy("Pick a role."),
    "guide_id": lazy("Guides and store managers are linked to their guide id; others to none."),
    "active": lazy("You cannot deactivate your own account."),
    "wecom_userid": lazy(
        "A WeCom userid is 1–64 letters, digits, _ - @ or ., starting with a letter or digit."
    ),
}


def _page(
    request: Request,
    session: Any,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    status_code: int = 200,
    wecom_values: dict[str, str] | None = None,
) -> Response:
    guides = crud.list_guides(session=session)
    return render(
        request,
        "accounts.html",
        {
            "accounts": crud.list_accounts(session=session),
            "roles": {r: gettext(ROLE_LABELS[r]) for r in ACCOUNT_ROLES},
            "guides": guides,
            "guide_names": {g.id: g.name for g in guides},
            "form": form or {"role": "guide"},
            "errors": errors or {},
            "notice": notice,
            # a refused WeCom userid is shown again as typed (guide id → value)
            "wecom_values": wecom_values or {},
        },
        block="accounts",
        status_code=status_code,
    )


@router.get("/accounts")
def accounts_page(request: Request, session: SessionDep) -> Response:
    return _page(request, session)


@router.post("/accounts")
def add_account(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    username: str = Form(default="", max_length=64),
    display_name: str = Form(default="", max_length=64),
    role: str = Form(default="", max_length=16),
    guide_id: str = Form(default="", max_length=32),
    password: str = Form(default="", max_length=256),
) -> Response:
    form = {"username": username, "display_name": display_name, "role": role, "guide_id": guide_id}
    try:
        account = accounts.add_account(
            session=session,
            username=username,
            password=password,
            role=role,
            display_name=display_name,
            guide_id=guide_id,
            by=actor.username,
        )
    except accounts.AccountInputError as exc:
        errors = {exc.field: gettext(FIELD_ERRORS[exc.field])}
        return _page(request, session, form=form, errors=errors, status_code=422)
    except accounts.AccountExistsError:
        errors = {"username": gettext("This username is taken.")}
        return _page(request, session, form=form, errors=errors, status_code=422)
    notice = gettext("Account %(name)s created.") % {"name": account.username}
    return _page(request, session, notice=notice, status_code=status.HTTP_201_CREATED)


@router.post("/accounts/{user_id}/password")
def set_password(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    user_id: int = Path(ge=1, le=MAX_ID),
    password: str = Form(default="", max_length=256),
) -> Response:
    try:
        account = accounts.change_password(
            session=session, user_id=user_id, password=password, by=actor.username
        )
    except accounts.AccountInputError as exc:
        errors = {f"password-{user_id}": gettext(FIELD_ERRORS[exc.field])}
        return _page(request, session, errors=errors, status_code=422)
    notice = gettext("New password set for %(name)s; their open sessions ended.") % {
        "name": account.username
    }
    return _page(request, session, notice=notice)


@router.post("/accounts/{user_id}/active")
def set_active(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    user_id: int = Path(ge=1, le=MAX_ID),
    active: bool = Form(),
) -> Response:
    try:
        accounts.set_active(session=session, actor=actor, user_id=user_id, active=active)
    except accounts.AccountInputError as exc:
        errors = {f"active-{user_id}": gettext(FIELD_ERRORS[exc.field])}
        return _page(request, session, errors=errors, status_code=422)
    return _page(request, session)


@router.post("/accounts/{user_id}/permissions")
def set_permissions(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    user_id: int = Path(ge=1, le=MAX_ID),
    approve_journeys: str = Form(default="", max_length=8),
) -> Response:
    """Grant or take back an HQ account's right to approve launches (issue 17)."""
    wanted = {"approve_journeys"} if approve_journeys else set()
    try:
        accounts.set_permissions(session=session, actor=actor, user_id=user_id, permissions=wanted)
    except accounts.AccountInputError:
        return _page(
            request,
            session,
            notice=gettext("Only an HQ account can approve launches."),
            status_code=422,
        )
    return _page(request, session, notice=gettext("Permissions saved."))


@router.post("/accounts/guides/{guide_id}/wecom")
def set_guide_wecom_userid(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    guide_id: str = Path(min_length=1, max_length=32),
    wecom_userid: str = Form(default="", max_length=64),
) -> Response:
    """Set a guide's WeCom member userid (``services.contact_ids``): their next task notice
    goes there. A refused one is a 422 with the error on the guide's row."""
    try:
        guide = contact_ids.set_guide_wecom_userid(
            session=session, guide_id=guide_id, userid=wecom_userid, actor=actor.username
        )
    except NotFoundError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("Guide %(id)s does not exist.") % {"id": guide_id}
        ) from exc
    except contact_ids.ContactIdInputError as exc:
        message = (
            gettext("Guide %(other)s already has this WeCom userid.") % {"other": exc.taken_by}
            if exc.taken_by
            else gettext(FIELD_ERRORS[exc.field])
        )
        return _page(
            request,
            session,
            errors={f"wecom-{guide_id}": message},
            wecom_values={guide_id: wecom_userid},
            status_code=422,
        )
    notice = gettext("WeCom userid of %(name)s saved.") % {"name": guide.name}
    return _page(request, session, notice=notice)

"""Sign in, sign out, and ``/api/me``. Sessions and passwords: :mod:`services.accounts`,
login throttling: :mod:`services.login_throttle`."""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import JSONResponse, RedirectResponse, Response

from canvas_ui import access
from canvas_ui.deps import CurrentPrincipal, SessionDep, SettingsDep, resolve_principal
from canvas_ui.i18n import gettext, ngettext
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services.accounts import (
    DEMO_PASSWORD,
    DEMO_USERNAMES,
    SESSION_COOKIE,
    SESSION_LIFETIME,
    LoginFailedError,
    login,
    logout,
)
from services.login_throttle import LoginLimits, LoginThrottledError
from settings import Settings

router = APIRouter(tags=["auth"], route_class=UnitOfWorkRoute)


def safe_next(raw: str | None, fallback: str) -> str:
    """A same-site path to go to after login (never another host)."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return fallback


def _go(request: Request, url: str) -> Response:
    if request.headers.get("hx-request") == "true":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def _page(request: Request, settings: Settings, **ctx: Any) -> dict[str, Any]:
    demo = settings.demo  # only the local demo shows the hint
    return {
        "next": "",
        "username": "",
        "error": "",
        "demo_users": DEMO_USERNAMES if demo else (),
        "demo_password": DEMO_PASSWORD if demo else "",
        **ctx,
    }


def _refused(
    request: Request,
    ctx: dict[str, Any],
    status_code: int,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form again with its error (a browser or htmx), or ``{"detail": error}`` for a
    client that asked for JSON only."""
    accept = request.headers.get("accept", "")
    if "application/json" in accept and "text/html" not in accept:
        return JSONResponse({"detail": ctx["error"]}, status_code=status_code, headers=headers)
    return render(
        request, "login.html", ctx, block="form", status_code=status_code, headers=headers
    )


def _wait_text(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return ngettext("%(num)d minute", "%(num)d minutes", minutes) % {"num": minutes}


@router.get("/login", include_in_schema=False)
def login_page(request: Request, settings: SettingsDep, next: str = "") -> Response:
    """The sign-in form (already signed in: straight to the user's home)."""
    principal = resolve_principal(request)
    if principal is not None:
        return RedirectResponse(
            safe_next(next, access.home_for(principal.role)), status_code=status.HTTP_303_SEE_OTHER
        )
    return render(request, "login.html", _page(request, settings, next=next), block="form")


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    username: str = Form(default="", max_length=64),
    password: str = Form(default="", max_length=256),
    next: str = Form(default="", max_length=500),
) -> Response:
    """Check the password; set the session cookie and go to ``next`` or the role's home.

    Wrong: 422 with the form. Too many failures of the account or from this address: 429
    with ``Retry-After`` (seconds), even for the right password.
    """
    try:
        principal, cookie = login(
            session=session,
            username=username,
            password=password,
            secret=settings.secret_key,
            client=request.client.host if request.client else None,
            limits=LoginLimits.from_settings(settings),
        )
    except LoginThrottledError as exc:
        error = gettext("Too many failed sign-ins. Try again in %(wait)s.") % {
            "wait": _wait_text(exc.retry_after)
        }
        ctx = _page(request, settings, next=next, username=username, error=error)
        return _refused(
            request,
            ctx,
            status.HTTP_429_TOO_MANY_REQUESTS,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except LoginFailedError:
        error = gettext("Wrong username or password.")
        ctx = _page(request, settings, next=next, username=username, error=error)
        return _refused(request, ctx, status.HTTP_422_UNPROCESSABLE_CONTENT)
    response = _go(request, safe_next(next, access.home_for(principal.role)))
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout_submit(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """End the session and go back to the sign-in page."""
    logout(session=session, cookie=request.cookies.get(SESSION_COOKIE), secret=settings.secret_key)
    response = _go(request, "/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/me")
def me(principal: CurrentPrincipal) -> dict[str, Any]:
    """Who is signed in, their role and scope."""
    return {
        "username": principal.username,
        "display_name": principal.display_name,
        "role": principal.role,
        "guide_id": principal.guide_id,
        "store_id": principal.store_id,
        "home": access.home_for(principal.role),
    }

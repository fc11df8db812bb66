"""Who may open which URL: the one place the web app decides, enforced server-side.

:func:`canvas_ui.deps.require_access` runs before every route (it is an app-wide dependency,
see :func:`canvas_ui.app.create_app`) and checks the path against :data:`RULES`; routes then
narrow to the user's scope (a guide's own tasks, a manager's store) through
:class:`services.accounts.Principal`. Anything not listed is for HQ and admins only, so a new
page is closed until someone opens it here.

``/api/events`` is for machines (POS, mini-program, CDP): it takes the ``X-API-Key`` header
(``JOURNEYS_EVENTS_API_KEY``) instead of a session. A signed-in HQ user may post too, but
then with the CSRF header, because the path is CSRF-exempt for the machines.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

ALL_ROLES = frozenset({"admin", "hq", "store_manager", "guide"})
WIDE = frozenset({"admin", "hq"})

#: Paths anyone may open (the login page, static assets, the language switch).
#: ``/callbacks/`` is for WeCom and WeChat: each request carries the platform's signature.
PUBLIC_PREFIXES = (
    "/login",
    "/logout",
    "/lang",
    "/static/",
    "/vendor/",
    "/favicon.ico",
    "/callbacks/",
)
#: Paths machines call with an API key.
MACHINE_PREFIXES = ("/api/events",)
API_KEY_HEADER = "x-api-key"

#: (path prefix, roles allowed). First match wins; unlisted paths: HQ and admins only.
RULES: tuple[tuple[str, frozenset[str]], ...] = (
    # a guide's month: each role sees its scope (services.attribution), HQ everyone's
    ("/workbench/results", ALL_ROLES),
    ("/workbench", frozenset({"guide", "store_manager", "admin"})),
    ("/tasks", frozenset({"store_manager", "hq", "admin"})),
    # a manager sees the messages to the store's customers (canvas_ui.routes.outbox)
    ("/outbox", frozenset({"store_manager", "hq", "admin"})),
    ("/api/tasks", ALL_ROLES),  # each task is scope-checked by services.tasks
    ("/api/customers", ALL_ROLES),  # each customer is scope-checked
    ("/api/me", ALL_ROLES),
    # attribution: HQ the chain, a manager the store, a guide their own (services.attribution)
    ("/api/reports", ALL_ROLES),
    ("/reports", ALL_ROLES),
    ("/api/accounts", frozenset({"admin"})),
    ("/accounts", frozenset({"admin"})),
)

#: Where each role lands after login and on ``/``.
HOME = {"admin": "/journeys", "hq": "/journeys", "store_manager": "/tasks", "guide": "/workbench"}


def is_public(path: str) -> bool:
    return path == "/login" or path.startswith(PUBLIC_PREFIXES)


def is_machine(path: str) -> bool:
    return path.startswith(MACHINE_PREFIXES)


def roles_for(path: str) -> frozenset[str]:
    """The roles that may open ``path``."""
    for prefix, roles in RULES:
        if path == prefix or path.startswith(prefix + "/") or path.startswith(prefix + "."):
            return roles
    return WIDE


def home_for(role: str) -> str:
    return HOME.get(role, "/journeys")


class LoginRequiredError(StarletteHTTPException):
    """No (valid) session: pages redirect to the login page, APIs answer 401."""

    def __init__(self, next_path: str = "/") -> None:
        super().__init__(401, "Sign in first.")
        self.next_path = next_path


class RedirectHomeError(StarletteHTTPException):
    """``/`` for a role whose home is not the journey list."""

    def __init__(self, location: str) -> None:
        super().__init__(303, "See other")
        self.location = location


def _wants_page(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and request.method in ("GET", "HEAD")


def install(app: FastAPI) -> None:
    """Register the responses for :class:`LoginRequiredError` and :class:`RedirectHomeError`."""

    @app.exception_handler(LoginRequiredError)
    async def login_required(request: Request, exc: LoginRequiredError) -> Response:
        login_url = "/login?next=" + quote(exc.next_path, safe="/")
        if request.headers.get("hx-request") == "true":
            # htmx follows HX-Redirect with a full page load (the session may have expired).
            return Response(status_code=401, headers={"HX-Redirect": login_url})
        if _wants_page(request):
            return RedirectResponse(login_url, status_code=303)
        return JSONResponse(
            {"detail": exc.detail}, status_code=401, headers={"WWW-Authenticate": "Session"}
        )

    @app.exception_handler(RedirectHomeError)
    async def redirect_home(request: Request, exc: RedirectHomeError) -> Response:
        return RedirectResponse(exc.location, status_code=303)

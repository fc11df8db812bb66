"""FastAPI dependencies: database session, settings, Temporal gateway, current user.

Everything a route needs arrives through these ``Annotated`` aliases, so tests swap any of
them with ``app.dependency_overrides`` (see ``tests/canvas_ui/conftest.py``).

Authentication: :func:`require_access` is an app-wide dependency (every route, pages and
API alike): it reads the session cookie, refuses anonymous requests (login page for pages,
401 for the API) and checks the path against :mod:`canvas_ui.access`. Routes take
``CurrentPrincipal`` for the user's role and scope, or ``CurrentUser`` for their name.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from canvas_ui import access
from canvas_ui.i18n import gettext
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from db.session import writer
from services.accounts import SESSION_COOKIE, Principal, principal_from_cookie
from settings import Settings, get_settings

_UNRESOLVED = object()


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, on the engine the app was created with (a sync dependency:
    FastAPI runs it, and its clean-up, in the thread pool, off the event loop).

    A state-changing request reads before it writes (idempotency keys, "already in the
    journey?"), so its transaction takes SQLite's write lock up front and queues on the
    busy timeout instead of failing on a lock upgrade; GETs stay plain readers.
    """
    engine = request.app.state.engine
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        engine = writer(engine)
    with Session(engine, expire_on_commit=False) as session:
        # the request's unit of work ends on every path: committed when the route returns,
        # rolled back when it raises (never left holding SQLite's write lock)
        try:
            yield session
        except BaseException:
            session.rollback()
            raise
        if session.in_transaction():
            session.commit()


def get_temporal(request: Request) -> Any:
    """The app's lazily-connected :class:`services.temporal.TemporalGateway` (or None)."""
    return getattr(request.app.state, "temporal", None)


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def resolve_principal(request: Request) -> Principal | None:
    """The signed-in user of this request (looked up once, then kept on ``request.state``)."""
    found = getattr(request.state, "principal", _UNRESOLVED)
    if found is not _UNRESOLVED:
        return found if isinstance(found, Principal) else None
    principal = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with Session(request.app.state.engine) as session:
            principal = principal_from_cookie(
                session=session, cookie=cookie, secret=_settings(request).secret_key
            )
    request.state.principal = principal
    return principal


def require_access(request: Request) -> Principal | None:
    """App-wide guard: the path's rule from :mod:`canvas_ui.access` for the signed-in user."""
    path = request.url.path
    if access.is_public(path):
        return resolve_principal(request)
    if access.is_machine(path):
        key = _settings(request).events_api_key
        sent = request.headers.get(access.API_KEY_HEADER, "")
        if key and sent and secrets.compare_digest(sent, key):
            return None
        principal = resolve_principal(request)
        if principal is None:
            raise HTTPException(401, _api_key_problem(sent=sent, configured=bool(key)))
        csrf = request.cookies.get(CSRF_COOKIE, "")
        if not (csrf and secrets.compare_digest(request.headers.get(CSRF_HEADER, ""), csrf)):
            raise HTTPException(403, gettext("CSRF check failed."))
    else:
        principal = resolve_principal(request)
    if principal is None:
        raise access.LoginRequiredError(
            path + (f"?{request.url.query}" if request.url.query else "")
        )
    if path == "/" and principal.role in access.HOME:
        raise access.RedirectHomeError(access.home_for(principal.role))
    if principal.role not in access.roles_for(path):
        raise HTTPException(403, gettext("Your account cannot open this page."))
    return principal


def _api_key_problem(*, sent: str, configured: bool) -> str:
    """What was wrong with a machine's request: no key, a wrong key, or none expected."""
    if not sent:
        return gettext(
            "The X-API-Key header is missing: send the events API key in it, or sign in."
        )
    if not configured:
        return gettext(
            "This server accepts no API key (JOURNEYS_EVENTS_API_KEY is not set): sign in."
        )
    return gettext("The X-API-Key header does not match the events API key of this server.")


def get_principal(request: Request) -> Principal:
    """The signed-in user; 401 on the few public routes that ask for one without a session."""
    principal = resolve_principal(request)
    if principal is None:
        raise access.LoginRequiredError(request.url.path)
    return principal


def get_current_user(request: Request) -> str:
    """The acting user's name (``""`` on public pages such as the login page)."""
    principal = resolve_principal(request)
    return principal.username if principal is not None else ""


SessionDep = Annotated[Session, Depends(get_db)]


def get_read_db(request: Request) -> Iterator[Session]:
    """A session for a route that only reads, whatever its method: a POST that compiles a
    draft (validate, check) would otherwise hold SQLite's write lock for the whole compile
    (``get_db`` makes every POST a writer), and every writer of the install waits."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        try:
            yield session
        finally:
            if session.in_transaction():
                session.rollback()


ReadSessionDep = Annotated[Session, Depends(get_read_db)]
#: The app's own settings (``create_app``'s), read from ``app.state``: not an entry in
#: ``app.dependency_overrides``, whose mere presence makes FastAPI rebuild every route's
#: dependency tree on every request (bench.web_load: ~8% of the web app's CPU).
SettingsDep = Annotated[Settings, Depends(_settings)]
TemporalDep = Annotated[Any, Depends(get_temporal)]
CurrentUser = Annotated[str, Depends(get_current_user)]
CurrentPrincipal = Annotated[Principal, Depends(get_principal)]

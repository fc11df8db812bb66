"""The web app factory: pages, JSON API, static files and the npm-provided front-end code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from canvas_ui import access
from canvas_ui.api import accounts as accounts_api
from canvas_ui.api import approvals as approvals_api
from canvas_ui.api import audit as audit_api
from canvas_ui.api import backtests as backtests_api
from canvas_ui.api import events as events_api
from canvas_ui.api import journeys as journeys_api
from canvas_ui.api import policy as policy_api
from canvas_ui.api import reports as reports_api
from canvas_ui.api import results as results_api
from canvas_ui.api import runs as runs_api
from canvas_ui.api import segments as segments_api
from canvas_ui.api import sms_callbacks
from canvas_ui.api import tasks as tasks_api
from canvas_ui.api import templates as templates_api
from canvas_ui.api import variants as variants_api
from canvas_ui.api import version_moves as version_moves_api
from canvas_ui.deps import require_access
from canvas_ui.i18n import gettext
from canvas_ui.limits import BodyLimitMiddleware
from canvas_ui.middleware import CsrfMiddleware, LocaleMiddleware, RequestScopeMiddleware
from canvas_ui.routes import (
    accounts,
    approvals,
    audit,
    auth,
    backtests,
    gallery,
    journey_results,
    outbox,
    pages,
    panel,
    policy,
    reports,
    runs,
    segments,
    tasks_dashboard,
    version_moves,
    workbench,
    wx_callbacks,
)
from canvas_ui.templating import STATIC_DIR, make_templates, render
from db.errors import NotFoundError
from db.session import make_engine
from services.preflight import check_safe_to_start
from services.reconcile import Reconciler
from services.results_store import ClaimRule
from services.temporal import TemporalGateway, TemporalUnavailableError
from settings import Settings, get_settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
#: URL prefix → dist folder of an npm package (see package.json; ``npm ci`` installs them).
VENDOR_DIRS = {
    "/vendor/x6": NODE_MODULES / "@antv" / "x6" / "dist",
    "/vendor/dagre": NODE_MODULES / "@dagrejs" / "dagre" / "dist",
    "/vendor/htmx": NODE_MODULES / "htmx.org" / "dist",
    "/vendor/echarts": NODE_MODULES / "echarts" / "dist",
}
#: Requests that carry their own authentication (signed webhooks), not a browser cookie.
CSRF_EXEMPT = ("/api/events", wx_callbacks.PREFIX)
#: Every router, imported directly: an import error fails start-up instead of quietly
#: removing pages or /api/events.
ROUTERS = (
    journeys_api.router,
    pages.router,
    panel.router,
    events_api.router,
    runs_api.router,
    templates_api.router,
    gallery.router,
    auth.router,
    reports.router,  # /workbench/results before the workbench's own routes
    workbench.router,
    tasks_dashboard.router,
    tasks_api.router,
    reports_api.router,
    segments_api.router,
    segments.router,
    runs.router,
    outbox.router,
    accounts_api.router,
    accounts.router,
    results_api.router,
    variants_api.router,
    journey_results.router,
    policy_api.router,
    policy.router,
    backtests_api.router,
    backtests.router,
    version_moves_api.router,
    version_moves.router,
    approvals_api.router,
    approvals.router,
    audit_api.router,
    audit.router,
    sms_callbacks.router,
    wx_callbacks.router,
)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The reconciler runs beside the app (see :mod:`services.reconcile`)."""
    settings: Settings = app.state.settings
    gateway = app.state.temporal
    # threads for plain ``def`` routes and ``in_thread`` (anyio's default is 40): see
    # Settings.web_threads. No request holds a write transaction while it waits for a
    # thread (transactions end in the thread that began them), so a few suffice.
    anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
    task = None
    if isinstance(gateway, TemporalGateway) and settings.reconcile_interval_seconds > 0:
        reconciler = Reconciler(
            engine=app.state.engine,
            gateway=gateway,
            interval=settings.reconcile_interval_seconds,
            timezone=settings.timezone,
            claim_rule=ClaimRule.of(settings),
        )
        task = asyncio.create_task(reconciler.run(), name="reconciler")
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def create_app(
    settings: Settings | None = None, *, temporal: Any = None, engine: Any = None
) -> FastAPI:
    """Build the app. ``settings``, the Temporal gateway and the DB engine are injected.

    Tests pass their own settings (a temp SQLite URL) and a fake gateway; by default the
    cached :func:`get_settings` is used and a lazily-connecting gateway is created.
    """
    settings = settings or get_settings()
    # Every route is behind the login and the path rules of canvas_ui.access.
    app = FastAPI(
        title="Journey Canvas",
        version="0.1.0",
        dependencies=[Depends(require_access)],
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.sqlalchemy_url)
    # outside the local demo: no default secret, no demo login (UnsafeStartError)
    check_safe_to_start(settings, app.state.engine)
    app.state.temporal = temporal if temporal is not None else TemporalGateway(settings)
    app.state.templates = make_templates(settings.timezone)

    for router in ROUTERS:
        app.include_router(router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> FileResponse:
        # browsers ask for /favicon.ico whatever a page links (JSON, error pages): a real
        # icon, the same as the pages' own, instead of a 404 in every log
        return FileResponse(
            STATIC_DIR / "favicon.ico",
            media_type="image/x-icon",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    for prefix, directory in VENDOR_DIRS.items():
        # check_dir=False: the app still starts before `npm ci`; the editor then says so.
        app.mount(prefix, StaticFiles(directory=directory, check_dir=False), name=prefix)

    _install_error_handlers(app)
    _document_errors(app)
    access.install(app)
    # Added last = outermost: the locale is set before CSRF answers in the user's language.
    app.add_middleware(CsrfMiddleware, secret=settings.secret_key, exempt_paths=CSRF_EXEMPT)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(RequestScopeMiddleware)
    app.add_middleware(BodyLimitMiddleware)  # outermost: before anything reads the body
    return app


#: The one shape of every 4xx body of the API (422 included): a sentence in ``detail``;
#: field problems in ``errors``; a journey's compiler diagnostics in ``diagnostics``.
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "title": "Detail",
            "description": "What is wrong, as a sentence.",
            "anyOf": [{"type": "string"}, {"type": "array"}, {"type": "object"}],
        },
        "errors": {
            "title": "Errors",
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
        "diagnostics": {"title": "Diagnostics", "type": "array", "items": {"type": "object"}},
    },
}


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema say what errors really look like (the handlers below): a 422
    in place of FastAPI's default ``HTTPValidationError``, and any other 4xx (signed out,
    not allowed, CSRF, not found, conflict, body too large) as well as a documented 5xx
    (503: Temporal unavailable) is a ``Problem``."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, routes=app.routes, description=app.description
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Problem"] = PROBLEM_SCHEMA
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = {
                        "description": "The request is invalid; ``detail`` says why.",
                        "content": problem,
                    }
                # every route is behind the login, the CSRF check and the body limits
                responses.setdefault(
                    "4XX", {"description": "Refused; ``detail`` says why.", "content": problem}
                )
                for code, response in responses.items():
                    if code[0] in "45" and "content" not in response:
                        response["content"] = problem
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get(
        "accept", ""
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_html(request) and request.headers.get("hx-request") != "true":
            title = gettext("Page not found") if exc.status_code == 404 else gettext("Error")
            message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
            if exc.status_code == 404 and message == "Not Found":
                message = gettext("This page does not exist (yet).")
            # the page's header looks up who is signed in (a database read): off the event
            # loop, in a thread, as every page does (an unknown address was a 500 under
            # the loop guard)
            return await anyio.to_thread.run_sync(
                partial(
                    render,
                    request,
                    "error.html",
                    {"title": title, "message": message},
                    status_code=exc.status_code,
                )
            )
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return await http_error(request, HTTPException(404, str(exc)))

    @app.exception_handler(TemporalUnavailableError)
    async def temporal_unavailable(request: Request, exc: TemporalUnavailableError) -> Response:
        # the routes that reach Temporal document this 503 (canvas_ui.api.responses)
        return JSONResponse(
            {"detail": f"Temporal is unavailable; try again later. {exc}"},
            status_code=503,
            headers={"Retry-After": str(events_api.RETRY_AFTER_SECONDS)},
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body",
                "msg": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['msg']}" for e in errors)
        return JSONResponse({"detail": summary, "errors": errors}, status_code=422)

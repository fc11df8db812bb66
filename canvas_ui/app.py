"""The web app factory: pages, JSON API, static files and the npm-provided front-end code."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from canvas_ui import access
from canvas_ui.deps import require_access
from canvas_ui.i18n import gettext
from canvas_ui.middleware import CsrfMiddleware, LocaleMiddleware
from canvas_ui.templating import STATIC_DIR, make_templates, render
from db.errors import NotFoundError
from db.session import make_engine
from journeys.settings import Settings, get_settings

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
#: URL prefix → dist folder of an npm package (see package.json; ``npm ci`` installs them).
VENDOR_DIRS = {
    "/vendor/x6": NODE_MODULES / "@antv" / "x6" / "dist",
    "/vendor/dagre": NODE_MODULES / "@dagrejs" / "dagre" / "dist",
    "/vendor/htmx": NODE_MODULES / "htmx.org" / "dist",
}
#: Requests that carry their own authentication (signed webhooks), not a browser cookie.
CSRF_EXEMPT = ("/api/events",)
#: Routers of other packages, included when they exist.
OPTIONAL_ROUTERS = (
    "canvas_ui.api.events",
    "canvas_ui.api.runs",
    "canvas_ui.api.templates",
    "canvas_ui.routes.gallery",
    "canvas_ui.routes.auth",
    "canvas_ui.routes.workbench",
    "canvas_ui.routes.tasks_dashboard",
    "canvas_ui.api.tasks",
    "canvas_ui.api.segments",
    "canvas_ui.routes.segments",
    "canvas_ui.routes.runs",
    "canvas_ui.api.accounts",
    "canvas_ui.routes.accounts",
)


def _temporal_gateway(settings: Settings) -> Any:
    try:
        module = importlib.import_module("services.temporal")
    except ImportError:
        return None
    return module.TemporalGateway(settings)


def create_app(
    settings: Settings | None = None, *, temporal: Any = None, engine: Any = None
) -> FastAPI:
    """Build the app. ``settings``, the Temporal gateway and the DB engine are injected.

    Tests pass their own settings (a temp SQLite URL) and a fake gateway; by default the
    cached :func:`get_settings` is used and a lazily-connecting gateway is created.
    """
    settings = settings or get_settings()
    # Every route is behind the login and the path rules of canvas_ui.access.
    app = FastAPI(title="Journey Canvas", version="0.1.0", dependencies=[Depends(require_access)])
    app.dependency_overrides[get_settings] = lambda: settings
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.sqlalchemy_url)
    app.state.temporal = temporal if temporal is not None else _temporal_gateway(settings)
    app.state.templates = make_templates(settings.timezone)

    from canvas_ui.api.journeys import router as journeys_api
    from canvas_ui.routes.pages import router as pages
    from canvas_ui.routes.panel import router as panel

    app.include_router(journeys_api)
    app.include_router(pages)
    app.include_router(panel)
    for name in OPTIONAL_ROUTERS:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            log.info("router %s not available yet: %s", name, exc)
            continue
        app.include_router(module.router)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for prefix, directory in VENDOR_DIRS.items():
        # check_dir=False: the app still starts before `npm ci`; the editor then says so.
        app.mount(prefix, StaticFiles(directory=directory, check_dir=False), name=prefix)

    _install_error_handlers(app)
    access.install(app)
    # Added last = outermost: the locale is set before CSRF answers in the user's language.
    app.add_middleware(CsrfMiddleware, secret=settings.secret_key, exempt_paths=CSRF_EXEMPT)
    app.add_middleware(LocaleMiddleware)
    return app


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
            return render(
                request,
                "error.html",
                {"title": title, "message": message},
                status_code=exc.status_code,
            )
        return JSONResponse(
            {"detail": exc.detail},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return await http_error(request, HTTPException(404, str(exc)))

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

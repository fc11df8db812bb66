"""Jinja2 environment (autoescape, gettext) and the full-page-or-block render helper.

One template per page; the parts htmx swaps are named blocks. :func:`render` returns the
whole page for a normal request and only ``block`` for an htmx request (``HX-Request``
header), as django-htmx and the jinja2-fragments docs do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import Response
from jinja2_fragments.fastapi import Jinja2Blocks

from canvas_ui import i18n
from canvas_ui.deps import get_current_user

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"


@cache
def _static_hash(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.exists() else "0"


def static_url(name: str) -> str:
    """``/static/<name>?v=<content hash>`` so browsers never run a stale canvas.js."""
    return f"/static/{name}?v={_static_hash(name)}"


def make_templates() -> Jinja2Blocks:
    """The templates object: autoescaping, i18n extension wired to :mod:`canvas_ui.i18n`."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals["static_url"] = static_url
    env.globals["LOCALES"] = i18n.LOCALES
    return Jinja2Blocks(env=env)


def is_htmx(request: Request) -> bool:
    """True for an htmx request that wants a fragment (not a history restore)."""
    return (
        request.headers.get("hx-request") == "true"
        and request.headers.get("hx-history-restore-request") != "true"
    )


def base_context(request: Request) -> dict[str, Any]:
    """What every page needs: CSRF token, locale, user, the current path for the nav."""
    state = request.scope.get("state", {})
    return {
        "request": request,
        "csrf_token": state.get("csrf_token", ""),
        "locale": state.get("locale", i18n.DEFAULT_LOCALE),
        "current_user": get_current_user(request),
        "path": request.url.path,
    }


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    force_block: bool = False,
) -> Response:
    """Render ``template``: only ``block`` for htmx (or ``force_block``), else the full page."""
    templates: Jinja2Blocks = request.app.state.templates
    ctx = {**base_context(request), **context}
    if block and (force_block or is_htmx(request)):
        response = templates.TemplateResponse(
            request, template, ctx, status_code=status_code, headers=headers, block_name=block
        )
    else:
        response = templates.TemplateResponse(
            request, template, ctx, status_code=status_code, headers=headers
        )
    if block and is_htmx(request):
        # The same URL serves a page and a fragment: caches must keep them apart.
        response.headers["Vary"] = "HX-Request"
    return response

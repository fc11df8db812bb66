"""Jinja2 environment (autoescape, gettext) and the full-page-or-block render helper.

One template per page; the parts htmx swaps are named blocks. :func:`render` returns the
whole page for a normal request and only ``block`` for an htmx request (``HX-Request``
header), as django-htmx and the jinja2-fragments docs do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from fastapi import Request
from fastapi.responses import Response
from jinja2.runtime import Context
from jinja2_fragments.fastapi import Jinja2Blocks

from canvas_ui import access, i18n
from canvas_ui.deps import resolve_principal

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


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M", *, zone: tzinfo) -> str:
    """``value`` in ``zone`` as ``fmt``; naive datetimes are UTC (as the database keeps them)."""
    if value is None:
        return "—"
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(zone).strftime(fmt)


def mask_phone(phone: str | None) -> str:
    """A phone number as pages show it: its last four digits (``•••• 1234``); searching by
    the whole number still finds the customer."""
    if not phone:
        return "—"
    return "•••• " + phone[-4:]


def make_templates(timezone: str) -> Jinja2Blocks:
    """The templates object: autoescaping, i18n extension wired to :mod:`canvas_ui.i18n`, and
    the ``local`` filter that shows a moment in ``timezone`` (``{{ t|local("%m-%d") }}``);
    a page may pass ``tz`` in its context to use another zone (a store's)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        # templates change with a deploy, which restarts the process: no stat of the file on
        # every include, import and extends to see whether it changed
        auto_reload=False,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.globals["static_url"] = static_url
    env.globals["LOCALES"] = i18n.LOCALES
    zone = ZoneInfo(timezone)

    @jinja2.pass_context
    def local(ctx: Context, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return local_time(value, fmt, zone=ctx.get("tz") or zone)

    env.filters["local"] = local
    env.filters["mask_phone"] = mask_phone
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
    principal = resolve_principal(request)
    role = principal.role if principal is not None else None
    return {
        "request": request,
        "csrf_token": state.get("csrf_token", ""),
        "locale": state.get("locale", i18n.DEFAULT_LOCALE),
        "current_user": principal.username if principal is not None else "",
        "path": request.url.path,
        # The nav shows only what the user may open (the same rules the server enforces).
        "can_open": lambda href: role is not None and role in access.roles_for(href),
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

"""The property panel of one node: GET shows its form, POST validates it.

A successful POST answers the re-rendered panel plus the updated node (summary line, ports)
in an ``HX-Trigger: node-updated`` event, which ``canvas.js`` applies to the graph in place
and then autosaves. An invalid form answers 422 with the inline errors (``app.js`` tells
htmx 2 to swap 422 responses).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from canvas_ui import queries
from canvas_ui.deps import SessionDep
from canvas_ui.forms.render import ChoiceData
from canvas_ui.i18n import gettext
from canvas_ui.kinds import KindInfo, kind_info
from canvas_ui.panel import PanelView, find_node, panel_view, submit_panel
from canvas_ui.routes.pages import editor_response, journey_or_404
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.session import in_thread

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@dataclass
class _Panel:
    """Template-facing wrapper: the view plus its choice data (for datalists)."""

    view: PanelView
    choices: ChoiceData
    #: customers at this step of the published journey now (None: a step not published)
    waiting: queries.WaitingHere | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.view, name)


def _kind(node: dict[str, Any] | None, kind: str | None) -> KindInfo:
    wanted = (node or {}).get("kind") or kind or ""
    info = kind_info(str(wanted))
    if info is None:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("kind: unknown node kind %(kind)s.") % {"kind": wanted},
        )
    return info


@router.get("/journeys/{journey_id}/nodes/{node_id}/panel")
def get_panel(
    journey_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    kind: str | None = Query(default=None, max_length=32),
) -> Response:
    """The node's config form (htmx: the ``panel`` block; else the editor with it open)."""
    journey = journey_or_404(session, journey_id)
    document = journey.draft_document
    node = find_node(document, node_id)
    info = _kind(node, kind)
    if node is None:
        # Not saved yet (just dropped): show the kind's starting config.
        node = {"id": node_id, "kind": info.kind.value, "config": dict(info.default_config)}
    choices = queries.choice_data(session=session, document=document, node_id=node_id)
    ctx = queries.summary_context(session=session)
    waiting = queries.waiting_here(session=session, journey=journey, node_id=node_id)
    panel = _Panel(panel_view(node=node, info=info, choices=choices, ctx=ctx), choices, waiting)
    if request.headers.get("hx-request") != "true":
        return editor_response(request, session, journey, version=None, panel=panel)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "panel": panel,
            "choices": choices,
        },
        block="panel",
        force_block=True,
    )


@router.post("/journeys/{journey_id}/nodes/{node_id}/panel")
async def post_panel(
    journey_id: str,
    node_id: str,
    request: Request,
    session: SessionDep,
    kind: str | None = Query(default=None, max_length=32),
) -> Response:
    """Validate the posted config; 200 + ``node-updated`` event, or 422 with inline errors."""
    form = await request.form()
    fields = {key: [v for v in form.getlist(key) if isinstance(v, str)] for key in form}
    return await in_thread(_submit, request, session, journey_id, node_id, kind, fields)


def _submit(
    request: Request,
    session: Session,
    journey_id: str,
    node_id: str,
    kind: str | None,
    fields: dict[str, list[str]],
) -> Response:
    journey = journey_or_404(session, journey_id)
    document = journey.draft_document
    node = find_node(document, node_id)
    info = _kind(node, kind)
    choices = queries.choice_data(session=session, document=document, node_id=node_id)
    ctx = queries.summary_context(session=session)
    view, code = submit_panel(
        node_id=node_id,
        kind=info.kind.value,
        form=fields,
        choices=choices,
        ctx=ctx,
        position=(node or {}).get("position"),
    )
    waiting = queries.waiting_here(session=session, journey=journey, node_id=node_id)
    headers = {}
    if view.node is not None:
        event = {"node-updated": {"node": view.node, "meta": view.meta}}
        # ensure_ascii: HTTP headers are latin-1; JSON \u escapes keep Chinese labels intact.
        headers["HX-Trigger"] = json.dumps(event, ensure_ascii=True)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "panel": _Panel(view, choices, waiting),
            "choices": choices,
        },
        block="panel",
        force_block=True,
        status_code=code,
        headers=headers,
    )

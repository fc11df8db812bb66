"""``/tasks``: guide task dashboards for HQ and store managers, with 一键催办 and reassign.

A chase asks first: ``GET /tasks/chase/confirm`` answers the app's dialog with what the
chase would do (:func:`services.chase.plan`: how many tasks, how many skipped as chased
within the hour, how many not due yet are left out), and its button posts the chase.

Numbers: :func:`services.task_reports.dashboard` (region → store → guide, conversion of
completed vs not, the daily series drawn with ECharts by ``static/charts.js``). A store
manager sees and acts on their store only; the scope is enforced in the services, not by
hiding buttons.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from canvas_ui.api.tasks import http_errors
from canvas_ui.deps import CurrentPrincipal, SessionDep
from canvas_ui.i18n import gettext
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.session import end_transaction, read_session
from services import chase as chasing
from services import task_reports, tasks
from services.accounts import Principal
from services.task_reports import Dashboard, DayPoint

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


def chart_data(series: list[DayPoint]) -> dict[str, Any]:
    """The completion-over-time chart's data for ``static/charts.js`` (ECharts): tasks
    issued (behind) and completed (in front) per day."""
    return {
        "days": [p.day.strftime("%m-%d") for p in series],
        "issued": [p.issued for p in series],
        "done": [p.completed for p in series],
        "names": [gettext("Issued"), gettext("Done")],
    }


def _page_ctx(
    session: Any, actor: Principal, board: Dashboard, store_id: str | None
) -> dict[str, Any]:
    open_tasks: list[Any] = []
    store_guides: list[Any] = []
    managed_store = actor.store_id if actor.role == "store_manager" else store_id
    if managed_store:
        open_tasks = tasks.scoped_tasks(
            session=session, actor=actor, status="open", store_id=managed_store, limit=50
        )
        store_guides = crud.list_guides(session=session, store_id=managed_store)
    customer_ids = list(dict.fromkeys(t.customer_id for t in open_tasks))
    customers = {c.id: c for c in crud.get_customers(session=session, customer_ids=customer_ids)}
    guide_names = {g.id: g.name for g in crud.list_guides(session=session, active_only=False)}
    return {
        "me": actor,
        "board": board,
        "chart": chart_data(board.series),
        "journeys": crud.list_journeys(session=session) if actor.sees_everything else [],
        "stores": crud.list_stores(session=session) if actor.sees_everything else [],
        "store_id": store_id or "",
        "open_tasks": open_tasks,
        "customers": customers,
        "store_guides": store_guides,
        "guide_names": guide_names,
        "chase_scopes": _scope_names(session, board.chases),
        "periods": task_reports.PERIODS,
        "query": _query(board, store_id),
    }


def _scope_names(session: Any, chases: list[Any]) -> dict[tuple[str, str], str]:
    """The journeys, regions, stores and guides the recent chases reached, by name."""
    names: dict[tuple[str, str], str] = {}
    for c in chases:
        key = (c.scope, c.scope_id)
        if key in names:
            continue
        found: Any = None
        if c.scope == "journey":
            found = crud.get_journey(session=session, journey_id=c.scope_id)
        elif c.scope == "region":
            regions = crud.list_regions(session=session)
            found = next((r for r in regions if r.id == c.scope_id), None)
        elif c.scope == "store":
            found = crud.get_store(session=session, store_id=c.scope_id)
        elif c.scope == "guide":
            found = crud.get_guide(session=session, guide_id=c.scope_id)
        if found is not None:
            names[key] = found.name
    return names


def _query(board: Dashboard, store_id: str | None) -> str:
    parts = [f"days={board.days}"]
    if board.journey_id:
        parts.append(f"journey_id={board.journey_id}")
    if store_id:
        parts.append(f"store_id={store_id}")
    return "&".join(parts)


def _board(
    session: Any, actor: Principal, days: int, journey_id: str | None, store_id: str | None
) -> Dashboard:
    return task_reports.dashboard(
        session=session,
        actor=actor,
        days=days,
        journey_id=journey_id or None,
        store_id=store_id or None,
    )


@router.get("/tasks")
def tasks_page(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    days: int = Query(default=30),
    journey_id: str = Query(default="", max_length=64),
    store_id: str = Query(default="", max_length=32),
) -> Response:
    """The dashboard; htmx (filters) gets the ``board`` block."""
    board = _board(session, actor, days, journey_id, store_id)
    ctx = _page_ctx(session, actor, board, store_id or None)
    return render(request, "tasks.html", ctx, block="board")


@router.get("/tasks/chase/confirm")
def confirm_chase(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    scope: str = Query(..., max_length=16),
    scope_id: str = Query(..., max_length=64),
    include_not_due: bool = Query(default=False),
    days: int = Query(default=30),
    journey_id: str = Query(default="", max_length=64),
    store_id: str = Query(default="", max_length=32),
) -> Response:
    """The confirmation dialog of a chase: what it would do, nothing sent yet."""
    with http_errors():
        plan = chasing.plan(
            session=session,
            actor=actor,
            scope=scope,
            scope_id=scope_id,
            include_not_due=include_not_due,
        )
    ctx = {
        "plan": plan,
        "cooldown_minutes": int(chasing.COOLDOWN.total_seconds() // 60),
        "hidden": {"days": days, "journey_id": journey_id, "store_id": store_id},
    }
    return render(request, "tasks.html", ctx, block="chase_dialog", force_block=True)


def chase_message(done: chasing.ChaseResult) -> str:
    """What the flash says after a chase: how many were chased, skipped, left out."""
    parts = [gettext("Chased %(n)d open task(s).") % {"n": done.chased}]
    if done.recently_chased:
        parts.append(
            gettext("%(n)d skipped: chased within the last hour.") % {"n": done.recently_chased}
        )
    if done.not_due:
        parts.append(gettext("%(n)d not due yet left out.") % {"n": done.not_due})
    return " ".join(parts)


@router.post("/tasks/chase")
def chase(
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    scope: str = Form(..., max_length=16),
    scope_id: str = Form(..., max_length=64),
    include_not_due: bool = Form(default=False),
    days: int = Form(default=30),
    journey_id: str = Form(default="", max_length=64),
    store_id: str = Form(default="", max_length=32),
) -> Response:
    """一键催办 (confirmed in the dialog); answers with the refreshed ``board`` block."""
    with http_errors():
        done = chasing.chase(
            session=session,
            actor=actor,
            scope=scope,
            scope_id=scope_id,
            include_not_due=include_not_due,
        )
    # the chase is committed; the board is read and rendered outside the write transaction
    # (a POST's session would hold SQLite's write lock for it: bench.web_load)
    end_transaction(session)
    with read_session(session) as reading:
        board = _board(reading, actor, days, journey_id, store_id)
        ctx = _page_ctx(reading, actor, board, store_id or None)
        ctx["flash"] = chase_message(done)
        return render(request, "tasks.html", ctx, block="board", force_block=True)


@router.post("/tasks/{task_id}/reassign")
def reassign(
    task_id: str,
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    guide_id: str = Form(..., max_length=32),
    days: int = Form(default=30),
    journey_id: str = Form(default="", max_length=64),
    store_id: str = Form(default="", max_length=32),
) -> Response:
    """The store manager gives an open task to another guide of the store."""
    with http_errors():
        tasks.reassign(session=session, actor=actor, task_id=task_id, guide_id=guide_id)
    board = _board(session, actor, days, journey_id, store_id)
    ctx = _page_ctx(session, actor, board, store_id or None)
    ctx["flash"] = gettext("Task reassigned.")
    return render(request, "tasks.html", ctx, block="board", force_block=True)

"""Guide tasks API: the workbench's actions, chase, reassign, dashboards and CSV, customers.

Thin handlers over :mod:`services.tasks` and :mod:`services.task_reports`; every task and
customer is scope-checked there (a guide gets 404 for another guide's task or customer).
The outcome endpoint itself lives in ``canvas_ui.api.runs`` (``POST /api/tasks/{id}/outcome``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import time
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from canvas_ui.deps import CurrentPrincipal, SessionDep, TemporalDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.errors import InvalidStatusError, NotFoundError, TaskClosedError
from db.models import CustomerPublic
from services import chase as chasing
from services import task_reports, tasks
from services.temporal import TemporalUnavailableError

router = APIRouter(prefix="/api", tags=["tasks"], route_class=UnitOfWorkRoute)


class ContactIn(BaseModel):
    channel: Literal["call", "wecom"] = "call"
    result: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=1000)


class SnoozeIn(BaseModel):
    until: time | None = Field(default=None, description="HH:MM today, store time; null wakes")


class ReassignIn(BaseModel):
    guide_id: str = Field(min_length=1, max_length=32)


class ChaseIn(BaseModel):
    scope: Literal["journey", "region", "store", "guide"]
    scope_id: str = Field(min_length=1, max_length=64)
    include_not_due: bool = Field(
        default=False,
        description="Also chase open tasks due after today (by default only overdue or due "
        "today ones, in their store's time).",
    )


@contextmanager
def http_errors() -> Iterator[None]:
    """Map the services' typed failures to status codes."""
    try:
        yield
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except tasks.ForbiddenError as exc:
        raise HTTPException(403, str(exc)) from exc
    except TaskClosedError as exc:
        raise HTTPException(409, str(exc)) from exc
    except (InvalidStatusError, tasks.BadRequestError) as exc:
        raise HTTPException(422, str(exc)) from exc
    except TemporalUnavailableError as exc:
        raise HTTPException(503, str(exc)) from exc


def _task_json(task: Any) -> dict[str, Any]:
    return dict(task.model_dump(mode="json"))


@router.get("/tasks")
def list_tasks(
    session: SessionDep,
    actor: CurrentPrincipal,
    status: str | None = None,
    journey_id: str | None = None,
    store_id: str | None = None,
    guide_id: str | None = None,
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Tasks in the caller's scope, soonest due first."""
    found = tasks.scoped_tasks(
        session=session,
        actor=actor,
        status=status,
        journey_id=journey_id,
        store_id=store_id,
        guide_id=guide_id,
        limit=limit,
    )
    return [_task_json(t) for t in found]


@router.get("/tasks/report")
def report(
    session: SessionDep,
    actor: CurrentPrincipal,
    days: int = 30,
    journey_id: str | None = None,
    store_id: str | None = None,
    window_days: int = Query(default=14, ge=1, le=90),
) -> dict[str, Any]:
    """Dashboard numbers (region → store → guide, conversion, daily series) as JSON."""
    board = task_reports.dashboard(
        session=session,
        actor=actor,
        days=days,
        journey_id=journey_id,
        store_id=store_id,
        window_days=window_days,
    )
    out = asdict(board)
    out["total"]["completion_rate"] = board.total.completion_rate
    out["completed_conversion"]["rate"] = board.completed_conversion.rate
    out["not_completed_conversion"]["rate"] = board.not_completed_conversion.rate
    out["chases"] = [c.model_dump(mode="json") for c in board.chases]
    return out


@router.get(
    "/tasks/report.csv",
    response_class=Response,
    responses={200: {"description": "The table as CSV.", "content": {"text/csv": {}}}},
)
def report_csv(
    session: SessionDep,
    actor: CurrentPrincipal,
    days: int = 30,
    journey_id: str | None = None,
    store_id: str | None = None,
) -> Response:
    """The region → store → guide table as CSV."""
    board = task_reports.dashboard(
        session=session, actor=actor, days=days, journey_id=journey_id, store_id=store_id
    )
    name = f"guide-tasks-{board.since}-{board.until}.csv"
    return Response(
        task_reports.to_csv(board),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/tasks/chase")
def chase(body: ChaseIn, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    """一键催办: remind the open tasks of a journey, region (HQ), store or guide in the
    caller's scope that are overdue or due today (``include_not_due``: all open ones),
    skipping those chased within the last hour. ``id`` is null when nothing was chased."""
    with http_errors():
        done = chasing.chase(
            session=session,
            actor=actor,
            scope=body.scope,
            scope_id=body.scope_id,
            include_not_due=body.include_not_due,
        )
    recorded = done.chase.model_dump(mode="json") if done.chase else {"id": None}
    return {
        **recorded,
        "scope": body.scope,
        "scope_id": body.scope_id,
        "by_user": actor.username,
        "tasks_chased": done.chased,
        "guides_chased": done.guides,
        "skipped_recently_chased": done.recently_chased,
        "not_due_left_out": done.not_due,
    }


@router.get("/tasks/{task_id}")
def get_task(task_id: str, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    """One task with its contact log and notices."""
    with http_errors():
        task = tasks.visible_task(session=session, actor=actor, task_id=task_id)
    return {
        **_task_json(task),
        "contacts": [
            c.model_dump(mode="json") for c in crud.list_contacts(session=session, task_id=task_id)
        ],
        "notices": [
            n.model_dump(mode="json") for n in crud.list_notices(session=session, task_id=task_id)
        ],
        "results": tasks.contact_results(task),
    }


@router.post("/tasks/{task_id}/contact")
async def log_contact(
    task_id: str,
    body: ContactIn,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
) -> dict[str, Any]:
    """Log a call or WeCom chat; an outcome result completes the task and moves the journey."""
    with http_errors():
        logged = await tasks.log_contact(
            session=session,
            temporal=temporal,
            actor=actor,
            task_id=task_id,
            channel=body.channel,
            result=body.result,
            note=body.note,
        )
    return {"task": _task_json(logged.task), "completed": logged.completed}


@router.post("/tasks/{task_id}/message")
def send_message(task_id: str, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    """Send the task's prepared message to the customer through the outbox (once)."""
    with http_errors():
        message = tasks.send_prepared_message(session=session, actor=actor, task_id=task_id)
    return message.model_dump(mode="json")


@router.post("/tasks/{task_id}/snooze")
def snooze(
    task_id: str, body: SnoozeIn, session: SessionDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    """Move the task down the workbench until a time later today."""
    with http_errors():
        task = tasks.snooze(session=session, actor=actor, task_id=task_id, until=body.until)
    return _task_json(task)


@router.post("/tasks/{task_id}/reassign")
def reassign(
    task_id: str, body: ReassignIn, session: SessionDep, actor: CurrentPrincipal
) -> dict[str, Any]:
    """Store manager (or HQ): give the task to another guide of the store."""
    with http_errors():
        task = tasks.reassign(session=session, actor=actor, task_id=task_id, guide_id=body.guide_id)
    return _task_json(task)


@router.get("/customers/{customer_id}")
def get_customer(customer_id: str, session: SessionDep, actor: CurrentPrincipal) -> dict[str, Any]:
    """A customer's profile, if they are in the caller's scope."""
    with http_errors():
        customer = tasks.visible_customer(session=session, actor=actor, customer_id=customer_id)
    return CustomerPublic.model_validate(customer).model_dump(mode="json")

"""Runs API: enroll customers, read a run's state and trace, stop a run, task outcomes,
the message outbox. Thin handlers over services.* and db.crud."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field
from temporalio.service import RPCError

from canvas_ui.api.responses import TEMPORAL_UNAVAILABLE
from canvas_ui.delivery import delivery
from canvas_ui.deps import CurrentPrincipal, CurrentUser, SessionDep, TemporalDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.errors import InvalidStatusError, NotFoundError, TaskClosedError
from db.models import MESSAGE_STATUSES
from db.session import end_transaction, in_thread
from services.journeys import JourneyNotLiveError, enroll_customers, stop_run
from services.tasks import complete_task
from services.temporal import TemporalUnavailableError
from workflows import JourneyWorkflow

router = APIRouter(prefix="/api", tags=["runs"], route_class=UnitOfWorkRoute)


class EnrollIn(BaseModel):
    customer_ids: list[str] = Field(min_length=1, max_length=1000)


class StopIn(BaseModel):
    reason: str = Field(default="stopped by an operator", max_length=200)


class TaskOutcomeIn(BaseModel):
    outcome: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=1000)


def _gateway(temporal: Any) -> Any:
    if temporal is None:
        raise HTTPException(503, "Temporal is not configured for this app.")
    return temporal


@router.post("/journeys/{journey_id}/enroll", responses=TEMPORAL_UNAVAILABLE)
async def enroll(
    journey_id: str, body: EnrollIn, session: SessionDep, temporal: TemporalDep
) -> dict[str, Any]:
    """Enter customers into the journey's live version (re-entry rules apply)."""
    try:
        result = await enroll_customers(
            session=session,
            temporal=_gateway(temporal),
            journey_id=journey_id,
            customer_ids=body.customer_ids,
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except JourneyNotLiveError as exc:
        raise HTTPException(409, str(exc)) from exc
    return result.to_dict()


@router.get("/runs")
def list_runs(
    session: SessionDep,
    journey_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> list[dict[str, Any]]:
    runs = crud.list_runs(
        session=session,
        journey_id=journey_id,
        customer_id=customer_id,
        status=status,
        limit=limit,
        offset=offset,
    )
    return [r.model_dump(mode="json") for r in runs]


@router.get("/runs/{workflow_id}")
async def get_run(workflow_id: str, session: SessionDep, temporal: TemporalDep) -> dict[str, Any]:
    """The run's row plus its live state from the workflow (current node, waiting-until,
    context, buffered events and the trace of every visit)."""
    run = await in_thread(crud.get_latest_run, session=session, workflow_id=workflow_id)
    await in_thread(end_transaction, session)
    if run is None:
        raise HTTPException(404, f"No journey run with workflow id '{workflow_id}'.")
    out: dict[str, Any] = {"run": run.model_dump(mode="json"), "state": None}
    if temporal is not None:
        try:
            client = await temporal.client()
            handle = client.get_workflow_handle(workflow_id)
            state = await handle.query(JourneyWorkflow.state)
            out["state"] = asdict(state)
        except (RPCError, TemporalUnavailableError) as exc:
            out["state_error"] = str(exc)
    return out


@router.post("/runs/{workflow_id}/stop", responses=TEMPORAL_UNAVAILABLE)
async def stop(
    workflow_id: str, body: StopIn, session: SessionDep, temporal: TemporalDep, user: CurrentUser
) -> dict[str, str]:
    try:
        await stop_run(
            session=session,
            temporal=_gateway(temporal),
            workflow_id=workflow_id,
            reason=f"{body.reason} ({user})",
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    return {"workflow_id": workflow_id, "status": "stopping"}


@router.post("/tasks/{task_id}/outcome")
async def task_outcome(
    task_id: str,
    body: TaskOutcomeIn,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
) -> dict[str, Any]:
    """Record a guide's outcome; the customer's journey follows that outcome's port.
    Only for tasks in the caller's scope (another guide's task: 404)."""
    try:
        task = await complete_task(
            session=session,
            temporal=temporal,
            task_id=task_id,
            outcome=body.outcome,
            note=body.note,
            by=actor.username,
            actor=actor,
        )
    except NotFoundError as exc:
        raise HTTPException(404, str(exc)) from exc
    except (TaskClosedError, InvalidStatusError) as exc:
        raise HTTPException(409 if isinstance(exc, TaskClosedError) else 422, str(exc)) from exc
    return task.model_dump(mode="json")


@router.get("/outbox")
def outbox(
    session: SessionDep,
    customer_id: str | None = Query(default=None, max_length=32),
    journey_id: str | None = Query(default=None, max_length=64),
    status: str | None = Query(default=None, max_length=16),
    tests: bool = Query(default=False, description="include test sends from the panel"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Messages the journeys sent (the outbox provider records them here), newest first,
    each with its delivery status (``delivery``: sent → delivered / failed, when, the
    provider's detail). Test sends from the message panel only with ``tests=true``."""
    if status is not None and status not in MESSAGE_STATUSES:
        raise HTTPException(
            422, f"status: unknown message status {status!r}; one of {', '.join(MESSAGE_STATUSES)}"
        )
    rows = crud.list_messages(
        session=session,
        customer_id=customer_id,
        journey_id=journey_id,
        status=status,
        is_test=None if tests else False,
        limit=limit,
    )
    return [{**m.model_dump(mode="json"), "delivery": delivery(m).as_json()} for m in rows]

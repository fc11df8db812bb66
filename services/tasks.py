"""Guide task use cases: a guide records an outcome; the customer's journey moves on."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session
from temporalio.service import RPCError

from db import crud
from db.errors import NotFoundError
from db.models import GuideTask
from engine.runtime import TaskOutcome
from services.temporal import TemporalGateway, TemporalUnavailableError
from workflows import JourneyWorkflow


async def complete_task(
    *,
    session: Session,
    temporal: TemporalGateway | None,
    task_id: str,
    outcome: str | None,
    note: str,
    by: str,
) -> GuideTask:
    """Store the outcome (the database is the record), then signal the journey run.

    If Temporal is briefly unreachable the outcome is still stored; the signal is what moves
    the customer on, so the error is raised for the caller to retry (completing again with
    the same outcome is idempotent).
    """
    if crud.get_task(session=session, task_id=task_id) is None:
        raise NotFoundError("task", task_id)
    now = datetime.now(UTC)
    task = crud.complete_task(session=session, task_id=task_id, outcome=outcome, note=note, at=now)
    if temporal is None or not task.workflow_id:
        return task
    try:
        client = await temporal.client()
        await client.get_workflow_handle(task.workflow_id).signal(
            JourneyWorkflow.task_outcome,
            TaskOutcome(task.id, task.outcome or "completed", note, now.isoformat(), by),
        )
    except RPCError:
        pass  # the run has ended (e.g. the task expired a moment ago): nothing to move on
    except TemporalUnavailableError:
        raise
    return task

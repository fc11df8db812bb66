"""Guide tasks: the guide's workbench list, completing a task, and HQ's one-click chase."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.crud._util import insert_once
from db.errors import InvalidStatusError, NotFoundError, TaskClosedError
from db.models import TASK_STATUSES, GuideTask, TaskNotice, utcnow


def get_task(*, session: Session, task_id: str) -> GuideTask | None:
    """The task ``task_id``, or ``None``."""
    return session.get(GuideTask, task_id)


def list_tasks(
    *,
    session: Session,
    guide_id: str | None = None,
    store_id: str | None = None,
    customer_id: str | None = None,
    journey_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[GuideTask]:
    """Tasks, soonest due first, filtered by any of the given fields."""
    stmt = select(GuideTask)
    if guide_id is not None:
        stmt = stmt.where(GuideTask.guide_id == guide_id)
    if store_id is not None:
        stmt = stmt.where(GuideTask.store_id == store_id)
    if customer_id is not None:
        stmt = stmt.where(GuideTask.customer_id == customer_id)
    if journey_id is not None:
        stmt = stmt.where(GuideTask.journey_id == journey_id)
    if status is not None:
        stmt = stmt.where(GuideTask.status == status)
    stmt = stmt.order_by(col(GuideTask.due_at), col(GuideTask.id)).offset(offset).limit(limit)
    return list(session.exec(stmt))


def get_task_by_key(*, session: Session, idempotency_key: str) -> GuideTask | None:
    """The task created for ``idempotency_key``, or ``None``."""
    stmt = select(GuideTask).where(GuideTask.idempotency_key == idempotency_key)
    return session.exec(stmt).first()


def insert_task(*, session: Session, task: GuideTask) -> tuple[GuideTask, bool]:
    """Insert ``task`` unless its idempotency key exists; ``(task, created)``."""
    return insert_once(session, task, column=GuideTask.idempotency_key, key=task.idempotency_key)


def complete_task(
    *,
    session: Session,
    task_id: str,
    outcome: str | None = None,
    note: str = "",
    at: datetime | None = None,
) -> GuideTask:
    """The guide records the outcome. ``outcome`` must be one of the task's ``outcomes``
    when it has any (defaults to ``"completed"`` when it has none).

    Completing again with the same outcome returns the task unchanged; any other change to
    a closed task raises :class:`TaskClosedError`.
    """
    task = _require(session, task_id)
    chosen = outcome or ("completed" if not task.outcomes else None)
    if chosen is None or (task.outcomes and chosen not in task.outcomes):
        raise InvalidStatusError("task outcome", str(outcome), tuple(task.outcomes))
    if task.status == "completed" and task.outcome == chosen:
        return task
    if task.status != "open":
        raise TaskClosedError(task_id, task.status)
    task.status = "completed"
    task.outcome = chosen
    task.note = note
    task.completed_at = at or utcnow()
    session.add(task)
    session.commit()
    session.refresh(task)
    return task


def set_task_status(
    *, session: Session, task_id: str, status: str, at: datetime | None = None
) -> GuideTask:
    """Close an open task as ``expired`` or ``cancelled`` (closed tasks are left as they are)."""
    if status not in TASK_STATUSES:
        raise InvalidStatusError("task status", status, TASK_STATUSES)
    task = _require(session, task_id)
    if task.status == "open" and status != "open":
        task.status = status
        if status == "completed":
            task.completed_at = at or utcnow()
        session.add(task)
        session.commit()
        session.refresh(task)
    return task


def record_notice(
    *,
    session: Session,
    task_id: str,
    kind: str,
    to_guide_id: str | None,
    idempotency_key: str,
    at: datetime | None = None,
    by_user: str | None = None,
) -> tuple[TaskNotice, bool]:
    """Record a reminder/escalation/expiry/chase notice once per key; ``(notice, created)``."""
    notice = TaskNotice(
        task_id=task_id,
        kind=kind,
        to_guide_id=to_guide_id,
        idempotency_key=idempotency_key,
        created_at=at or utcnow(),
        by_user=by_user,
    )
    return insert_once(session, notice, column=TaskNotice.idempotency_key, key=idempotency_key)


def chase_task(
    *, session: Session, task_id: str, by_user: str, at: datetime | None = None
) -> TaskNotice:
    """HQ's one-click chase (一键催办): notify the assignee again and count the chase."""
    task = _require(session, task_id)
    if task.status != "open":
        raise TaskClosedError(task_id, task.status)
    now = at or utcnow()
    task.chased_count += 1
    task.last_chased_at = now
    notice = TaskNotice(
        task_id=task_id,
        kind="chase",
        to_guide_id=task.guide_id,
        idempotency_key=f"chase/{task_id}/{task.chased_count}",
        created_at=now,
        by_user=by_user,
    )
    session.add(task)
    session.add(notice)
    session.commit()
    session.refresh(notice)
    return notice


def list_notices(*, session: Session, task_id: str) -> list[TaskNotice]:
    """Notices about ``task_id``, oldest first."""
    stmt = select(TaskNotice).where(TaskNotice.task_id == task_id).order_by(col(TaskNotice.id))
    return list(session.exec(stmt))


def _require(session: Session, task_id: str) -> GuideTask:
    task = session.get(GuideTask, task_id)
    if task is None:
        raise NotFoundError("guide task", task_id)
    return task

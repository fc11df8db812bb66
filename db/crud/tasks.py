"""Guide tasks: the guide's workbench list, completing a task, and HQ's one-click chase."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from db.crud._util import insert_once, read_back
from db.errors import InvalidStatusError, NotFoundError, TaskClosedError
from db.models import (
    CONTACT_CHANNELS,
    TASK_STATUSES,
    GuideTask,
    TaskChase,
    TaskContact,
    TaskNotice,
    utcnow,
)


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
    store_ids: Sequence[str] | None = None,
    limit: int | None = 100,
    offset: int = 0,
) -> list[GuideTask]:
    """Tasks, soonest due first, filtered by any of the given fields (``store_ids``: in any
    of these stores; ``limit`` None: all)."""
    stmt = select(GuideTask)
    if guide_id is not None:
        stmt = stmt.where(GuideTask.guide_id == guide_id)
    if store_id is not None:
        stmt = stmt.where(GuideTask.store_id == store_id)
    if store_ids is not None:
        stmt = stmt.where(col(GuideTask.store_id).in_(list(store_ids)))
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
    commit: bool = True,
) -> GuideTask:
    """The guide records the outcome. ``outcome`` must be one of the task's ``outcomes``
    when it has any (defaults to ``"completed"`` when it has none).

    Completing again with the same outcome returns the task unchanged; any other change to
    a closed task raises :class:`TaskClosedError`. Without ``commit`` only flushed: the
    caller's transaction commits it with the rest of its unit of work.
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
    if commit:
        session.commit()
        read_back(session, task)
    else:
        session.flush()
    return task


def mark_journey_told(*, session: Session, task_ids: list[str], at: datetime | None = None) -> None:
    """The runs of ``task_ids`` have their outcomes (or ended): nothing owed; committed."""
    if task_ids:
        session.execute(
            update(GuideTask)
            .where(col(GuideTask.id).in_(task_ids))
            .values(journey_told_at=at or utcnow())
        )
    session.commit()


def untold_outcomes(*, session: Session, older_than: datetime, limit: int = 200) -> list[GuideTask]:
    """Completed tasks of journey runs whose outcome signal is still owed, completed before
    ``older_than`` (younger ones are still being sent by their request)."""
    stmt = (
        select(GuideTask)
        .where(
            GuideTask.status == "completed",
            col(GuideTask.journey_told_at).is_(None),
            col(GuideTask.workflow_id).is_not(None),
            col(GuideTask.completed_at) < older_than,
        )
        .order_by(col(GuideTask.completed_at))
        .limit(limit)
    )
    return list(session.exec(stmt))


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
        read_back(session, task)
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
    read_back(session, notice)
    return notice


def list_notices(*, session: Session, task_id: str) -> list[TaskNotice]:
    """Notices about ``task_id``, oldest first."""
    stmt = select(TaskNotice).where(TaskNotice.task_id == task_id).order_by(col(TaskNotice.id))
    return list(session.exec(stmt))


def count_tasks_on_day(*, session: Session, guide_ids: Sequence[str], day: date) -> dict[str, int]:
    """Tasks (not cancelled) scheduled for ``day``, per guide of ``guide_ids`` (0 if none)."""
    counts = dict.fromkeys(guide_ids, 0)
    if not guide_ids:
        return counts
    stmt = (
        select(GuideTask.guide_id, func.count())
        .where(col(GuideTask.guide_id).in_(list(guide_ids)))
        .where(GuideTask.scheduled_for == day)
        .where(GuideTask.status != "cancelled")
        .group_by(col(GuideTask.guide_id))
    )
    for guide_id, n in session.exec(stmt):
        counts[guide_id] = int(n)
    return counts


def log_contact(
    *,
    session: Session,
    task_id: str,
    channel: str,
    result: str,
    note: str,
    by_user: str,
    at: datetime | None = None,
    commit: bool = True,
) -> TaskContact:
    """Record one contact attempt on an open task (call, WeCom chat, prepared message);
    without ``commit`` only flushed (the caller commits)."""
    if channel not in CONTACT_CHANNELS:
        raise InvalidStatusError("contact channel", channel, CONTACT_CHANNELS)
    task = _require(session, task_id)
    if task.status != "open":
        raise TaskClosedError(task_id, task.status)
    now = at or utcnow()
    contact = TaskContact(
        task_id=task_id, channel=channel, result=result, note=note, by_user=by_user, created_at=now
    )
    task.contact_count += 1
    task.last_contact_at = now
    session.add(task)
    session.add(contact)
    if commit:
        session.commit()
        read_back(session, contact)
    else:
        session.flush()
    return contact


def list_contacts(*, session: Session, task_id: str) -> list[TaskContact]:
    """Contact attempts on ``task_id``, oldest first."""
    stmt = select(TaskContact).where(TaskContact.task_id == task_id).order_by(col(TaskContact.id))
    return list(session.exec(stmt))


def snooze_task(*, session: Session, task_id: str, until: datetime | None) -> GuideTask:
    """Hide an open task from the top of the workbench until ``until`` (``None``: wake now)."""
    task = _require(session, task_id)
    if task.status != "open":
        raise TaskClosedError(task_id, task.status)
    task.snoozed_until = until
    session.add(task)
    session.commit()
    read_back(session, task)
    return task


def reassign_task(
    *, session: Session, task_id: str, guide_id: str, reason: str = "reassigned"
) -> GuideTask:
    """Give an open task to ``guide_id``; the first assignee is kept in ``original_guide_id``."""
    task = _require(session, task_id)
    if task.status != "open":
        raise TaskClosedError(task_id, task.status)
    if task.guide_id != guide_id:
        task.original_guide_id = task.original_guide_id or task.guide_id
        task.guide_id = guide_id
        task.assigned_reason = reason
        session.add(task)
        session.commit()
        read_back(session, task)
    return task


def chase_tasks(
    *,
    session: Session,
    tasks: Sequence[GuideTask],
    by_user: str,
    scope: str,
    scope_id: str,
    at: datetime | None = None,
) -> TaskChase:
    """一键催办 over ``tasks``: one :class:`TaskChase` row, and for every task still open a
    ``chase`` notice to its guide plus ``chased_count``/``last_chased_at``. One transaction."""
    now = at or utcnow()
    chase = TaskChase(by_user=by_user, scope=scope, scope_id=scope_id, created_at=now)
    session.add(chase)
    session.flush()  # the chase id keys the notices
    guides: list[str] = []
    chased = 0
    for task in tasks:
        if task.status != "open":
            continue
        task.chased_count += 1
        task.last_chased_at = now
        session.add(task)
        session.add(
            TaskNotice(
                task_id=task.id,
                kind="chase",
                to_guide_id=task.guide_id,
                idempotency_key=f"chase/{chase.id}/{task.id}",
                created_at=now,
                by_user=by_user,
            )
        )
        chased += 1
        if task.guide_id not in guides:
            guides.append(task.guide_id)
    chase.tasks_chased = chased
    chase.guides_chased = guides
    session.add(chase)
    session.commit()
    read_back(session, chase)
    return chase


def list_chases(
    *,
    session: Session,
    scope: str | None = None,
    scope_ids: Sequence[str] | None = None,
    limit: int = 20,
) -> list[TaskChase]:
    """Recent chases, newest first, optionally of one scope kind and ids."""
    stmt = select(TaskChase)
    if scope is not None:
        stmt = stmt.where(TaskChase.scope == scope)
    if scope_ids is not None:
        stmt = stmt.where(col(TaskChase.scope_id).in_(list(scope_ids)))
    stmt = stmt.order_by(col(TaskChase.created_at).desc(), col(TaskChase.id).desc()).limit(limit)
    return list(session.exec(stmt))


def _require(session: Session, task_id: str) -> GuideTask:
    task = session.get(GuideTask, task_id)
    if task is None:
        raise NotFoundError("guide task", task_id)
    return task

"""Guide tasks from journeys: choose the assignee, create once, remind/escalate/expire once."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from activities._time import iso, parse_instant
from activities.errors import INVALID_REQUEST, TASK_NOT_FOUND, business_failure
from activities.rendering import TemplateRenderError, customer_variables, render
from db import crud
from db.assignment import assign, preferred_guide
from db.crud._util import aware
from db.models import Customer, Guide, GuideTask
from engine.effects import (
    CUSTOMER_NOT_FOUND,
    NO_GUIDE_AVAILABLE,
    TEMPLATE_RENDER_FAILED,
    CreateTaskRequest,
    TaskCreated,
    TaskNoticeRequest,
    TaskNoticeResult,
)

_DEFAULT_TITLES = {"call": "电话回访", "wecom_chat": "企微沟通", "store_invite": "邀约到店"}
_CLOSED = ("completed", "cancelled")
_NOTICE_KINDS = ("reminder", "escalation", "expired", "cancelled")


def choose_assignee(session: Session, customer: Customer, rule: str) -> Guide | None:
    """``bound_guide``: the customer's active bound guide, else their store's manager.
    ``store_manager``: the store's manager only. (Capacity is applied by
    :func:`db.assignment.assign`.)"""
    return preferred_guide(session, customer, rule)[0]


def create_task(session: Session, request: CreateTaskRequest, now: datetime) -> TaskCreated:
    """Create the task for ``request`` once; a repeat returns the first one."""
    ctx = request.ctx
    existing = crud.get_task_by_key(session=session, idempotency_key=ctx.idempotency_key)
    if existing is not None:
        _record_created_notice(session, existing, now)  # a crash may have come between
        return _created(session, existing)
    if request.assignee not in ("bound_guide", "store_manager"):
        raise business_failure(INVALID_REQUEST, f"unknown assignee rule {request.assignee!r}")
    customer = crud.get_customer(session=session, customer_id=ctx.customer_id)
    if customer is None:
        raise business_failure(CUSTOMER_NOT_FOUND, f"customer {ctx.customer_id!r}")
    assignment = assign(session, customer, request.assignee, now)
    if assignment is None:
        raise business_failure(
            NO_GUIDE_AVAILABLE,
            f"customer {customer.id} has no active bound guide and store "
            f"{customer.store_id or '(none)'} has no active manager",
        )
    guide = assignment.guide
    store = (
        crud.get_store(session=session, store_id=customer.store_id) if customer.store_id else None
    )
    variables = {"customer": customer_variables(customer, store, guide), "ctx": request.context}
    title_template = (
        request.title or f"{_DEFAULT_TITLES.get(request.task_type, '跟进')} {{{{ customer.name }}}}"
    )
    try:
        title = render(title_template, variables)[:120]
        instructions = render(request.instructions, variables)
    except TemplateRenderError as exc:
        raise business_failure(TEMPLATE_RENDER_FAILED, f"node {ctx.node_id}: {exc.reason}") from exc
    shift = timedelta(days=assignment.defer_days)
    task = GuideTask(
        id=uuid.uuid4().hex,
        idempotency_key=ctx.idempotency_key,
        customer_id=customer.id,
        guide_id=guide.id,
        store_id=customer.store_id or guide.store_id,
        journey_id=ctx.journey_id,
        journey_version=ctx.journey_version,
        node_id=ctx.node_id,
        workflow_id=ctx.workflow_id,
        task_type=request.task_type,
        title=title,
        instructions=instructions,
        outcomes=list(request.outcomes),
        # A task deferred to a later day (the guide was full) is due as much later.
        due_at=parse_instant(request.due_at) + shift,
        remind_at=parse_instant(request.remind_at) + shift if request.remind_at else None,
        created_at=now,
        scheduled_for=assignment.scheduled_for,
        assigned_reason=assignment.reason,
        original_guide_id=assignment.original_guide_id,
    )
    task, _created_now = crud.insert_task(session=session, task=task)
    _record_created_notice(session, task, now)
    return _created(session, task)


def _record_created_notice(session: Session, task: GuideTask, now: datetime) -> None:
    """The ``created`` notice (pushed to the guide's phone after this commits, see
    activities.guide_notices), once per task."""
    crud.record_notice(
        session=session,
        task_id=task.id,
        kind="created",
        to_guide_id=task.guide_id,
        idempotency_key=f"{task.idempotency_key}/created",
        at=now,
    )


def task_notice(session: Session, request: TaskNoticeRequest, now: datetime) -> TaskNoticeResult:
    """Remind the assignee, escalate to the store manager, mark the task expired, or close it
    as cancelled (the journey stopped or its goal interrupted the wait).

    A closed (completed/cancelled) task gets nothing: ``notified=""``. A reminder or
    escalation that arrives before the task's own (possibly deferred) remind/due time is not
    sent either. Repeats with the same key return the first result.
    """
    if request.kind not in _NOTICE_KINDS:
        raise business_failure(INVALID_REQUEST, f"unknown notice kind {request.kind!r}")
    task = crud.get_task(session=session, task_id=request.task_id)
    if task is None:
        raise business_failure(TASK_NOT_FOUND, f"guide task {request.task_id!r}")
    notices = {n.idempotency_key: n for n in crud.list_notices(session=session, task_id=task.id)}
    if request.idempotency_key in notices:
        done = notices[request.idempotency_key]
        return TaskNoticeResult(task.id, request.kind, done.to_guide_id or "")
    if task.status in _CLOSED or (task.status == "expired" and request.kind != "expired"):
        return TaskNoticeResult(task.id, request.kind, "")
    if _early(task, request.kind, now):
        return TaskNoticeResult(task.id, request.kind, "")

    to_guide = task.guide_id
    if request.kind == "reminder":
        task.reminded_at = now
    elif request.kind == "escalation":
        manager = (
            crud.get_store_manager(session=session, store_id=task.store_id)
            if task.store_id
            else None
        )
        to_guide = manager.id if manager is not None else task.guide_id
        task.escalated_at = now
    elif request.kind == "cancelled":
        task.status = "cancelled"
    else:
        task.status = "expired"
    session.add(task)  # committed together with the notice below
    notice, _ = crud.record_notice(
        session=session,
        task_id=task.id,
        kind=request.kind,
        to_guide_id=to_guide,
        idempotency_key=request.idempotency_key,
        at=now,
    )
    return TaskNoticeResult(task.id, request.kind, notice.to_guide_id or "")


def _early(task: GuideTask, kind: str, now: datetime) -> bool:
    """True when the journey's timer fires before the task's stored time: the task was
    deferred to a later day because its guide was full (see db.assignment)."""
    if task.assigned_reason != "overflow_next_day":
        return False
    if kind == "reminder":
        moment = aware(task.remind_at)
    elif kind == "escalation":
        moment = aware(task.due_at)
    else:
        return False
    return moment is not None and now < moment


def _created(session: Session, task: GuideTask) -> TaskCreated:
    guide = crud.get_guide(session=session, guide_id=task.guide_id)
    return TaskCreated(
        task_id=task.id,
        guide_id=task.guide_id,
        guide_name=guide.name if guide else "",
        due_at=iso(task.due_at),
    )

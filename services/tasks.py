"""Guide task use cases: the workbench, outcomes that move the journey on, reassign (chase:
:mod:`services.chase`).

Every function that takes an ``actor`` checks the task or customer is in the actor's scope
(:class:`services.accounts.Principal`) and raises :class:`NotFoundError` otherwise: a guide
probing another guide's task id learns nothing, not even that it exists.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.assignment import DEFAULT_TIMEZONE, store_day
from db.crud.contact_policy import contact_recencies
from db.errors import InvalidStatusError, NotFoundError
from db.models import (
    CONTACT_CHANNELS,
    Customer,
    GuideTask,
    IssuedCoupon,
    OutboxMessage,
    TaskContact,
)
from db.session import end_transaction, in_thread
from engine.contact_policy import ContactRecency
from engine.runtime import TaskOutcome
from services.accounts import Principal
from services.temporal import TemporalGateway, TemporalUnavailableError
from workflows import JourneyWorkflow

log = logging.getLogger(__name__)
#: a signal that takes longer fails; the outcome stays owed and is sent later
SIGNAL_TIMEOUT = timedelta(seconds=10)

#: What a guide can record after a contact, besides the task's own outcomes.
NOT_REACHED = "not_reached"
REACHED = "reached"


class ForbiddenError(Exception):
    """The actor sees the object but may not do this to it (e.g. a guide reassigning)."""


class BadRequestError(ValueError):
    """The request names something impossible (a time in the past, a guide of another store)."""


# ----------------------------------------------------------------------------- scope


def visible_task(*, session: Session, actor: Principal, task_id: str) -> GuideTask:
    """The task if ``actor`` may see it; :class:`NotFoundError` if missing or out of scope."""
    task = crud.get_task(session=session, task_id=task_id)
    if task is None or not actor.can_see_task(task):
        raise NotFoundError("task", task_id)
    return task


def visible_customer(*, session: Session, actor: Principal, customer_id: str) -> Customer:
    """The customer if ``actor`` may see them; :class:`NotFoundError` otherwise."""
    customer = crud.get_customer(session=session, customer_id=customer_id)
    if customer is None or not actor.can_see_customer(session, customer):
        raise NotFoundError("customer", customer_id)
    return customer


def scoped_tasks(
    *,
    session: Session,
    actor: Principal,
    status: str | None = None,
    journey_id: str | None = None,
    store_id: str | None = None,
    guide_id: str | None = None,
    limit: int = 200,
) -> list[GuideTask]:
    """Tasks the actor may see, narrowed by the filters (a filter outside the scope: none)."""
    if actor.role == "guide":
        if guide_id not in (None, actor.guide_id):
            return []
        guide_id = actor.guide_id
    elif actor.role == "store_manager":
        if store_id not in (None, actor.store_id):
            return []
        store_id = actor.store_id
    return crud.list_tasks(
        session=session,
        status=status,
        journey_id=journey_id,
        store_id=store_id,
        guide_id=guide_id,
        limit=limit,
    )


# ----------------------------------------------------------------------------- outcome


async def complete_task(
    *,
    session: Session,
    temporal: TemporalGateway | None,
    task_id: str,
    outcome: str | None,
    note: str,
    by: str,
    actor: Principal | None = None,
) -> GuideTask:
    """Store the outcome (the database is the record), then signal the journey run.

    With ``actor``, the task must be in their scope. The stored outcome is owed to the run
    until the signal went through (``journey_told_at``): when Temporal is unreachable the
    guide's tap still counts and :mod:`services.reconcile` tells the run later.
    """
    now = datetime.now(UTC)
    task = await in_thread(
        _store_outcome,
        session=session,
        task_id=task_id,
        outcome=outcome,
        note=note,
        actor=actor,
        now=now,
    )
    await _tell_stored(session=session, temporal=temporal, task=task, by=by)
    return task


async def _tell_stored(
    *, session: Session, temporal: TemporalGateway | None, task: GuideTask, by: str
) -> None:
    """Signal a stored (committed) outcome to its run and mark it told; when Temporal is
    unreachable the outcome stays owed and :mod:`services.reconcile` tells the run later."""
    if temporal is None or not task.workflow_id:
        return
    try:
        client = await temporal.client()
        await tell_journey(client, task, by=by)
    except (TemporalUnavailableError, RPCError) as exc:
        # stored and owed: the reconciler tells the run once Temporal answers again
        log.warning("outcome of task %s not signalled yet: %s", task.id, exc)
        return
    await in_thread(crud.mark_journey_told, session=session, task_ids=[task.id])


async def tell_journey(client: Client, task: GuideTask, *, by: str = "") -> None:
    """Signal a completed task's outcome to its run (safe to repeat: a run keeps the first
    outcome of a task). A run that has ended has nothing to be told."""
    assert task.workflow_id is not None
    completed = task.completed_at or datetime.now(UTC)
    try:
        await client.get_workflow_handle(task.workflow_id).signal(
            JourneyWorkflow.task_outcome,
            TaskOutcome(
                task.id,
                task.outcome or "completed",
                task.note,
                completed.isoformat(),
                by,
            ),
            rpc_timeout=SIGNAL_TIMEOUT,
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise


def _store_outcome(
    *,
    session: Session,
    task_id: str,
    outcome: str | None,
    note: str,
    actor: Principal | None,
    now: datetime,
) -> GuideTask:
    if actor is not None:
        visible_task(session=session, actor=actor, task_id=task_id)
    elif crud.get_task(session=session, task_id=task_id) is None:
        raise NotFoundError("task", task_id)
    task = crud.complete_task(session=session, task_id=task_id, outcome=outcome, note=note, at=now)
    end_transaction(session)
    return task


def contact_results(task: GuideTask) -> list[str]:
    """The results the workbench offers: the task's outcomes (its journey ports), or
    ``reached`` when it has none, then ``not_reached`` (keeps the task open)."""
    results = list(task.outcomes) if task.outcomes else [REACHED]
    if NOT_REACHED not in results:
        results.append(NOT_REACHED)
    return results


def closing_outcome(task: GuideTask, result: str) -> str | None:
    """The outcome a contact ``result`` completes the task with, or ``None`` (stays open)."""
    if task.outcomes:
        return result if result in task.outcomes else None
    return "completed" if result == REACHED else None


@dataclass
class ContactLogged:
    task: GuideTask
    contact: TaskContact
    completed: bool


async def log_contact(
    *,
    session: Session,
    temporal: TemporalGateway | None,
    actor: Principal,
    task_id: str,
    channel: str,
    result: str,
    note: str = "",
) -> ContactLogged:
    """One tap on the workbench: record the call / WeCom chat; an outcome result also
    completes the task, which signals the journey to follow that outcome's port."""

    def record() -> tuple[GuideTask, TaskContact, bool]:
        # one write transaction for the contact and, when its result closes the task, the
        # outcome: each commit of a request's writer session is another turn for SQLite's
        # write lock (bench.web_load: a guide's tap waited for four turns)
        task = visible_task(session=session, actor=actor, task_id=task_id)
        allowed = tuple(contact_results(task))
        if result not in allowed:
            raise InvalidStatusError("contact result", result, allowed)
        if channel not in CONTACT_CHANNELS:
            raise InvalidStatusError("contact channel", channel, CONTACT_CHANNELS)
        contact = crud.log_contact(
            session=session,
            task_id=task_id,
            channel=channel,
            result=result,
            note=note,
            by_user=actor.username,
            commit=False,
        )
        outcome = closing_outcome(task, result)
        if outcome is not None:
            task = crud.complete_task(
                session=session,
                task_id=task_id,
                outcome=outcome,
                note=note,
                at=contact.created_at,
                commit=False,
            )
        session.commit()
        return task, contact, outcome is not None

    task, contact, completed = await in_thread(record)
    if completed:
        await _tell_stored(session=session, temporal=temporal, task=task, by=actor.username)
    return ContactLogged(task, contact, completed)


def prepared_message_key(task_id: str) -> str:
    """Idempotency key of a task's prepared message in the outbox."""
    return f"task/{task_id}/prepared-message"


def send_prepared_message(
    *, session: Session, actor: Principal, task_id: str, channel: str = "wecom"
) -> OutboxMessage:
    """Send the task's suggested script to the customer through the message outbox, once per
    task (a second tap returns the first message)."""
    task = visible_task(session=session, actor=actor, task_id=task_id)
    if task.status != "open":
        raise BadRequestError(f"task {task_id} is {task.status}")
    message, created = crud.insert_message(
        session=session,
        message=OutboxMessage(
            id=f"msg-{task.id}",
            idempotency_key=prepared_message_key(task.id),
            customer_id=task.customer_id,
            channel=channel,
            subject=task.title,
            body=task.instructions,
            journey_id=task.journey_id,
            node_id=task.node_id,
            workflow_id=task.workflow_id,
        ),
    )
    if created:
        crud.log_contact(
            session=session,
            task_id=task.id,
            channel="message",
            result="sent",
            note="",
            by_user=actor.username,
        )
    return message


def snooze(
    *,
    session: Session,
    actor: Principal,
    task_id: str,
    until: time | None,
    now: datetime | None = None,
) -> GuideTask:
    """Push an open task down the list until ``until`` today (store time); ``None`` wakes it."""
    task = visible_task(session=session, actor=actor, task_id=task_id)
    if until is None:
        return crud.snooze_task(session=session, task_id=task_id, until=None)
    now = now or datetime.now(UTC)
    zone = store_zone(session, task.store_id)
    moment = datetime.combine(now.astimezone(zone).date(), until, tzinfo=zone)
    if moment <= now:
        raise BadRequestError("snooze to a later time today")
    return crud.snooze_task(session=session, task_id=task_id, until=moment.astimezone(UTC))


def reassign(*, session: Session, actor: Principal, task_id: str, guide_id: str) -> GuideTask:
    """A store manager (or HQ) moves an open task to another active guide of its store."""
    task = visible_task(session=session, actor=actor, task_id=task_id)
    if not actor.can_manage_store(task.store_id):
        raise ForbiddenError("only the store manager or HQ can reassign a task")
    guide = crud.get_guide(session=session, guide_id=guide_id)
    if guide is None or not guide.active or guide.store_id != task.store_id:
        raise BadRequestError(f"guide {guide_id} is not an active guide of store {task.store_id}")
    return crud.reassign_task(session=session, task_id=task_id, guide_id=guide_id)


# ----------------------------------------------------------------------------- workbench


@dataclass
class WorkItem:
    """One row of the guide's workbench, with everything the phone shows."""

    task: GuideTask
    customer: Customer | None
    coupon: IssuedCoupon | None
    journey_name: str
    step_label: str
    snoozed: bool
    overdue: bool
    results: list[str] = field(default_factory=list)
    message_sent: bool = False
    #: 智能回访: the customer's last contact and contacts of the last 7 / 30 days, across
    #: every journey and guide (so a guide sees "contacted 2 days ago by SMS" before calling)
    contact: ContactRecency = field(default_factory=ContactRecency)


@dataclass
class Workbench:
    day: date
    items: list[WorkItem]
    done_today: int
    open_count: int


@dataclass(frozen=True)
class WorkbenchCounts:
    """The workbench's counters: open tasks for today, tasks completed today."""

    day: date
    open_count: int
    done_today: int


def workbench(
    *, session: Session, actor: Principal, now: datetime | None = None, limit: int = 200
) -> Workbench:
    """Today's open tasks of the actor's guide: chased first (latest chase first), then by
    due time; snoozed tasks go to the end until their time. Tasks deferred to a later day
    (capacity) are not shown before that day."""
    now = now or datetime.now(UTC)
    if not actor.guide_id:
        return Workbench(now.date(), [], 0, 0)
    today, zone, tasks = _todays_open_tasks(session, actor.guide_id, now, limit)

    def snoozed(t: GuideTask) -> bool:
        return t.snoozed_until is not None and _aware(t.snoozed_until) > now

    tasks.sort(
        key=lambda t: (
            snoozed(t),
            t.chased_count == 0,
            -(_aware(t.last_chased_at).timestamp() if t.last_chased_at else 0.0),
            _aware(t.due_at),
            t.id,
        )
    )
    items = _work_items(session, tasks, now, snoozed)
    done = _done_on(session, actor.guide_id, today, zone)
    return Workbench(today, items, done, len(items))


def workbench_counts(
    *, session: Session, actor: Principal, now: datetime | None = None, limit: int = 200
) -> WorkbenchCounts:
    """The counters of :func:`workbench` alone, for a page that changed one card."""
    now = now or datetime.now(UTC)
    if not actor.guide_id:
        return WorkbenchCounts(now.date(), 0, 0)
    today, zone, tasks = _todays_open_tasks(session, actor.guide_id, now, limit)
    return WorkbenchCounts(today, len(tasks), _done_on(session, actor.guide_id, today, zone))


def _todays_open_tasks(
    session: Session, guide_id: str, now: datetime, limit: int
) -> tuple[date, ZoneInfo, list[GuideTask]]:
    """The guide's store day and zone, and the guide's open tasks due by that day."""
    guide = crud.get_guide(session=session, guide_id=guide_id)
    store = crud.get_store(session=session, store_id=guide.store_id) if guide else None
    today = store_day(store, now)
    tasks = [
        t
        for t in crud.list_tasks(session=session, guide_id=guide_id, status="open", limit=limit)
        if t.scheduled_for is None or t.scheduled_for <= today
    ]
    return today, _zone(store.timezone if store else DEFAULT_TIMEZONE), tasks


def work_item(*, session: Session, actor: Principal, task_id: str) -> WorkItem:
    """One task with its customer card (scope-checked)."""
    task = visible_task(session=session, actor=actor, task_id=task_id)
    now = datetime.now(UTC)
    snoozed = task.snoozed_until is not None and _aware(task.snoozed_until) > now
    return _work_item(session, task, now, snoozed)


def _work_item(session: Session, task: GuideTask, now: datetime, snoozed: bool) -> WorkItem:
    return _work_items(session, [task], now, lambda _task: snoozed)[0]


def _work_items(
    session: Session,
    tasks: list[GuideTask],
    now: datetime,
    snoozed: Callable[[GuideTask], bool],
) -> list[WorkItem]:
    """The cards of ``tasks``, in their order, with a fixed number of queries whatever
    their count: the workbench was a few queries per task (customer, live coupon, journey
    version, prepared message) and the busiest page under bench.web_load."""
    customer_ids = list(dict.fromkeys(t.customer_id for t in tasks))
    customers = {c.id: c for c in crud.get_customers(session=session, customer_ids=customer_ids)}
    coupons = _live_coupons(session, customer_ids, now)
    sent = _sent_message_keys(session, [prepared_message_key(t.id) for t in tasks])
    seen = contact_recencies(session=session, customer_ids=customer_ids, as_of=now)
    whys: dict[tuple[str | None, int | None, str | None], tuple[str, str]] = {}
    items = []
    for task in tasks:
        why = (task.journey_id, task.journey_version, task.node_id)
        if why not in whys:
            whys[why] = _why(session, task)
        journey_name, step_label = whys[why]
        items.append(
            WorkItem(
                task=task,
                customer=customers.get(task.customer_id),
                coupon=coupons.get(task.customer_id),
                journey_name=journey_name,
                step_label=step_label,
                snoozed=snoozed(task),
                overdue=_aware(task.due_at) < now,
                results=contact_results(task),
                message_sent=prepared_message_key(task.id) in sent,
                contact=seen.get(task.customer_id, ContactRecency()),
            )
        )
    return items


def _why(session: Session, task: GuideTask) -> tuple[str, str]:
    """The journey's name and the label of the step that created the task (``""`` for a
    step without one: pages name it by its kind, never by its id)."""
    if not task.journey_id:
        return "", ""
    journey = crud.get_journey(session=session, journey_id=task.journey_id)
    name = journey.name if journey else task.journey_id
    label = ""
    if task.journey_version is not None:
        version = crud.get_version(
            session=session, journey_id=task.journey_id, version=task.journey_version
        )
        nodes = (version.document if version else {}).get("nodes", [])
        for node in nodes:
            if node.get("id") == task.node_id:
                label = node.get("label") or node.get("config", {}).get("title") or label
                break
    return name, label


def _live_coupons(
    session: Session, customer_ids: list[str], now: datetime
) -> dict[str, IssuedCoupon]:
    """Each customer's unredeemed coupon that expires soonest (customers without one are
    absent)."""
    if not customer_ids:
        return {}
    stmt = (
        select(IssuedCoupon)
        .where(col(IssuedCoupon.customer_id).in_(customer_ids))
        .where(col(IssuedCoupon.redeemed_at).is_(None))
        .where(col(IssuedCoupon.expires_at) > now)
        .order_by(col(IssuedCoupon.expires_at), col(IssuedCoupon.id))
    )
    soonest: dict[str, IssuedCoupon] = {}
    for coupon in session.exec(stmt):
        soonest.setdefault(coupon.customer_id, coupon)
    return soonest


def _sent_message_keys(session: Session, keys: list[str]) -> set[str]:
    """Those of ``keys`` that have an outbox message."""
    if not keys:
        return set()
    stmt = select(OutboxMessage.idempotency_key).where(col(OutboxMessage.idempotency_key).in_(keys))
    return set(session.exec(stmt))


def _done_on(session: Session, guide_id: str, day: date, zone: ZoneInfo) -> int:
    start = datetime.combine(day, time(0), tzinfo=zone)
    stmt = (
        select(GuideTask.id)
        .where(GuideTask.guide_id == guide_id, GuideTask.status == "completed")
        .where(col(GuideTask.completed_at) >= start)
        .where(col(GuideTask.completed_at) < start + timedelta(days=1))
    )
    return len(list(session.exec(stmt)))


def store_zone(session: Session, store_id: str | None) -> ZoneInfo:
    """The store's time zone (the chain default for no store or an unknown zone)."""
    store = crud.get_store(session=session, store_id=store_id) if store_id else None
    return _zone(store.timezone if store else DEFAULT_TIMEZONE)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

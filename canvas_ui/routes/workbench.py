"""The guide's phone workbench: today's tasks, the customer card, one-tap actions.

``/workbench`` lists the signed-in guide's open tasks (chased first, then by due time); each
card opens to the customer, why the task exists, the suggested script and the actions. The
actions post with htmx and get back the card's ``item`` block (or the ``done`` block once
the task is completed, which then polls the journey run until the customer has moved on).
Every task and customer is scope-checked in :mod:`services.tasks`: another guide's id is 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from canvas_ui import delivery, queries
from canvas_ui.api.tasks import http_errors
from canvas_ui.deps import CurrentPrincipal, SessionDep, TemporalDep
from canvas_ui.i18n import gettext, lazy
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.crud.contact_policy import contact_recency
from db.session import in_thread, read_session
from services import opt_outs, tasks
from services.accounts import Principal

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

RESULT_LABELS = {
    "reached": lazy("Reached"),
    "not_reached": lazy("Not reached"),
    "interested": lazy("Interested"),
    "declined": lazy("Declined"),
    "completed": lazy("Done"),
    "visited": lazy("Visited the store"),
    "no_answer": lazy("No answer"),
}
TASK_STATUS_LABELS = {
    "open": lazy("To do"),
    "completed": lazy("Done"),
    "expired": lazy("Expired"),
    "cancelled": lazy("Cancelled"),
}
LEVEL_LABELS = {
    "regular": lazy("Regular member"),
    "silver": lazy("Silver"),
    "gold": lazy("Gold"),
    "diamond": lazy("Diamond"),
}
TYPE_LABELS = {
    "call": lazy("Call"),
    "wecom_chat": lazy("WeCom chat"),
    "store_invite": lazy("Invite to store"),
}
#: How a customer was last contacted (智能回访 on the card).
CONTACT_CHANNEL_LABELS = {
    "sms": lazy("SMS"),
    "wecom": lazy("WeCom"),
    "wechat_template": lazy("WeChat template"),
    "wechat_subscribe": lazy("WeChat subscribe message"),
    "email": lazy("Email"),
    "webhook": lazy("Webhook"),
    "guide_task": lazy("a guide's task"),
}
MAX_POLLS = 20
#: outcomes that move the customer forward: the card's primary buttons (a "Declined" or
#: "No answer" is an answer to log, not the action the card suggests)
POSITIVE_RESULTS = frozenset({"reached", "interested", "completed", "visited"})
#: snooze choices: every half hour from the next one, till the end of the store's day
SNOOZE_STEP = timedelta(minutes=30)


def labels() -> dict[str, dict[str, str]]:
    """Translated labels the templates use."""
    return {
        "results": {k: gettext(v) for k, v in RESULT_LABELS.items()},
        "levels": {k: gettext(v) for k, v in LEVEL_LABELS.items()},
        "types": {k: gettext(v) for k, v in TYPE_LABELS.items()},
        "statuses": {k: gettext(v) for k, v in TASK_STATUS_LABELS.items()},
        "channels": {k: gettext(v) for k, v in CONTACT_CHANNEL_LABELS.items()},
    }


def snooze_times(now: datetime, zone: tzinfo) -> tuple[list[str], str]:
    """The snooze choices later today in ``zone`` ("HH:MM", 24-hour whatever the phone's
    locale: a time input showed AM/PM in the Chinese UI) and the one a tap picks (in an hour)."""
    local = now.astimezone(zone)
    slot = local.replace(minute=0, second=0, microsecond=0) + SNOOZE_STEP
    while slot <= local:
        slot += SNOOZE_STEP
    times = []
    while slot.date() == local.date():
        times.append(slot.strftime("%H:%M"))
        slot += SNOOZE_STEP
    in_an_hour = (local + timedelta(hours=1)).strftime("%H:%M")
    default = next((t for t in times if t >= in_an_hour), times[-1] if times else "")
    return times, default


def _ctx(session: Session, actor: Principal, **extra: Any) -> dict[str, Any]:
    """What every workbench view needs; times show in the guide's store zone."""
    now = datetime.now(UTC)
    zone = tasks.store_zone(session, actor.store_id)
    times, default = snooze_times(now, zone)
    return {
        "me": actor,
        "labels": labels(),
        "positive_results": POSITIVE_RESULTS,
        "now": now,
        "tz": zone,
        "snooze_times": times,
        "snooze_default": default,
        **extra,
    }


@router.get("/workbench")
def workbench_page(request: Request, session: SessionDep, actor: CurrentPrincipal) -> Response:
    """Today's tasks of the signed-in guide (htmx refresh gets the ``list`` block)."""
    board = tasks.workbench(session=session, actor=actor)
    return render(request, "workbench.html", _ctx(session, actor, board=board), block="list")


@router.get("/workbench/tasks/{task_id}")
def task_page(
    task_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal
) -> Response:
    """One task on its own page (a link from a notification); another guide's task: 404."""
    with http_errors():
        item = tasks.work_item(session=session, actor=actor, task_id=task_id)
    counts = tasks.workbench_counts(session=session, actor=actor)
    return render(
        request, "workbench_task.html", _ctx(session, actor, item=item, open=True, counts=counts)
    )


@router.get("/workbench/customers/{customer_id}")
def customer_page(
    customer_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal
) -> Response:
    """A customer's card and their tasks with this guide; out of scope: 404."""
    with http_errors():
        customer = tasks.visible_customer(session=session, actor=actor, customer_id=customer_id)
    their_tasks = [
        t
        for t in crud.list_tasks(session=session, customer_id=customer.id, limit=50)
        if actor.can_see_task(t)
    ]
    coupons = crud.list_issued_coupons(session=session, customer_id=customer.id, limit=10)
    contact = contact_recency(session=session, customer_id=customer.id, as_of=datetime.now(UTC))
    # the channels they left: a guide must not reach them there either (read-only here)
    left = opt_outs.list_opt_outs(session, customer=customer)
    return render(
        request,
        "workbench_customer.html",
        _ctx(
            session,
            actor,
            customer=customer,
            tasks=their_tasks,
            coupons=coupons,
            contact=contact,
            opt_outs=left,
            channel_name=delivery.channel_name,
            source_name=delivery.source_name,
        ),
    )


def _item_response(
    request: Request, session: Any, actor: Principal, task_id: str, *, counts: bool = False
) -> Response:
    """The card after an action; ``counts``: the counters too (out of band), when the
    action may have changed them."""
    item = tasks.work_item(session=session, actor=actor, task_id=task_id)
    if item.task.status != "open":
        return _done_response(request, session, actor, task_id, polls=0, counts=counts)
    extra = {"counts": tasks.workbench_counts(session=session, actor=actor)} if counts else {}
    return render(
        request,
        "workbench.html",
        _ctx(session, actor, item=item, open=True, **extra),
        block="item",
        force_block=True,
    )


def _done_response(
    request: Request,
    session: Any,
    actor: Principal,
    task_id: str,
    polls: int,
    *,
    counts: bool = False,
) -> Response:
    task = tasks.visible_task(session=session, actor=actor, task_id=task_id)
    run = (
        crud.get_latest_run(session=session, workflow_id=task.workflow_id)
        if task.workflow_id
        else None
    )
    moved = run is None or run.status != "running" or run.current_node != task.node_id
    names = queries.current_step_names(session=session, runs=[run] if run else [])
    step = next(iter(names.values()), "")  # the step's name in the version the run is on
    return render(
        request,
        "workbench.html",
        _ctx(
            session,
            actor,
            task=task,
            run=run,
            moved=moved,
            step=step,
            polls=polls,
            poll_again=not moved and polls < MAX_POLLS,
            **({"counts": tasks.workbench_counts(session=session, actor=actor)} if counts else {}),
        ),
        block="done",
        force_block=True,
    )


@router.post("/workbench/tasks/{task_id}/contact")
async def contact(
    task_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    actor: CurrentPrincipal,
    result: str = Form(..., max_length=40),
    channel: str = Form(default="call", max_length=16),
    note: str = Form(default="", max_length=1000),
) -> Response:
    """One tap: log the call/WeCom chat; an outcome completes the task and moves the journey."""
    if channel not in ("call", "wecom"):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "channel: call or wecom")
    with http_errors():
        await tasks.log_contact(
            session=session,
            temporal=temporal,
            actor=actor,
            task_id=task_id,
            channel=channel,
            result=result,
            note=note.strip(),
        )
        return await in_thread(_card_after, request, session, actor, task_id)


def _card_after(request: Request, session: Session, actor: Principal, task_id: str) -> Response:
    """The card after an outcome, read and rendered outside any write transaction (the
    outcome is committed): a POST's session would take SQLite's write lock for it, and hold
    it while the template renders (bench.web_load: every writer queued behind that)."""
    with read_session(session) as reading:
        return _item_response(request, reading, actor, task_id, counts=True)


@router.get("/workbench/tasks/{task_id}/progress")
def progress(
    task_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal, polls: int = 0
) -> Response:
    """Where the customer's journey is now (the done card polls this until it moved on)."""
    with http_errors():
        return _done_response(request, session, actor, task_id, polls=min(polls + 1, MAX_POLLS))


@router.post("/workbench/tasks/{task_id}/message")
def message(
    task_id: str, request: Request, session: SessionDep, actor: CurrentPrincipal
) -> Response:
    """Send the prepared message through the outbox; the card shows it was sent."""
    with http_errors():
        tasks.send_prepared_message(session=session, actor=actor, task_id=task_id)
        return _item_response(request, session, actor, task_id)


@router.post("/workbench/tasks/{task_id}/snooze")
def snooze(
    task_id: str,
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    until: str = Form(default="", max_length=5),
) -> Response:
    """Snooze to a time later today (``HH:MM``); empty wakes the task up."""
    at: time | None = None
    if until:
        try:
            at = time.fromisoformat(until)
        except ValueError as exc:
            raise HTTPException(422, gettext("Pick a time like 15:30.")) from exc
    with http_errors():
        tasks.snooze(session=session, actor=actor, task_id=task_id, until=at)
    board = tasks.workbench(session=session, actor=actor)
    return render(
        request, "workbench.html", _ctx(session, actor, board=board), block="list", force_block=True
    )

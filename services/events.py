"""Customer events in: store once, tell the customer's running journeys, start event entries.

``POST /api/events`` and the CLI call :func:`ingest`. An event and its pending delivery are
stored in one transaction; delivery happens after the commit: events reach running
journeys as the ``customer_event`` signal, and a live journey whose entry is that event
type starts for the customer with signal-with-start, so the triggering event is never lost
in a race. A delivery that fails (Temporal away, the process killed) stays pending and is
retried by :mod:`services.reconcile` and by the producer's retry of the same ``event_id``;
a repeated ``event_id`` whose delivery is done is accepted and does nothing.

**An event that ends a run by its goal may start the journey's next run** (the VIP cycle:
a repeat purchase ends this 45-day cycle and starts the next). The order, for a customer
running in a journey whose entry the event also matches: (1) the event reaches the running
run as a signal and ends it by goal; (2) the delivery waits (at most
:data:`SUCCESSOR_WAIT`) until that run has closed; (3) the entry is asked as for any
customer not in the journey, so the re-entry policy decides (``after_exit`` and ``always``
start the next run with this event as its trigger; ``never`` and a cooldown that has not
passed do not). Without the goal (the event does not match it, or came before the run's
entry) the running run just gets the signal, as before. A run that does not close in time
leaves the delivery pending: its retry finds the run closed and enters then.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from audiences import metrics
from audiences.lifecycle import STAGE_CHANGED_EVENT
from audiences.metrics import StageChange
from db import crud
from db.crud._util import aware
from db.models import CustomerEventCreate, Journey, JourneyRun, JourneyVersion
from db.session import begin_write, end_transaction, in_thread, read_session
from engine import ir, semantics
from engine.runtime import CustomerEventIn
from services.enrollment import RPC_TIMEOUT, compiled_of, enter
from services.temporal import TemporalUnavailableError
from workflows import JourneyWorkflow

MAX_PROPERTIES_BYTES = 16 * 1024
#: when an event may have happened: anything outside is a producer's bug, not a moment
EARLIEST_EVENT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)
MAX_BATCH = 500


class EventIn(BaseModel):
    """One customer event as producers post it."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128, description="Producer's unique id.")
    customer_id: str = Field(min_length=1, max_length=64)
    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_\.]*$",
        description="e.g. purchase, store_visit, browse, coupon_redeemed",
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(
                f"properties are {size} bytes; the limit is {MAX_PROPERTIES_BYTES} bytes"
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        value = value if value.tzinfo else value.replace(tzinfo=UTC)
        try:
            utc = value.astimezone(UTC)
        except OverflowError:
            utc = None
        if utc is None or not (EARLIEST_EVENT <= utc <= LATEST_EVENT):
            raise ValueError(
                f"must be between {EARLIEST_EVENT.year} and {LATEST_EVENT.year} "
                "(an ISO 8601 time with its zone)"
            )
        return value


class UnknownCustomersError(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(p["message"] for p in problems))
        self.problems = problems


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    signalled: int = 0
    started: int = 0
    entries_skipped: list[dict[str, str]] = field(default_factory=list)
    #: event ids stored but not delivered yet (Temporal unreachable): delivered later by the
    #: reconciler, or when the producer sends them again
    pending: list[str] = field(default_factory=list)
    #: why delivery failed, when it did
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


@dataclass
class Delivery:
    """What delivering one event did."""

    signalled: int = 0
    started: int = 0
    entries_skipped: list[dict[str, str]] = field(default_factory=list)


class DeliveryFailedError(Exception):
    """Temporal could not be told; the event stays pending and is retried."""

    def __init__(self, event_id: str, reason: str) -> None:
        super().__init__(f"event {event_id} not delivered yet: {reason}")
        self.event_id = event_id
        self.reason = reason


def stage_event(change: StageChange) -> EventIn:
    """The ``lifecycle_stage_changed`` event of one stage change (:mod:`audiences.lifecycle`);
    its id is derived from the change, so announcing it twice stores it once."""
    return EventIn(
        event_id=f"lifecycle:{change.customer_id}:{change.new}:{change.at:%Y%m%dT%H%M%S}",
        customer_id=change.customer_id,
        type=STAGE_CHANGED_EVENT,
        properties={"from": change.old, "to": change.new},
        occurred_at=change.at,
    )


#: (journey id, version) → its entry trigger when an event type starts it, else None.
#: Versions are immutable, so what was read once stays true.
_EVENT_ENTRIES: dict[tuple[str, int], ir.EventEntry | None] = {}
_EVENT_ENTRIES_MAX = 10_000


def _live_event_entries(session: Session, event_type: str) -> list[JourneyVersion]:
    """Live versions whose entry is triggered by ``event_type``.

    Every event asks this. Loading each live version (its document and compiled journey,
    JSON) and hashing the compiled journey for every event was measurable under
    bench.web_load, where marketers keep publishing: the live versions' keys are read, and
    a version is loaded only the first time it is seen, or when its event type matches.
    """
    stmt = (
        select(JourneyVersion.journey_id, JourneyVersion.version)
        .join(
            Journey,
            (col(Journey.id) == col(JourneyVersion.journey_id))
            & (col(Journey.live_version) == col(JourneyVersion.version)),
        )
        .where(Journey.status == "live")
    )
    found = []
    for journey_id, number in session.exec(stmt).all():
        key = (journey_id, number)
        if key in _EVENT_ENTRIES and not _starts_on(_EVENT_ENTRIES[key], event_type):
            continue
        version = crud.get_version(session=session, journey_id=journey_id, version=number)
        if version is None:
            continue
        trigger = compiled_of(version).entry.trigger
        if len(_EVENT_ENTRIES) >= _EVENT_ENTRIES_MAX:
            _EVENT_ENTRIES.clear()
        _EVENT_ENTRIES[key] = trigger if isinstance(trigger, ir.EventEntry) else None
        if _starts_on(_EVENT_ENTRIES[key], event_type):
            found.append(version)
    return found


def _starts_on(trigger: ir.EventEntry | None, event_type: str) -> bool:
    return trigger is not None and trigger.event_type == event_type


def store_events(*, session: Session, events: list[EventIn]) -> tuple[IngestResult, list[str]]:
    """See :func:`_store_events`; a batch that lost a race for an ``event_id`` to a
    concurrent request (PostgreSQL: both saw it missing) is stored again, and then takes
    the repeated-event path for it."""
    try:
        return _store_events(session=session, events=events)
    except IntegrityError:
        session.rollback()
        return _store_events(session=session, events=events)


def _store_events(*, session: Session, events: list[EventIn]) -> tuple[IngestResult, list[str]]:
    """Store new events, each with its pending delivery and the customer metrics it moves,
    in one write transaction.

    → the counts, and the event ids this caller now owns the delivery of: the new ones, and
    repeated ones whose delivery is still pending and nobody else is on (a producer's retry
    after a 503 or a crash is processed, not ignored). Validates the whole batch first: all
    or nothing. A purchase that moves a customer's lifecycle stage announces it as a
    ``lifecycle_stage_changed`` event of its own, stored (and owned) with the batch.

    One transaction, so the metrics move exactly once per stored event (a crash cannot
    leave an event without them) and the write lock is taken once per post, not once per
    statement group (bench.web_load: five write transactions per purchase queued behind
    every other writer of the install). Still before any delivery: a journey that reads the
    customer's facts after the event sees them moved.
    """
    begin_write(session)
    try:
        result, mine, new = _store_new(session, events)
        changes = _move_metrics(session, new)
        if changes:
            # the announcement's type never moves metrics: no loop
            _, derived, _ = _store_new(session, [stage_event(c) for c in changes])
            mine.extend(derived)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return result, mine


def _move_metrics(session: Session, new: list[EventIn]) -> list[StageChange]:
    """Each new event's customer metrics and RFM (segments read them, issue 5), in
    ``session``'s transaction; each event in a savepoint of its own, so a failed update
    (logged by :func:`metrics.on_event`, caught up by the next full recompute) undoes only
    itself. → the lifecycle stage changes."""
    if not any(metrics.moves_metrics(ev.type) for ev in new):
        return []
    changes = []
    # the metrics code commits and rolls back as it goes: here that ends savepoints only
    with Session(
        session.connection(), join_transaction_mode="create_savepoint", expire_on_commit=False
    ) as moving:
        for ev in new:
            change = metrics.on_event(
                session=moving,
                customer_id=ev.customer_id,
                event_type=ev.type,
                occurred_at=ev.occurred_at,
                properties=ev.properties,
            )
            if change is not None:
                changes.append(change)
    # what ``session`` holds of these customers is stale now; it reads them again
    session.expire_all()
    return changes


def _store_new(
    session: Session, events: list[EventIn]
) -> tuple[IngestResult, list[str], list[EventIn]]:
    """The events' rows and pending deliveries, flushed (a concurrent insert of the same
    ``event_id`` fails here); → the counts, the event ids to deliver and the new events."""
    known = {
        c.id
        for c in crud.get_customers(session=session, customer_ids=[e.customer_id for e in events])
    }
    problems = [
        {
            "index": i,
            "event_id": ev.event_id,
            "field": "customer_id",
            "message": f"event {ev.event_id}: unknown customer '{ev.customer_id}'",
        }
        for i, ev in enumerate(events)
        if ev.customer_id not in known
    ]
    if problems:
        raise UnknownCustomersError(problems)
    result = IngestResult()
    mine: list[str] = []
    new: list[EventIn] = []
    for ev in events:
        if crud.get_event(session=session, event_id=ev.event_id) is None:
            crud.add_event(
                session=session,
                event=CustomerEventCreate(
                    event_id=ev.event_id,
                    customer_id=ev.customer_id,
                    type=ev.type,
                    properties=ev.properties,
                    occurred_at=ev.occurred_at,
                ),
            )
            crud.add_delivery(session=session, event_id=ev.event_id, customer_id=ev.customer_id)
            result.accepted += 1
            mine.append(ev.event_id)
            new.append(ev)
        elif crud.claim_delivery(session=session, event_id=ev.event_id, force=True):
            mine.append(ev.event_id)
        else:
            result.duplicates += 1
    session.flush()
    return result, mine, new


#: How long a delivery waits for a run its event ended by goal to close before starting
#: the journey's next run (see the module docstring); the retry of a pending delivery
#: picks it up when the worker is slower than that.
SUCCESSOR_WAIT = timedelta(seconds=30)


@dataclass
class _Plan:
    event: CustomerEventIn
    customer_id: str
    signal: list[str]
    entries: list[JourneyVersion]
    #: entries that follow a running run this event ends by goal: (the live version, the
    #: workflow id and run id of the run to wait for)
    successors: list[tuple[JourneyVersion, str, str | None]] = field(default_factory=list)


def _plan_delivery(session: Session, event_id: str) -> _Plan | None:
    """Whom ``event_id`` goes to: the customer's running runs, and the live journeys it may
    start (entry filters match, not in them already). None when the event is unknown.

    Reads only, in a reader's transaction: the POST's own session would take SQLite's
    write lock for it (bench.web_load: event posts queued for the lock to read).
    """
    with read_session(session) as reading:
        return _plan(reading, event_id)


def _plan(session: Session, event_id: str) -> _Plan | None:
    try:
        row = crud.get_event(session=session, event_id=event_id)
        if row is None:
            return None
        occurred = aware(row.occurred_at)
        assert occurred is not None
        event = CustomerEventIn(row.event_id, row.type, occurred.isoformat(), dict(row.properties))
        running = crud.get_running_runs_for_customer(session=session, customer_id=row.customer_id)
        entries = []
        successors: list[tuple[JourneyVersion, str, str | None]] = []
        confirmed_in = {r.journey_id: r for r in running if r.run_id is not None}
        for version in _live_event_entries(session, row.type):
            compiled = compiled_of(version)
            trigger = compiled.entry.trigger
            assert isinstance(trigger, ir.EventEntry)
            if not semantics.match_filters(trigger.filters, event.properties):
                continue
            run = confirmed_in.get(version.journey_id)
            if run is None:
                entries.append(version)
            elif compiled.entry.reentry is not ir.ReentryPolicy.NEVER and _ends_by_goal(
                session, run, event
            ):
                # the running run gets the signal (below) and ends by goal; then the next
                # run may start (module docstring)
                successors.append((version, run.workflow_id, run.run_id))
            # else: already in it; the running run gets the event as a signal
        entering = {v.journey_id for v in entries}
        signal = [r.workflow_id for r in running if r.journey_id not in entering]
        return _Plan(event, row.customer_id, signal, entries, successors)
    finally:
        end_transaction(session)


def _ends_by_goal(session: Session, run: JourneyRun, event: CustomerEventIn) -> bool:
    """Does ``event`` reach the goal of ``run``'s version (as the interpreter decides it:
    engine.interpreter.Interpreter.on_event), so the run ends by goal on its signal?"""
    version = crud.get_version(
        session=session, journey_id=run.journey_id, version=run.journey_version
    )
    goal = compiled_of(version).goal if version is not None else None
    entered = aware(run.entered_at)
    return (
        goal is not None
        and entered is not None
        and semantics.event_matches(goal.event_type, goal.filters, event.type, event.properties)
        and semantics.parse_time(event.occurred_at) >= entered
    )


async def _await_close(client: Client, workflow_id: str, run_id: str | None) -> None:
    """Wait until the run has closed (any way: by goal, failed, terminated)."""
    handle = client.get_workflow_handle(workflow_id, run_id=run_id)
    try:
        await asyncio.wait_for(handle.result(), SUCCESSOR_WAIT.total_seconds())
    except (TimeoutError, RPCError):
        raise
    except Exception:  # noqa: BLE001 - it closed, just not by completing: closed all the same
        return


async def deliver_event(
    *, session: Session, client: Client, task_queue: str, event_id: str
) -> Delivery:
    """Tell the customer's running journeys about a stored event and start the journeys it
    enters; then the event is no longer pending. Safe to repeat (after a crash, a timeout,
    a producer's retry): runs drop an event id they have seen and an entry's
    signal-with-start delivers to the run it started before. Raises
    :class:`DeliveryFailedError` (the event stays pending, retried with back-off) when
    Temporal fails."""
    plan = await in_thread(_plan_delivery, session, event_id)
    done = Delivery()
    if plan is None:
        await in_thread(crud.finish_delivery, session=session, event_id=event_id)
        return done
    try:
        done.signalled = await _signal_all(client, plan.signal, plan.event)
        for _version, workflow_id, run_id in plan.successors:
            await _await_close(client, workflow_id, run_id)
        for version in [*plan.entries, *(s[0] for s in plan.successors)]:
            outcome = await enter(
                session=session,
                client=client,
                task_queue=task_queue,
                version=version,
                customer_id=plan.customer_id,
                entry_event=plan.event,
            )
            if outcome.started:
                done.started += 1
            else:
                done.entries_skipped.append(
                    {
                        "journey_id": version.journey_id,
                        "customer_id": plan.customer_id,
                        "reason": outcome.reason,
                    }
                )
    except (RPCError, TemporalUnavailableError, TimeoutError, OSError) as exc:
        reason = str(exc) or type(exc).__name__
        await asyncio.shield(
            in_thread(crud.retry_delivery_later, session=session, event_id=event_id, error=reason)
        )
        raise DeliveryFailedError(event_id, reason) from exc
    await in_thread(crud.finish_delivery, session=session, event_id=event_id)
    return done


async def ingest(
    *, session: Session, client: Client | None, task_queue: str, events: list[EventIn]
) -> IngestResult:
    """Store (one transaction with the pending deliveries), then deliver each event after
    the commit. Without a client (Temporal not configured) or when delivery fails, the
    events stay pending (``result.pending``) and are delivered later."""
    result, mine = await in_thread(store_events, session=session, events=events)
    if client is None:
        result.pending = list(mine)
        for event_id in mine:  # the reconciler's turn, after a short back-off
            await in_thread(
                crud.retry_delivery_later,
                session=session,
                event_id=event_id,
                error="Temporal not reachable",
            )
        return result
    for event_id in mine:
        try:
            done = await deliver_event(
                session=session, client=client, task_queue=task_queue, event_id=event_id
            )
        except DeliveryFailedError as exc:
            result.pending.append(event_id)
            result.error = exc.reason
            continue
        result.signalled += done.signalled
        result.started += done.started
        result.entries_skipped += done.entries_skipped
    return result


async def _signal_all(client: Client, workflow_ids: list[str], event: CustomerEventIn) -> int:
    """Signal each run; a run that ended since we looked is skipped, any other failure
    raises (the delivery is retried as a whole)."""

    async def one(wid: str) -> bool:
        try:
            await client.get_workflow_handle(wid).signal(
                JourneyWorkflow.customer_event, event, rpc_timeout=RPC_TIMEOUT
            )
        except RPCError as exc:
            if exc.status is RPCStatusCode.NOT_FOUND:
                return False  # the run ended since we looked: nothing to tell it
            raise
        return True

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))

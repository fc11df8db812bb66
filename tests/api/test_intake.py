"""Event intake under failure: nothing lost, nothing doubled, no run row without a workflow.

The app and worker of ``test_events_and_runs`` (SQLite and PostgreSQL, time-skipping
Temporal), with Temporal made to fail where a real outage or crash would hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_HEADER
from db import crud
from db.crud.deliveries import LEASE
from db.models import CustomerEvent, EventDelivery, JourneyRun, utcnow
from db.seed import seed_demo
from db.session import IN_REQUEST, BlockingCallOnEventLoopError, guard_event_loop, writer
from services.accounts import DEMO_PASSWORD, seed_demo_users
from services.enrollment import enter
from services.events import EventIn, deliver_event, ingest, store_events
from services.reconcile import START_GRACE, reconcile_once
from services.temporal import TemporalGateway, TemporalUnavailableError
from settings import Settings
from tests.api.test_events_and_runs import JOURNEY, _event
from workflows import JourneyWorkflow, workflow_id_for


class FlakyGateway(TemporalGateway):
    """A gateway whose Temporal is away until ``up`` is set."""

    def __init__(self, settings: Settings, client: Client) -> None:
        super().__init__(settings, client)
        self.up = False

    async def client(self) -> Client:
        if not self.up:
            raise TemporalUnavailableError("Temporal is not reachable (test outage)")
        return await super().client()


class FailingStarts:
    """A client whose next ``failures`` workflow starts fail as if Temporal were away."""

    def __init__(self, client: Client, failures: int = 1) -> None:
        self._client = client
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def start_workflow(self, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise RPCError("connection refused", RPCStatusCode.UNAVAILABLE, b"")
        return await self._client.start_workflow(*args, **kwargs)


@pytest.fixture
async def stack(
    env: WorkflowEnvironment, engine: Engine, db_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Engine, FlakyGateway, str]]:
    seed_demo(session_or_engine=engine, customers=30)
    seed_demo_users(session_or_engine=engine)
    settings = Settings(database_url=db_url, task_queue=f"intake-{uuid.uuid4()}")
    gateway = FlakyGateway(settings, env.client)
    gateway.up = True
    app = create_app(settings, temporal=gateway, engine=engine)
    guard_event_loop(engine)
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(JourneyActivities.from_engine(engine, settings)),
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/journeys")
            client.headers[CSRF_HEADER] = client.cookies["journeys_csrf"]
            signed_in = await client.post(
                "/login", data={"username": "hq", "password": DEMO_PASSWORD}
            )
            assert signed_in.status_code == 303, signed_in.text
            created = await client.post(
                "/api/journeys", json={"name": "intake", "document": JOURNEY}
            )
            journey_id = created.json()["id"]
            published = await client.post(f"/api/journeys/{journey_id}/publish")
            assert published.status_code == 200, published.text
            yield client, engine, gateway, journey_id
            # leave no workflow task behind for a worker that is about to stop (the test
            # server would stop skipping time): each run gets to its durable wait first,
            # then goes, so its timer cannot fire into a later test's skip of days
            with Session(engine) as session:
                wids = {r.workflow_id for r in session.scalars(select(JourneyRun))}
            for wid in wids:
                await _settled(env, wid)
                with contextlib.suppress(RPCError):
                    await env.client.get_workflow_handle(wid).terminate("test over")


async def _settled(env: WorkflowEnvironment, workflow_id: str) -> None:
    """Wait on the run's state (not the clock) until it waits durably or has ended."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(250):
        try:
            state = await handle.query(JourneyWorkflow.state)
        except RPCError:
            return  # ended, or never started
        if state.waiting is not None or state.status != "running":
            return
        await asyncio.sleep(0.02)


def _runs(engine: Engine, customer_id: str) -> list[JourneyRun]:
    with Session(engine) as session:
        stmt = select(JourneyRun).where(JourneyRun.customer_id == customer_id)
        return list(session.scalars(stmt))


def _pending(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [d.event_id for d in crud.pending_deliveries(session=session)]


async def _state(env: WorkflowEnvironment, workflow_id: str) -> Any:
    return await env.client.get_workflow_handle(workflow_id).query(JourneyWorkflow.state)


async def test_outage_answers_503_and_the_reconciler_delivers_later(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    client, engine, gateway, journey_id = stack
    customer = "C000002"
    event = _event(customer, "first_purchase", await env.get_current_time())
    gateway.up = False

    down = await client.post("/api/events", json=event)
    assert down.status_code == 503, down.text
    assert down.headers["retry-after"] == "30"
    assert down.json()["pending"] == [event["event_id"]]
    assert "Temporal is unavailable" in down.json()["detail"]
    with Session(engine) as session:
        assert crud.get_event(session=session, event_id=event["event_id"]) is not None
    assert _pending(engine) == [event["event_id"]]
    assert _runs(engine, customer) == []  # no run row without a workflow

    # Temporal is back: the reconciler delivers the stored event (the entry starts) ...
    gateway.up = True
    rounds = await reconcile_once(
        engine=engine,
        client=env.client,
        task_queue=gateway.task_queue,
        now=utcnow() + timedelta(minutes=6),
    )
    assert rounds.delivered == 1 and _pending(engine) == []
    (run,) = _runs(engine, customer)
    assert run.status == "running" and run.run_id
    state = await _state(env, workflow_id_for(journey_id, customer))
    assert state.trace and state.trace[0].node_id == "entry"

    # ... and the producer's retry of the same event id changes nothing
    retried = await client.post("/api/events", json=event)
    assert retried.status_code == 202 and retried.json()["duplicates"] == 1
    assert len(_runs(engine, customer)) == 1


async def test_a_retry_of_a_pending_event_is_processed_not_ignored(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    client, engine, _gateway, journey_id = stack
    customer = "C000003"
    event = _event(customer, "first_purchase", await env.get_current_time())
    # the web process stored the event, then died before delivering it (kill -9)
    with Session(writer(engine), expire_on_commit=False) as session:
        store_events(session=session, events=[EventIn.model_validate(event)])
    assert _pending(engine) == [event["event_id"]]

    retried = await client.post("/api/events", json=event)
    assert retried.status_code == 202, retried.text
    assert retried.json()["started"] == 1 and retried.json()["accepted"] == 0
    assert _pending(engine) == []
    (run,) = _runs(engine, customer)
    assert run.run_id and run.workflow_id == workflow_id_for(journey_id, customer)


async def test_a_failed_start_is_no_entry(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    """Re-entry "never": a start that failed must not lock the customer out for good."""
    _client, engine, gateway, journey_id = stack
    customer = "C000004"
    event = EventIn.model_validate(_event(customer, "first_purchase", await env.get_current_time()))
    flaky = FailingStarts(env.client)
    with Session(writer(engine), expire_on_commit=False) as session:
        first = await ingest(
            session=session,
            client=flaky,
            task_queue=gateway.task_queue,
            events=[event],  # type: ignore[arg-type]
        )
        assert first.started == 0 and first.pending == [event.event_id]
        assert _runs(engine, customer) == []  # the claimed row went with the failed start
        with Session(engine) as check:
            (delivery,) = check.scalars(select(EventDelivery)).all()
        assert delivery.attempts == 1 and "connection refused" in delivery.last_error

        again = await deliver_event(
            session=session,
            client=env.client,
            task_queue=gateway.task_queue,
            event_id=event.event_id,
        )
    assert again.started == 1 and _pending(engine) == []
    (run,) = _runs(engine, customer)
    assert run.status == "running" and run.run_id
    state = await _state(env, workflow_id_for(journey_id, customer))
    assert [e.event_id for e in state.events] == [] or state.trace[0].node_id == "entry"


async def test_reconciler_settles_runs_whose_start_was_never_confirmed(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    _client, engine, gateway, journey_id = stack
    old = utcnow() - START_GRACE - timedelta(minutes=1)
    with Session(writer(engine), expire_on_commit=False) as session:
        # crashed between the claim and the start: a row, no workflow
        ghost = crud.create_run(
            session=session,
            workflow_id=workflow_id_for(journey_id, "C000005"),
            journey_id=journey_id,
            journey_version=1,
            customer_id="C000005",
            entered_at=old,
        )
        # started, then crashed before recording the run id
        version = crud.get_version(session=session, journey_id=journey_id, version=1)
        assert version is not None
        entered = await enter(
            session=session,
            client=env.client,
            task_queue=gateway.task_queue,
            version=version,
            customer_id="C000006",
        )
        assert entered.started
        (started,) = _runs(engine, "C000006")
        crud.set_run_ids(session=session, run_ids={started.id or 0: None})  # type: ignore[dict-item]
        row = session.get(JourneyRun, started.id)
        assert row is not None
        row.entered_at = old
        session.add(row)
        session.commit()

    result = await reconcile_once(engine=engine, client=env.client, task_queue=gateway.task_queue)
    assert result.runs_removed == 1 and result.runs_confirmed == 1
    assert _runs(engine, "C000005") == [] and ghost.id is not None
    (confirmed,) = _runs(engine, "C000006")
    assert confirmed.status == "running" and confirmed.run_id


async def test_concurrent_repeats_and_new_events_do_not_wedge_the_app(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    """The reported deadlock: 4 already-seen and 4 new events at once (a request used to
    end with SQLite's write lock held while the next one blocked the event loop on it)."""
    client, engine, _gateway, _journey_id = stack
    now = await env.get_current_time()
    seen = [_event(f"C0000{10 + i}", "store_visit", now) for i in range(4)]
    for event in seen:
        assert (await client.post("/api/events", json=event)).status_code == 202
    fresh = [_event(f"C0000{20 + i}", "first_purchase", now) for i in range(4)]

    answers = await asyncio.wait_for(
        asyncio.gather(*(client.post("/api/events", json=e) for e in [*seen, *fresh])),
        timeout=60,
    )
    assert [a.status_code for a in answers] == [202] * 8, [a.text for a in answers]
    assert sum(a.json()["duplicates"] for a in answers) == 4
    assert sum(a.json()["started"] for a in answers) == 4
    assert (await client.get("/api/journeys")).status_code == 200  # the app still answers
    ids = [e["event_id"] for e in [*seen, *fresh]]
    with Session(engine) as session:
        stored = session.scalars(
            select(CustomerEvent).where(CustomerEvent.event_id.in_(ids))  # type: ignore[attr-defined]
        ).all()
    assert len(stored) == 8 and _pending(engine) == []


def test_the_guard_refuses_database_calls_on_a_request_event_loop(engine: Engine) -> None:
    guard_event_loop(engine)

    async def on_the_loop() -> None:
        token = IN_REQUEST.set(True)
        try:
            with Session(engine) as session:
                session.exec(select(1))  # type: ignore[call-overload]
        finally:
            IN_REQUEST.reset(token)

    with pytest.raises(BlockingCallOnEventLoopError, match="event loop"):
        asyncio.run(on_the_loop())
    with Session(engine) as session:  # a worker thread / plain code is fine
        assert session.exec(select(1)).one() == (1,)  # type: ignore[call-overload]
    assert LEASE.total_seconds() > 0


async def test_an_outcome_recorded_during_an_outage_reaches_the_run_later(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    client, engine, gateway, journey_id = stack
    customer = "C000007"
    wid = workflow_id_for(journey_id, customer)
    now = await env.get_current_time()
    assert (await client.post("/api/events", json=_event(customer, "first_purchase", now))).json()[
        "started"
    ] == 1
    await _waiting_at(env, wid, "wfe")
    visit = _event(customer, "store_visit", now + timedelta(minutes=1))
    assert (await client.post("/api/events", json=visit)).json()["signalled"] == 1
    state = await _waiting_at(env, wid, "t")
    task_id = state.context["t"]["task_id"]

    gateway.up = False
    done = await client.post(f"/api/tasks/{task_id}/outcome", json={"outcome": "interested"})
    assert done.status_code == 200, done.text  # the guide's tap counts
    with Session(engine) as session:
        task = crud.get_task(session=session, task_id=task_id)
    assert task is not None and task.status == "completed" and task.journey_told_at is None

    gateway.up = True
    result = await reconcile_once(
        engine=engine,
        client=env.client,
        task_queue=gateway.task_queue,
        now=utcnow() + timedelta(minutes=1),
    )
    assert result.outcomes_told == 1
    handle = env.client.get_workflow_handle(wid)
    await handle.result()  # the run moved on: the outcome took it to its goal exit
    final = await handle.query(JourneyWorkflow.state)
    assert final.trace[-1].node_id == "goal"
    with Session(engine) as session:
        told = crud.get_task(session=session, task_id=task_id)
    assert told is not None and told.journey_told_at is not None


async def _waiting_at(env: WorkflowEnvironment, workflow_id: str, node_id: str) -> Any:
    """Wait on the run's state (not the clock) until it waits at ``node_id``."""
    handle = env.client.get_workflow_handle(workflow_id)
    for _ in range(300):
        state = await handle.query(JourneyWorkflow.state)
        if state.waiting is not None and state.waiting.node_id == node_id:
            return state
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow_id} never waited at {node_id}")


async def test_a_retry_after_a_crash_between_claim_and_start_enters_the_customer(
    stack: tuple[httpx.AsyncClient, Engine, FlakyGateway, str], env: WorkflowEnvironment
) -> None:
    """The web process died after claiming the run row and before starting the workflow:
    the producer's retry must start it, not refuse it as 'already in the journey'."""
    client, engine, _gateway, journey_id = stack
    customer = "C000008"
    event = _event(customer, "first_purchase", await env.get_current_time())
    with Session(writer(engine), expire_on_commit=False) as session:
        store_events(session=session, events=[EventIn.model_validate(event)])
        crud.create_run(
            session=session,
            workflow_id=workflow_id_for(journey_id, customer),
            journey_id=journey_id,
            journey_version=1,
            customer_id=customer,
        )

    retried = await client.post("/api/events", json=event)
    assert retried.status_code == 202, retried.text
    assert retried.json()["started"] == 1, retried.json()
    (run,) = _runs(engine, customer)
    assert run.status == "running" and run.run_id and _pending(engine) == []
    state = await _waiting_at(env, run.workflow_id, "wfe")
    assert state.trace[0].node_id == "entry"

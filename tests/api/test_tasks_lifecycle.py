"""A guide task's whole life with real activities, the real worker, the HTTP API and the
time-skipping Temporal server: reminder → escalation → expiry, or an outcome → its port."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from db.models import Customer, GuideTask, TaskNotice
from db.seed import seed_demo
from db.session import guard_event_loop
from services.accounts import DEMO_PASSWORD, seed_demo_users
from services.temporal import TemporalGateway
from settings import Settings
from workflows import JourneyWorkflow

JOURNEY = {
    "name": "沉睡唤醒 · 导购回访",
    "nodes": [
        {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
        {
            "id": "t",
            "kind": "assign_guide_task",
            "label": "导购电话回访",
            "config": {
                "task_type": "call",
                "instructions": "{{ customer.name }}好久没来了，邀请她周末到店",
                "due_in": {"amount": 24, "unit": "hours"},
                "remind_before": {"amount": 2, "unit": "hours"},
                "expire_after": {"amount": 24, "unit": "hours"},
                "outcomes": ["interested", "declined"],
            },
        },
        {"id": "goal", "kind": "exit", "config": {"goal_reached": True}},
        {"id": "no", "kind": "exit"},
        {"id": "lost", "kind": "exit"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "t"},
        {"id": "2", "source": "t", "source_port": "interested", "target": "goal"},
        {"id": "3", "source": "t", "source_port": "declined", "target": "no"},
        {"id": "4", "source": "t", "source_port": "expired", "target": "lost"},
    ],
}

Clients = dict[str, httpx.AsyncClient]


@pytest.fixture
async def world(
    env: WorkflowEnvironment, engine: Engine, db_url: str
) -> AsyncIterator[tuple[Clients, Engine, str]]:
    """The app + worker; signed-in clients for hq, the customer's guide and another guide;
    a live journey. Yields (clients, engine, journey id)."""
    seed_demo(session_or_engine=engine, customers=60)
    logins = {u.username: u for u in seed_demo_users(session_or_engine=engine)}
    settings = Settings(database_url=db_url, task_queue=f"tasks-{uuid.uuid4()}")
    acts = JourneyActivities.from_engine(engine, settings)
    app = create_app(settings, temporal=TemporalGateway(settings, env.client), engine=engine)
    guard_event_loop(engine)  # a request blocking its event loop on the database fails
    transport = httpx.ASGITransport(app=app)
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(acts),
    ):
        clients: Clients = {}
        for name in ("hq", "guide", "guide2", "manager"):
            client = httpx.AsyncClient(transport=transport, base_url="http://test")
            await client.get("/login")
            client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
            signed = await client.post("/login", data={"username": name, "password": DEMO_PASSWORD})
            assert signed.status_code == 303, signed.text
            clients[name] = client
        created = await clients["hq"].post(
            "/api/journeys", json={"name": JOURNEY["name"], "document": JOURNEY}
        )
        journey_id = created.json()["id"]
        published = await clients["hq"].post(f"/api/journeys/{journey_id}/publish")
        assert published.status_code == 200, published.text
        assert logins["guide"].guide_id
        try:
            yield clients, engine, journey_id
        finally:
            for client in clients.values():
                await client.aclose()


def _guide_customer(engine: Engine, guide_id: str = "G002") -> str:
    with Session(engine) as s:
        customer = s.exec(select(Customer).where(Customer.guide_id == guide_id)).first()
    assert customer is not None
    return customer.id


async def _until(check: Callable[[], Any], what: str) -> Any:
    """Poll the database / API (never the wall clock as a condition) until ``check()``."""
    for _ in range(400):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        await asyncio.sleep(0.02)
    raise AssertionError(f"never happened: {what}")


async def _enroll(clients: Clients, journey_id: str, customer: str) -> str:
    hq = clients["hq"]
    enrolled = await hq.post(
        f"/api/journeys/{journey_id}/enroll", json={"customer_ids": [customer]}
    )
    assert enrolled.json()["started"] == 1, enrolled.text
    wid = f"journey-{journey_id}-{customer}"
    return wid


def _task(engine: Engine, customer: str) -> GuideTask | None:
    with Session(engine) as s:
        return s.exec(select(GuideTask).where(GuideTask.customer_id == customer)).first()


def _notices(engine: Engine, task_id: str) -> list[tuple[str, str | None]]:
    with Session(engine) as s:
        rows = s.exec(
            # the journey's notices (not the "created" one create_task writes for the push)
            select(TaskNotice)
            .where(TaskNotice.task_id == task_id, TaskNotice.kind != "created")
            .order_by(col(TaskNotice.id))
        ).all()
    return [(n.kind, n.to_guide_id) for n in rows]


async def _ended(env: WorkflowEnvironment, wid: str, path: list[tuple[str, str | None]]) -> bool:
    """The run's trace is ``path`` (its last step is an exit)."""
    state = await env.client.get_workflow_handle(wid).query(JourneyWorkflow.state)
    return [(t.node_id, t.port) for t in state.trace] == path


async def test_reminder_escalation_expiry_takes_expired(
    world: tuple[Clients, Engine, str], env: WorkflowEnvironment
) -> None:
    clients, engine, journey_id = world
    customer = _guide_customer(engine)
    wid = await _enroll(clients, journey_id, customer)
    task = await _until(lambda: _task(engine, customer), "task created")
    assert (task.guide_id, task.status, task.assigned_reason) == ("G002", "open", "bound_guide")
    assert task.due_at - task.created_at == timedelta(hours=24)

    await env.sleep(timedelta(hours=22, minutes=5))  # past remind_at (due − 2 h)
    await _until(lambda: _notices(engine, task.id) == [("reminder", "G002")], "reminder")

    await env.sleep(timedelta(hours=2))  # past due: the store manager hears about it
    await _until(lambda: len(_notices(engine, task.id)) == 2, "escalation")
    assert _notices(engine, task.id)[1] == ("escalation", "G001")

    await env.sleep(timedelta(hours=24))  # past due + expire_after
    final = [("entry", "next"), ("t", "expired"), ("lost", None)]
    await _until(lambda: _ended(env, wid, final), "the journey takes `expired`")
    expired = _task(engine, customer)
    assert expired is not None and expired.status == "expired"
    assert [k for k, _ in _notices(engine, task.id)] == ["reminder", "escalation", "expired"]
    late = await clients["guide"].post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": "interested"}
    )
    assert late.status_code == 409


@pytest.mark.parametrize(("outcome", "exit_node"), [("interested", "goal"), ("declined", "no")])
async def test_completion_through_the_api_takes_the_outcome_port(
    world: tuple[Clients, Engine, str], env: WorkflowEnvironment, outcome: str, exit_node: str
) -> None:
    clients, engine, journey_id = world
    customer = _guide_customer(engine)
    wid = await _enroll(clients, journey_id, customer)
    task = await _until(lambda: _task(engine, customer), "task created")

    # the other guide of the store cannot complete it; the bound guide can
    stranger = await clients["guide2"].post(
        f"/api/tasks/{task.id}/outcome", json={"outcome": outcome}
    )
    assert stranger.status_code == 404
    done = await clients["guide"].post(
        f"/api/tasks/{task.id}/contact",
        json={"channel": "call", "result": outcome, "note": "周六下午到店"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["completed"] is True

    final = [("entry", "next"), ("t", outcome), (exit_node, None)]
    await _until(lambda: _ended(env, wid, final), f"the journey takes `{outcome}`")
    state = await env.client.get_workflow_handle(wid).query(JourneyWorkflow.state)
    assert state.goal_reached is (exit_node == "goal")
    stored = _task(engine, customer)
    assert stored is not None and (stored.status, stored.outcome) == ("completed", outcome)
    detail = (await clients["guide"].get(f"/api/tasks/{task.id}")).json()
    assert [(c["channel"], c["result"]) for c in detail["contacts"]] == [("call", outcome)]
    assert _notices(engine, task.id) == []  # completed before any reminder was due


async def test_not_reached_keeps_the_task_open(
    world: tuple[Clients, Engine, str], env: WorkflowEnvironment
) -> None:
    clients, engine, journey_id = world
    customer = _guide_customer(engine)
    wid = await _enroll(clients, journey_id, customer)
    task = await _until(lambda: _task(engine, customer), "task created")
    tried = await clients["guide"].post(
        f"/api/tasks/{task.id}/contact", json={"channel": "wecom", "result": "not_reached"}
    )
    assert tried.json()["completed"] is False
    state = await env.client.get_workflow_handle(wid).query(JourneyWorkflow.state)
    assert state.waiting is not None and state.waiting.node_id == "t"
    stored = _task(engine, customer)
    assert stored is not None and (stored.status, stored.contact_count) == ("open", 1)
    # HQ stops the journey: the open task is closed as cancelled
    stop = await clients["hq"].post(f"/api/runs/{wid}/stop", json={"reason": "客户投诉"})
    assert stop.status_code == 200
    await _until(lambda: (t := _task(engine, customer)) and t.status == "cancelled", "cancelled")

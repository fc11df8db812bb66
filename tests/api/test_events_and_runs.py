"""The spine end to end through the HTTP API: real activities on a migrated database (SQLite
and PostgreSQL), the real worker, the time-skipping Temporal server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_HEADER
from db import crud
from db.seed import seed_demo
from db.session import guard_event_loop
from services.accounts import DEMO_PASSWORD, seed_demo_users
from services.temporal import TemporalGateway
from settings import Settings
from workflows import JourneyWorkflow

JOURNEY = {
    "name": "新客二回 API",
    "settings": {
        "goal": {
            "event_type": "purchase",
            "filters": [{"field": "amount", "op": "gte", "value": 100}],
        }
    },
    "nodes": [
        {
            "id": "entry",
            "kind": "entry",
            "config": {
                "trigger": {"type": "event", "event_type": "first_purchase"},
                "reentry": {"policy": "never"},
            },
        },
        {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {
            "id": "m",
            "kind": "send_message",
            "config": {
                "channel": "wecom",
                "content": "{{ customer.name }}，您的券 {{ ctx.c.code }}",
            },
        },
        {
            "id": "wfe",
            "kind": "wait_for_event",
            "config": {"event_type": "store_visit", "timeout": {"amount": 3, "unit": "days"}},
        },
        {
            "id": "t",
            "kind": "assign_guide_task",
            "config": {
                "task_type": "call",
                "instructions": "回访 {{ customer.name }}",
                "outcomes": ["interested", "declined"],
            },
        },
        {"id": "done", "kind": "exit"},
        {"id": "goal", "kind": "exit", "config": {"goal_reached": True}},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "c"},
        {"id": "2", "source": "c", "target": "m"},
        {"id": "3", "source": "m", "target": "wfe"},
        {"id": "4", "source": "wfe", "source_port": "matched", "target": "t"},
        {"id": "5", "source": "wfe", "source_port": "timeout", "target": "done"},
        {"id": "6", "source": "t", "source_port": "interested", "target": "goal"},
        {"id": "7", "source": "t", "source_port": "declined", "target": "done"},
        {"id": "8", "source": "t", "source_port": "expired", "target": "done"},
    ],
}


@pytest.fixture
async def api(
    env: WorkflowEnvironment, engine: Engine, db_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, Engine]]:
    seed_demo(session_or_engine=engine, customers=60)
    seed_demo_users(session_or_engine=engine)
    settings = Settings(database_url=db_url, task_queue=f"api-{uuid.uuid4()}")
    acts = JourneyActivities.from_engine(engine, settings)
    app = create_app(settings, temporal=TemporalGateway(settings, env.client), engine=engine)
    guard_event_loop(engine)  # a request blocking its event loop on the database fails
    async with Worker(
        env.client,
        task_queue=settings.task_queue,
        workflows=[JourneyWorkflow],
        activities=all_activities(acts),
    ):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            page = await client.get("/journeys")
            token = client.cookies.get("journeys_csrf")
            assert page.status_code < 500 and token
            client.headers[CSRF_HEADER] = token
            signed_in = await client.post(
                "/login", data={"username": "hq", "password": DEMO_PASSWORD}
            )
            assert signed_in.status_code == 303, signed_in.text
            yield client, engine


async def _live_journey(client: httpx.AsyncClient) -> str:
    created = await client.post(
        "/api/journeys", json={"name": JOURNEY["name"], "document": JOURNEY}
    )
    assert created.status_code == 201, created.text
    journey_id = created.json()["id"]
    published = await client.post(f"/api/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    return str(journey_id)


def _event(customer: str, type_: str, at: datetime, **props: Any) -> dict[str, Any]:
    return {
        "event_id": f"ev-{uuid.uuid4()}",
        "customer_id": customer,
        "type": type_,
        "properties": props,
        "occurred_at": at.isoformat(),
    }


async def _run_state(client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/runs/{workflow_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def _until(client: httpx.AsyncClient, workflow_id: str, predicate: Any) -> dict[str, Any]:
    """Wait on the run's state (never on the clock) until ``predicate(state)`` holds."""
    for _ in range(300):
        data = await _run_state(client, workflow_id)
        if data.get("state") and predicate(data):
            return data
        await asyncio.sleep(0.02)
    raise AssertionError(f"{workflow_id} never got there: {data}")


async def test_event_entry_signal_task_outcome_and_goal(
    api: tuple[httpx.AsyncClient, Engine], env: WorkflowEnvironment
) -> None:
    client, engine = api
    journey_id = await _live_journey(client)
    customer = "C000001"
    now = await env.get_current_time()

    posted = await client.post("/api/events", json=_event(customer, "first_purchase", now))
    assert posted.status_code == 202 and posted.json()["started"] == 1
    wid = f"journey-{journey_id}-{customer}"
    await _until(client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "wfe")

    # a running journey gets the customer's events as signals
    visit = await client.post(
        "/api/events", json=_event(customer, "store_visit", now + timedelta(minutes=5))
    )
    assert visit.json()["signalled"] == 1
    data = await _until(client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "t")
    task_id = data["state"]["context"]["t"]["task_id"]

    with Session(engine) as session:
        coupon = crud.list_issued_coupons(session=session, customer_id=customer)[0]
        (message,) = crud.list_messages(session=session, customer_id=customer)
        task = crud.get_task(session=session, task_id=task_id)
    assert coupon.template_id == "NEW20" and coupon.code in message.body
    assert task is not None and task.status == "open" and task.guide_id

    bad = await client.post(f"/api/tasks/{task_id}/outcome", json={"outcome": "maybe"})
    assert bad.status_code == 422 and "maybe" in bad.text
    done = await client.post(
        f"/api/tasks/{task_id}/outcome", json={"outcome": "interested", "note": "周末到店"}
    )
    assert done.status_code == 200, done.text
    final = await _until(client, wid, lambda d: d["run"]["status"] == "exited")
    assert final["run"]["goal_reached"] is True
    ports = [(t["node_id"], t["port"]) for t in final["state"]["trace"]]
    assert ports == [
        ("entry", "next"),
        ("c", "next"),
        ("m", "next"),
        ("wfe", "matched"),
        ("t", "interested"),
        ("goal", None),
    ]

    # re-entry policy "never": the same trigger again does not start a second run
    again = await client.post("/api/events", json=_event(customer, "first_purchase", now))
    assert again.json()["started"] == 0
    assert "never" in again.json()["entries_skipped"][0]["reason"]


async def test_manual_enrollment_and_stop(api: tuple[httpx.AsyncClient, Engine]) -> None:
    client, _ = api
    journey_id = await _live_journey(client)
    enrolled = await client.post(
        f"/api/journeys/{journey_id}/enroll",
        json={"customer_ids": ["C000002", "C000002", "NOBODY"]},
    )
    body = enrolled.json()
    assert body["started"] == 1
    assert body["skipped"] == [
        {
            "customer_id": "NOBODY",
            "started": False,
            "reason": "unknown customer",
            "workflow_id": f"journey-{journey_id}-NOBODY",
        }
    ]
    wid = f"journey-{journey_id}-C000002"
    await _until(client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "wfe")
    second = await client.post(
        f"/api/journeys/{journey_id}/enroll", json={"customer_ids": ["C000002"]}
    )
    assert second.json()["skipped"][0]["reason"] == "already in the journey"
    stopped = await client.post(f"/api/runs/{wid}/stop", json={"reason": "客户投诉"})
    assert stopped.status_code == 200
    final = await _until(client, wid, lambda d: d["run"]["status"] == "stopped")
    assert "客户投诉" in final["run"]["exit_reason"]


async def test_duplicate_event_is_accepted_and_ignored(
    api: tuple[httpx.AsyncClient, Engine],
) -> None:
    client, _ = api
    event = _event("C000003", "browse", datetime.now(UTC), sku="SKU-1")
    first = await client.post("/api/events", json=[event])
    second = await client.post("/api/events", json=[event])
    assert first.json()["accepted"] == 1
    assert second.status_code == 202 and second.json() == {
        **second.json(),
        "accepted": 0,
        "duplicates": 1,
    }


@pytest.mark.parametrize(
    "payload,where",
    [
        (
            {"customer_id": "C000001", "type": "purchase", "occurred_at": "2026-01-01T00:00:00Z"},
            "event_id",
        ),
        (
            {
                "event_id": "x",
                "customer_id": "C000001",
                "type": "Purchase!",
                "occurred_at": "2026-01-01T00:00:00Z",
            },
            "type",
        ),
        (
            {"event_id": "x", "customer_id": "C000001", "type": "purchase", "occurred_at": "soon"},
            "occurred_at",
        ),
        (
            {
                "event_id": "x",
                "customer_id": "C000001",
                "type": "purchase",
                "occurred_at": "2026-01-01T00:00:00Z",
                "properties": {"blob": "x" * 20000},
            },
            "properties",
        ),
        (
            {
                "event_id": "x",
                "customer_id": "GHOST",
                "type": "purchase",
                "occurred_at": "2026-01-01T00:00:00Z",
            },
            "unknown customer 'GHOST'",
        ),
        ([], "between 1 and 500"),
    ],
)
async def test_bad_events_get_a_422_naming_the_problem(
    api: tuple[httpx.AsyncClient, Engine], payload: Any, where: str
) -> None:
    client, _ = api
    response = await client.post("/api/events", json=payload)
    assert response.status_code == 422
    assert where in response.text


async def test_enroll_into_a_draft_is_refused(api: tuple[httpx.AsyncClient, Engine]) -> None:
    client, _ = api
    created = await client.post("/api/journeys", json={"name": "draft only", "document": JOURNEY})
    response = await client.post(
        f"/api/journeys/{created.json()['id']}/enroll", json={"customer_ids": ["C000001"]}
    )
    assert response.status_code == 409 and "draft" in response.text

"""The 45-day VIP cycle restarts on the purchase that ends it (issue 15 item 8): the built-in
VIP template (event entry ``purchase``, re-entry ``after_exit``, goal ``purchase``) on the
time-skipping server, through the HTTP API. A repeat purchase ends the running cycle by its
goal and starts the next cycle with that purchase as its trigger (services.events: signal,
wait for the run to close, then the entry under the re-entry policy); with re-entry
``never`` the same purchase only ends the run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.testing import WorkflowEnvironment

from db.models import Customer, JourneyRun
from templates_lib import instantiate
from tests.api.test_events_and_runs import _event, _until, api  # noqa: F401  (fixture)

CUSTOMER = "C000003"


async def _publish(client: httpx.AsyncClient, document: dict[str, Any]) -> str:
    created = await client.post(
        "/api/journeys", json={"name": document["name"], "document": document}
    )
    assert created.status_code == 201, created.text
    journey_id = str(created.json()["id"])
    published = await client.post(f"/api/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    return journey_id


def _runs(engine: Engine, journey_id: str) -> list[JourneyRun]:
    with Session(engine) as session:
        return list(
            session.exec(
                select(JourneyRun)
                .where(col(JourneyRun.journey_id) == journey_id)
                .order_by(col(JourneyRun.id))
            )
        )


def _make_vip(engine: Engine) -> None:
    with Session(engine) as session:
        customer = session.get(Customer, CUSTOMER)
        assert customer is not None
        customer.member_level = "diamond"
        session.add(customer)
        session.commit()


async def test_a_repeat_purchase_ends_the_cycle_and_starts_the_next(
    api: tuple[httpx.AsyncClient, Engine],  # noqa: F811
    env: WorkflowEnvironment,
) -> None:
    client, engine = api
    _make_vip(engine)
    journey_id = await _publish(client, instantiate("vip_churn"))
    wid = f"journey-{journey_id}-{CUSTOMER}"
    now = await env.get_current_time()

    first = await client.post("/api/events", json=_event(CUSTOMER, "purchase", now, amount=800))
    assert first.status_code == 202 and first.json()["started"] == 1, first.text
    await _until(client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "care_wait")

    # day 3 of the cycle: they buy again — the goal of this cycle and the start of the next
    again = _event(CUSTOMER, "purchase", now + timedelta(days=3), amount=1200)
    answer = await client.post("/api/events", json=again)
    assert answer.status_code == 202, answer.text
    assert answer.json()["started"] == 1 and answer.json()["entries_skipped"] == []

    runs = _runs(engine, journey_id)
    assert [(r.status, r.goal_reached) for r in runs] == [("exited", True), ("running", False)]
    assert runs[0].exit_reason == "goal"
    # the new cycle is triggered by that purchase and starts over from its first day
    state = await _until(
        client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "care_wait"
    )
    assert state["state"]["context"]["entry"]["event"]["event_id"] == again["event_id"]
    assert state["run"]["id"] == runs[1].id

    # a purchase of the same delivery replayed (the producer's retry) changes nothing
    repeat = await client.post("/api/events", json=again)
    assert repeat.status_code == 202 and repeat.json()["started"] == 0
    assert len(_runs(engine, journey_id)) == 2

    # the shared time-skipping server must not keep a timer of this run once its worker is gone
    stopped = await client.post(f"/api/runs/{wid}/stop", json={"reason": "test over"})
    assert stopped.status_code == 200, stopped.text
    await _until(client, wid, lambda d: d["run"]["status"] == "stopped")


async def test_with_reentry_never_the_goal_purchase_only_ends_the_run(
    api: tuple[httpx.AsyncClient, Engine],  # noqa: F811
    env: WorkflowEnvironment,
) -> None:
    client, engine = api
    _make_vip(engine)
    document = instantiate("vip_churn")
    entry = next(n for n in document["nodes"] if n["kind"] == "entry")
    entry["config"]["reentry"] = {"policy": "never"}
    journey_id = await _publish(client, document)
    wid = f"journey-{journey_id}-{CUSTOMER}"
    now = await env.get_current_time()

    await client.post("/api/events", json=_event(CUSTOMER, "purchase", now, amount=800))
    await _until(client, wid, lambda d: (d["state"]["waiting"] or {}).get("node_id") == "care_wait")
    answer = await client.post(
        "/api/events", json=_event(CUSTOMER, "purchase", now + timedelta(days=3), amount=90)
    )
    assert answer.json()["started"] == 0 and answer.json()["signalled"] == 1
    await _until(client, wid, lambda d: d["run"]["status"] == "exited")
    runs = _runs(engine, journey_id)
    assert [(r.status, r.goal_reached) for r in runs] == [("exited", True)]

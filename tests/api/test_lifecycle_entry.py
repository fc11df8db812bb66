"""A journey that starts on ``lifecycle_stage_changed`` (filtered on ``to``): a purchase that
moves a customer identify → develop starts it through the event path, and its first wait is
the customer's own purchase cycle (real ``load_facts`` on a migrated database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from audiences import metrics
from db.models import CustomerMetrics
from tests.api.test_events_and_runs import _until, api  # noqa: F401 - the fixture


def _journey(name: str, to: str) -> dict[str, Any]:
    return {
        "name": name,
        "nodes": [
            {
                "id": "entry",
                "kind": "entry",
                "config": {
                    "trigger": {
                        "type": "event",
                        "event_type": "lifecycle_stage_changed",
                        "filters": [{"field": "to", "op": "eq", "value": to}],
                    },
                    "reentry": {"policy": "after_exit"},
                },
            },
            {"id": "w", "kind": "wait_purchase_cycle", "config": {"percent": 90}},
            {"id": "done", "kind": "exit"},
        ],
        "edges": [
            {"id": "1", "source": "entry", "target": "w"},
            {"id": "2", "source": "w", "target": "done"},
        ],
    }


async def _publish(client: httpx.AsyncClient, document: dict[str, Any]) -> str:
    created = await client.post(
        "/api/journeys", json={"name": document["name"], "document": document}
    )
    assert created.status_code == 201, created.text
    journey_id = str(created.json()["id"])
    published = await client.post(f"/api/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    return journey_id


async def test_a_purchase_moving_identify_to_develop_starts_the_stage_journey(
    api: tuple[httpx.AsyncClient, Engine],  # noqa: F811
) -> None:
    client, engine = api
    now = datetime.now(UTC)  # the metrics' clock is the wall clock
    with Session(engine) as session:
        metrics.recompute(session=session, now=now)
        row = session.exec(
            select(CustomerMetrics).where(
                CustomerMetrics.lifecycle_stage == "identify",
                CustomerMetrics.purchases_count == 1,
            )
        ).first()
        assert row is not None, "the demo has identify customers with one purchase"
        customer = row.customer_id
    develop = await _publish(client, _journey("进入发展期", "develop"))
    decline = await _publish(client, _journey("进入衰退期", "decline"))

    posted = await client.post(
        "/api/events",
        json={
            "event_id": f"pos-{uuid.uuid4()}",
            "customer_id": customer,
            "type": "purchase",
            "properties": {"amount": 299},
            "occurred_at": now.isoformat(),
        },
    )
    assert posted.status_code == 202, posted.text
    assert posted.json()["started"] == 1  # the derived stage event, delivered with the batch

    wid = f"journey-{develop}-{customer}"
    # the metrics run on the wall clock, the test server's clock may be ahead of it (time
    # skipped by earlier tests): the cycle's moment may be ahead (waiting) or already past
    data = await _until(
        client,
        wid,
        lambda d: (
            (d["state"]["waiting"] or {}).get("node_id") == "w" or d["run"]["status"] == "exited"
        ),
    )
    entry, wait = data["state"]["trace"][:2]
    assert entry["result"]["trigger"]["type"] == "lifecycle_stage_changed"
    assert entry["result"]["trigger"]["properties"] == {"from": "identify", "to": "develop"}
    assert wait["node_id"] == "w" and wait["inputs"]["rule"] == "cycle"
    assert wait["inputs"]["cycle_days"] > 0
    missing = await client.get(f"/api/runs/journey-{decline}-{customer}")
    assert missing.status_code == 404
    # end the run: a pending timer must not fire on a server shared with later tests
    if data["state"]["waiting"]:
        stopped = await client.post(f"/api/runs/{wid}/stop", json={"reason": "test over"})
        assert stopped.status_code == 200, stopped.text
        await _until(client, wid, lambda d: d["run"]["status"] != "running")

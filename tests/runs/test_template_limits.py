"""Test runs render with the worker's limits: a template past one takes the node's failure
path as it would live, and the test-run page answers 422 naming the node and the limit,
never a 500 or a 100 MB answer. The simulation runs off the web app's event loop."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from engine import simulation
from engine.effects import CustomerFacts
from services.test_runs import compile_draft, run_test
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import CSRF_COOKIE, create_journey, linear_document

START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def message_document(content: str) -> dict[str, Any]:
    """entry → message (``content``; on failure: its ``failed`` port) → exit, or → 'fallback'
    exit when the message fails."""
    doc = copy.deepcopy(linear_document("模板上限"))
    entry, _wait, _coupon, exit_node = doc["nodes"]
    message = {
        "id": "msg",
        "kind": "send_message",
        "label": "",
        "position": {"x": 300, "y": 0},
        "config": {"channel": "sms", "content": content, "on_failure": "port"},
    }
    fallback = {**exit_node, "id": "fallback", "position": {"x": 600, "y": 200}}
    doc["nodes"] = [entry, message, exit_node, fallback]
    doc["edges"] = [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "msg"},
        {"id": "e2", "source": "msg", "source_port": "next", "target": "exit"},
        {"id": "e3", "source": "msg", "source_port": "failed", "target": "fallback"},
    ]
    return doc


async def test_test_run_takes_the_failure_path_and_lists_the_limit() -> None:
    journey = compile_draft(
        message_document("{{ customer.name }}{{ 'x' * 20000000 }}"),
        journey_id="j-limits",
        coupon_templates=set(),
    )
    result = await run_test(
        journey,
        CustomerFacts(customer_id="C1", name="李女士"),
        coupon_templates={},
        script=[],
        start=START,
    )
    assert result.explanation.path == ["entry", "msg", "fallback"]
    assert result.explanation.steps[1].port == "failed"
    assert result.limit_errors == ["'msg': '*' would make a text longer than 50000 characters"]
    assert result.messages == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{{ 'x' * 100000000 }}", "'*' would make a text longer than 50000 characters"),
        ("{{ range(10 ** 7)|list }}", "range() would make a list of more than 10000 items"),
        (
            "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
            "the template takes more than 50000 steps",
        ),
        ("{{ customer.name * 10000 }}", "the message would be longer than 10000 characters"),
    ],
)
def test_test_run_past_a_limit_answers_422_naming_it(
    client: TestClient, content: str, reason: str
) -> None:
    journey_id = create_journey(client, message_document(content))
    answer = client.post(f"/journeys/{journey_id}/test-run", json={"name": "李女士"})
    assert answer.status_code == 422, answer.text[:300]
    detail = answer.json()["detail"]
    assert "'msg'" in detail and reason in detail and "on_failure" in detail


def test_test_run_within_the_limits_answers_the_run(client: TestClient) -> None:
    journey_id = create_journey(client, message_document("{{ customer.name }}，您好"))
    answer = client.post(f"/journeys/{journey_id}/test-run", json={"name": "李女士"})
    assert answer.status_code == 200, answer.text[:300]
    assert [m["text"] for m in answer.json()["messages"]] == ["李女士，您好"]


async def test_test_run_renders_off_the_event_loop(
    canvas_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    serving_loop = asyncio.get_running_loop()  # ASGITransport serves the app on this loop
    loops: list[asyncio.AbstractEventLoop | None] = []
    real_render = simulation.render

    def watched_render(text: str, **variables: Any) -> str:
        loops.append(asyncio.get_running_loop())
        return real_render(text, **variables)

    monkeypatch.setattr(simulation, "render", watched_render)
    transport = httpx.ASGITransport(app=canvas_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if canvas_app.state.test_login:
            client.cookies.set(*canvas_app.state.test_login)
        await client.get("/api/schema/journey.json")
        client.headers["X-CSRF-Token"] = client.cookies[CSRF_COOKIE]
        doc = message_document("{{ customer.name }}，您好")
        created = await client.post("/api/journeys", json={"name": doc["name"], "document": doc})
        assert created.status_code == 201, created.text
        answer = await client.post(
            f"/journeys/{created.json()['id']}/test-run", json={"name": "李女士"}
        )
    assert answer.status_code == 200, answer.text[:300]
    assert loops and all(loop is not serving_loop for loop in loops)

"""Limits at every door: bounded bodies (before login), documents, offsets, JSON nesting,
and one documented shape for 422 bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from canvas_ui.limits import DEFAULT_BODY_LIMIT, MAX_JSON_DEPTH, json_depth
from engine.compiler import MAX_DOCUMENT_BYTES


def _big_document(name: str = "big") -> dict[str, Any]:
    """~330 KB: well under the body limit, over the document limit."""
    nodes: list[dict[str, Any]] = [
        {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}}
    ]
    nodes += [
        {
            "id": f"m{i}",
            "kind": "send_message",
            "config": {"channel": "sms", "content": "您好" * 600},
        }
        for i in range(90)
    ]
    return {"name": name, "nodes": nodes, "edges": []}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def test_an_anonymous_huge_body_is_refused_before_it_is_read(canvas_app: FastAPI) -> None:
    with TestClient(canvas_app) as anonymous:
        chunks_read = 0

        def body() -> Iterator[bytes]:
            nonlocal chunks_read
            for _ in range(50):
                chunks_read += 1
                yield b"x" * (1024 * 1024)

        declared = anonymous.post(
            "/api/journeys",
            content=b"x" * 10,
            headers={"content-length": str(50 * 1024 * 1024), "content-type": "application/json"},
        )
        assert declared.status_code == 413
        assert "limit of 1 MiB" in declared.json()["detail"]
        streamed = anonymous.post("/login", content=body())
        assert streamed.status_code == 413  # no Content-Length: counted while it streams


def test_signed_in_requests_have_the_same_limits(client: TestClient) -> None:
    response = client.post(
        "/api/journeys",
        content=b"{" + b" " * DEFAULT_BODY_LIMIT + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413 and "/api/journeys" in response.json()["detail"]


def test_the_document_limit_holds_at_create_save_and_import(client: TestClient) -> None:
    big = _big_document()
    assert len(json.dumps(big, ensure_ascii=False).encode()) > MAX_DOCUMENT_BYTES
    created = client.post("/api/journeys", json={"name": "big", "document": big})
    assert created.status_code == 413, created.text
    assert f"limit is {MAX_DOCUMENT_BYTES // 1024} KB" in created.json()["detail"]

    journey_id = client.post("/api/journeys", json={"name": "small"}).json()["id"]
    saved = client.put(f"/api/journeys/{journey_id}", json=big)
    assert saved.status_code == 413
    imported = client.post("/api/journeys/import", json=big)
    assert imported.status_code == 413
    # nothing was stored: the draft is still the starter
    draft = client.get(f"/api/journeys/{journey_id}").json()["document"]
    assert len(draft["nodes"]) == 2


def test_offsets_and_limits_are_bounded(client: TestClient) -> None:
    for path in ("/api/runs", "/api/journeys"):
        huge = client.get(path, params={"offset": 2**63})
        assert huge.status_code == 422, (path, huge.text)
        assert "offset" in huge.json()["detail"]
        assert client.get(path, params={"limit": 0}).status_code == 422


def test_deeply_nested_json_is_a_400(client: TestClient) -> None:
    journey_id = client.post("/api/journeys", json={"name": "nested"}).json()["id"]
    deep = _nested(1000)
    for method, path in (("PUT", f"/api/journeys/{journey_id}"), ("POST", "/api/journeys/import")):
        response = client.request(
            method, path, content=deep, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
        assert f"deeper than {MAX_JSON_DEPTH} levels" in response.json()["detail"]
    assert json_depth(b'{"a": "[[[[[[", "b": [1, {"c": [2]}]}') == 4


def test_422_bodies_have_the_documented_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    problem = schema["components"]["schemas"]["Problem"]
    assert problem["required"] == ["detail"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    response = client.post("/api/journeys", json={"name": ""})
    assert response.status_code == 422
    body = response.json()
    assert isinstance(body["detail"], str) and "name" in body["detail"]
    assert body["errors"][0]["field"] == "name"
    ref = schema["paths"]["/api/journeys"]["post"]["responses"]["422"]
    assert ref["content"]["application/json"]["schema"]["$ref"].endswith("/Problem")


def test_numbers_past_any_sense_are_422s_not_500s(client: TestClient) -> None:
    """Found by the schema fuzzer and by hand: each used to overflow somewhere (500)."""
    segment = client.post(
        "/api/segments/preview",
        json={
            "definition": {
                "match": "all",
                "rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 10**20}],
            }
        },
    )
    assert segment.status_code == 422 and "at most" in segment.text
    template = client.post(
        "/api/templates/second_purchase/instantiate",
        json={"params": {"care_delay_days": "9" * 5000}},
    )
    assert template.status_code == 422 and "care_delay_days" in template.text
    event = client.post(
        "/api/events",
        json={
            "event_id": "far-future",
            "customer_id": "C000001",
            "type": "purchase",
            "occurred_at": "9999-12-31T23:59:59-14:00",
        },
    )
    assert event.status_code == 422
    assert "occurred_at" in event.json()["detail"] and "between 2000 and 2100" in event.text

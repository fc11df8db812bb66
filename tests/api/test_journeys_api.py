"""JSON API of journeys: happy paths, and bad input answered 4xx naming what is wrong."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import create_journey, linear_document


def test_create_list_get(client: TestClient) -> None:
    created = client.post("/api/journeys", json={"name": "沉睡唤醒", "description": "VIP"})
    assert created.status_code == 201
    jid = created.json()["id"]
    listed = client.get("/api/journeys").json()
    assert [j["id"] for j in listed] == [jid]
    assert listed[0]["running"] == 0 and listed[0]["entered"] == 0
    got = client.get(f"/api/journeys/{jid}").json()
    assert got["journey"]["status"] == "draft"
    assert [n["kind"] for n in got["document"]["nodes"]] == ["entry", "exit"]
    assert set(got["meta"]) == {"entry", "exit"}


def test_put_draft_and_meta(client: TestClient) -> None:
    jid = create_journey(client)
    doc = linear_document("改名了")
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 5
    response = client.put(f"/api/journeys/{jid}", json=doc, headers={"Accept-Language": "zh"})
    assert response.status_code == 200
    assert response.json()["meta"]["wait"]["summary"] == "等待 5 天"
    assert response.json()["meta"]["coupon"]["summary"] == "优惠券 ¥20 · 30天"
    assert client.get(f"/api/journeys/{jid}").json()["journey"]["name"] == "改名了"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d["nodes"][1].update(kind="teleport"), "nodes.1.kind"),
        (lambda d: d["nodes"][0].update(id="has space"), "nodes.0.id"),
        (lambda d: d.update(name=""), "name"),
        (lambda d: d["edges"][0].pop("target"), "edges.0.target"),
        (lambda d: d.update(nodes="many"), "nodes"),
        (lambda d: d.update(colour="red"), "colour"),
    ],
)
def test_put_bad_structure_names_the_field(
    client: TestClient, mutate: Callable[[dict[str, Any]], object], field: str
) -> None:
    jid = create_journey(client)
    doc = copy.deepcopy(linear_document())
    mutate(doc)
    response = client.put(f"/api/journeys/{jid}", json=doc)
    assert response.status_code == 422
    body = response.json()
    assert field in [e["field"] for e in body["errors"]], body
    assert field in body["detail"]


def test_put_not_json_is_422(client: TestClient) -> None:
    jid = create_journey(client)
    response = client.put(
        f"/api/journeys/{jid}", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["detail"]


def test_unknown_journey_is_404(client: TestClient) -> None:
    assert client.get("/api/journeys/missing").status_code == 404
    assert "missing" in client.put("/api/journeys/missing", json={}).json()["detail"]
    assert client.post("/api/journeys/missing/publish").status_code == 404


def test_create_bad_input(client: TestClient) -> None:
    response = client.post("/api/journeys", json={"name": ""})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "name"
    assert client.post("/api/journeys", json=[1]).status_code == 422
    assert client.get("/api/journeys?status=flying").status_code == 422


def test_validate_lists_diagnostics_with_node_ids(client: TestClient) -> None:
    doc = linear_document()
    doc["edges"] = doc["edges"][:2]  # coupon's "next" goes nowhere; exit unreachable
    jid = create_journey(client, doc)
    response = client.post(f"/api/journeys/{jid}/validate")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    codes = {d["code"]: d for d in body["diagnostics"]}
    assert codes["MISSING_EDGE"]["node_ids"] == ["coupon"]
    assert "exit" in codes["UNREACHABLE_NODE"]["node_ids"]


def test_publish_refused_with_all_diagnostics(client: TestClient) -> None:
    doc = linear_document()
    doc["nodes"][2]["config"]["coupon_template_id"] = "NOPE"
    doc["edges"] = doc["edges"][:2]
    jid = create_journey(client, doc)
    response = client.post(f"/api/journeys/{jid}/publish")
    assert response.status_code == 422
    codes = {d["code"] for d in response.json()["diagnostics"]}
    assert {"UNKNOWN_COUPON_TEMPLATE", "MISSING_EDGE"} <= codes
    assert client.get(f"/api/journeys/{jid}/versions").json() == []


def test_publish_versions_pause_resume(client: TestClient) -> None:
    jid = create_journey(client)
    assert client.post(f"/api/journeys/{jid}/pause").status_code == 409  # a draft
    first = client.post(f"/api/journeys/{jid}/publish")
    assert first.status_code == 200, first.text
    assert first.json()["version"]["version"] == 1
    assert first.json()["journey"]["status"] == "live"
    # editing the live journey changes only the draft; v1 stays as published
    doc = linear_document()
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 7
    client.put(f"/api/journeys/{jid}", json=doc)
    assert client.post(f"/api/journeys/{jid}/publish").json()["version"]["version"] == 2
    versions = client.get(f"/api/journeys/{jid}/versions").json()
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["published_by"] == "hq"
    v1 = client.get(f"/api/journeys/{jid}/versions/1").json()["document"]
    assert v1["nodes"][1]["config"]["until"]["duration"]["amount"] == 3
    assert client.get(f"/api/journeys/{jid}/versions/3").status_code == 404

    assert client.post(f"/api/journeys/{jid}/pause").json()["journey"]["status"] == "paused"
    assert client.post(f"/api/journeys/{jid}/pause").status_code == 409
    assert client.post(f"/api/journeys/{jid}/resume").json()["journey"]["status"] == "live"


def test_archive_and_restore(client: TestClient) -> None:
    draft = create_journey(client)
    live = create_journey(client)
    assert client.post(f"/api/journeys/{live}/publish").status_code == 200
    refused = client.post(f"/api/journeys/{live}/archive")
    assert refused.status_code == 409 and "live" in refused.json()["detail"]  # pause it first

    archived = client.post(f"/api/journeys/{draft}/archive")
    assert archived.status_code == 200, archived.text
    assert archived.json()["journey"]["status"] == "archived" and archived.json()["stopped"] == 0
    assert [j["id"] for j in client.get("/api/journeys").json()] == [live]
    assert [j["id"] for j in client.get("/api/journeys?status=archived").json()] == [draft]
    page = client.get("/journeys").text
    assert f'/journeys/{live}/edit"' in page and f'/journeys/{draft}/edit"' not in page
    assert f'/journeys/{draft}/edit"' in client.get("/journeys?status=archived").text
    editor = client.get(f"/journeys/{draft}/edit").text
    assert 'id="archived-banner"' in editor
    publish = client.post(f"/api/journeys/{draft}/publish")
    assert publish.status_code == 409 and "restore" in publish.json()["detail"]
    assert client.post(f"/api/journeys/{draft}/archive").status_code == 409
    restored = client.post(f"/api/journeys/{draft}/restore").json()["journey"]
    assert restored["status"] == "draft"  # never published
    assert client.post(f"/api/journeys/{draft}/restore").status_code == 409

    client.post(f"/api/journeys/{live}/pause")
    assert client.post(f"/api/journeys/{live}/archive").json()["journey"]["status"] == "archived"
    restored = client.post(f"/api/journeys/{live}/restore").json()["journey"]
    assert restored["status"] == "paused" and restored["live_version"] == 1  # resume to go on


def test_export_import_round_trip(client: TestClient) -> None:
    jid = create_journey(client)
    exported = client.get(f"/api/journeys/{jid}/export")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == f'attachment; filename="{jid}.json"'
    doc = json.loads(exported.content)
    imported = client.post(
        "/api/journeys/import", files={"file": ("j.json", exported.content, "application/json")}
    )
    assert imported.status_code == 201
    new_id = imported.json()["id"]
    assert new_id != jid
    assert client.get(f"/api/journeys/{new_id}").json()["document"] == doc
    as_body = client.post("/api/journeys/import", json=doc)
    assert as_body.status_code == 201


def test_import_bad_files(client: TestClient) -> None:
    bad_json = client.post("/api/journeys/import", files={"file": ("j.json", b"{", "text/plain")})
    assert bad_json.status_code == 422 and "not valid JSON" in bad_json.json()["detail"]
    no_file = client.post("/api/journeys/import", files={"other": ("j.json", b"{}", "text/plain")})
    assert no_file.status_code == 422 and "file" in no_file.json()["detail"]
    bad_doc = client.post("/api/journeys/import", json={"name": "x", "nodes": [{"id": "a"}]})
    assert bad_doc.status_code == 422
    assert "nodes.0.kind" in bad_doc.json()["detail"]


def test_schema_is_served(client: TestClient) -> None:
    schema = client.get("/api/schema/journey.json").json()
    assert schema["title"] == "Journey document"
    assert "nodes" in schema["properties"]

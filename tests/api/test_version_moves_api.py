"""The API and dialog of moving waiting customers (issue 17 item 3), without Temporal: the
dry run's numbers from the run rows, the fields it names, the 409 on an invalid mapped
node, 503 when Temporal is away (nothing stored), and the dialog in both languages."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from db.models import AuditEntry, JourneyRun, JourneyVersionMove
from journeys import cli
from settings import get_settings
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import create_journey


def _node(node_id: str, kind: str, label: str = "", **config: Any) -> dict[str, Any]:
    return {
        "id": node_id,
        "kind": kind,
        "label": label,
        "position": {"x": 0, "y": 0},
        "config": config,
    }


def _wait(node_id: str, days: int, label: str) -> dict[str, Any]:
    until = {"type": "duration", "duration": {"amount": days, "unit": "days"}}
    return _node(node_id, "wait", label, until=until)


V1: dict[str, Any] = {
    "schema_version": 1,
    "name": "新客二回",
    "description": "",
    "settings": {},
    "nodes": [
        _node("entry", "entry", trigger={"type": "manual"}),
        _node("coupon", "send_coupon", "发券", coupon_template_id="NEW20"),
        _wait("w", 3, "等三天"),
        _wait("w2", 2, "再等两天"),
        _node("done", "exit"),
    ],
    "edges": [
        {"id": "e1", "source": "entry", "source_port": "next", "target": "coupon"},
        {"id": "e2", "source": "coupon", "source_port": "next", "target": "w"},
        {"id": "e3", "source": "w", "source_port": "next", "target": "w2"},
        {"id": "e4", "source": "w2", "source_port": "next", "target": "done"},
    ],
}


def _v2() -> dict[str, Any]:
    """v2: `w` waits 5 days; `w2` becomes a message `m` (w2 is gone)."""
    doc = copy.deepcopy(V1)
    doc["nodes"][2] = _wait("w", 5, "等五天")
    doc["nodes"][3] = _node("m", "send_message", "提醒", content="别忘了券")
    doc["edges"][2] = {"id": "e3", "source": "w", "source_port": "next", "target": "m"}
    doc["edges"][3] = {"id": "e4", "source": "m", "source_port": "next", "target": "done"}
    return doc


def _two_versions(client: TestClient, app: Any, waiting: dict[str, int]) -> str:
    jid = create_journey(client, V1)
    assert client.post(f"/api/journeys/{jid}/publish").status_code == 200
    with Session(app.state.engine) as s:
        n = 0
        for node, count in waiting.items():
            for _ in range(count):
                n += 1
                s.add(
                    JourneyRun(
                        workflow_id=f"journey-{jid}-C{n}",
                        journey_id=jid,
                        journey_version=1,
                        customer_id=f"C{n}",
                        current_node=node,
                    )
                )
        s.commit()
    assert client.put(f"/api/journeys/{jid}", json=_v2()).status_code == 200
    published = client.post(f"/api/journeys/{jid}/publish")
    assert published.status_code == 200 and published.json()["version"]["version"] == 2
    return jid


def test_dry_run_counts_and_lands_customers(client: TestClient, canvas_app: Any) -> None:
    jid = _two_versions(client, canvas_app, {"w": 3, "w2": 2})
    response = client.post(f"/api/journeys/{jid}/versions/1/move/dry-run", json={})
    assert response.status_code == 200, response.text
    plan = response.json()
    assert (plan["to_version"], plan["moving"], plan["staying"], plan["ok"]) == (2, 3, 2, True)
    rows = {r["node"]["node_id"]: r for r in plan["rows"]}
    assert rows["w"]["waiting"] == 3 and rows["w"]["target"]["node_id"] == "w"
    assert rows["w"]["same_place"] is True
    assert [k["node_id"] for k in rows["w"]["kept"]] == ["coupon"]  # not issued again
    assert rows["w2"]["waiting"] == 2 and rows["w2"]["target"] is None  # gone: stays on v1
    assert {c["node_id"] for c in plan["choices"]} == {"coupon", "w", "m", "done"}

    picked = client.post(
        f"/api/journeys/{jid}/versions/1/move/dry-run", json={"mapping": {"w2": "m"}}
    ).json()
    assert (picked["moving"], picked["staying"]) == (5, 0)
    # mapped back before the coupon: the dry run says it would be issued again
    again = client.post(
        f"/api/journeys/{jid}/versions/1/move/dry-run", json={"mapping": {"w": "coupon"}}
    ).json()
    row = next(r for r in again["rows"] if r["node"]["node_id"] == "w")
    assert [a["node_id"] for a in row["again"]] == ["coupon"]


def test_bad_fields_are_named(client: TestClient, canvas_app: Any) -> None:
    jid = _two_versions(client, canvas_app, {"w": 1})
    url = f"/api/journeys/{jid}/versions/1/move/dry-run"
    unknown = client.post(url, json={"mapping": {"nope": "w"}})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "mapping.nope"
    same = client.post(url, json={"to_version": 1})
    assert same.status_code == 422 and same.json()["errors"][0]["field"] == "to_version"
    missing = client.post(url, json={"to_version": 7})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "to_version"
    assert client.post(f"/api/journeys/{jid}/versions/9/move/dry-run", json={}).status_code == 404
    assert client.post("/api/journeys/nope/versions/1/move/dry-run", json={}).status_code == 404


def test_an_invalid_mapped_node_is_named_and_apply_refused(
    client: TestClient, canvas_app: Any
) -> None:
    jid = _two_versions(client, canvas_app, {"w": 2, "w2": 1})
    body = {"mapping": {"w2": "w9", "w": "entry"}}
    plan = client.post(f"/api/journeys/{jid}/versions/1/move/dry-run", json=body).json()
    assert plan["ok"] is False
    problems = {r["node"]["node_id"]: r["problem"] for r in plan["rows"] if r["problem"]}
    assert problems == {"w": "entry", "w2": "missing"}
    assert "w9" in next(r for r in plan["rows"] if r["problem"] == "missing")["problem_text"]

    refused = client.post(f"/api/journeys/{jid}/versions/1/move", json=body)
    assert refused.status_code == 409, refused.text
    assert {e["field"] for e in refused.json()["errors"]} == {"mapping.w", "mapping.w2"}
    # nobody at a node that moves
    stay = client.post(
        f"/api/journeys/{jid}/versions/1/move", json={"mapping": {"w": "", "w2": ""}}
    )
    assert stay.status_code == 409
    # a valid plan with Temporal away: 503, and no pass stored nor logged
    assert client.post(f"/api/journeys/{jid}/versions/1/move", json={}).status_code == 503
    with Session(canvas_app.state.engine) as s:
        assert s.exec(select(JourneyVersionMove)).all() == []
        assert s.exec(select(AuditEntry).where(AuditEntry.action == "migrate")).all() == []


def test_the_dialog_on_the_version_view(client: TestClient, canvas_app: Any) -> None:
    jid = _two_versions(client, canvas_app, {"w": 3, "w2": 2})
    page = client.get(f"/journeys/{jid}/versions/1")
    assert 'id="move-waiting"' in page.text and 'id="move-dialog"' in page.text
    latest = client.get(f"/journeys/{jid}/versions/2")
    assert 'id="move-waiting"' not in latest.text  # nothing later to move to
    # the draft editor's version list links v1's move (a page of its own without htmx)
    editor = client.get(f"/journeys/{jid}/edit")
    assert f'href="/journeys/{jid}/versions/1/move"' in editor.text
    assert f'href="/journeys/{jid}/versions/2/move"' not in editor.text
    full = client.get(f"/journeys/{jid}/versions/1/move")
    assert full.status_code == 200 and "<html" in full.text and 'name="map.w"' in full.text
    dialog = client.get(f"/journeys/{jid}/versions/1/move", headers={"HX-Request": "true"})
    assert dialog.status_code == 200
    assert 'name="map.w"' in dialog.text and 'name="map.w2"' in dialog.text
    assert "Move 3 customers" in dialog.text
    bad = client.post(
        f"/journeys/{jid}/versions/1/move",
        data={"to_version": "2", "map.w": "w", "map.w2": "entry"},
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and 'data-problem="entry"' in bad.text
    zh = client.get(
        f"/journeys/{jid}/versions/1/move",
        headers={"HX-Request": "true", "Accept-Language": "zh-CN"},
    )
    assert "迁移" in zh.text and "留在 v1" in zh.text


def test_the_cli_dry_run_and_refusal(
    client: TestClient, canvas_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    jid = _two_versions(client, canvas_app, {"w": 3, "w2": 2})
    monkeypatch.setenv("DATABASE_URL", canvas_app.state.settings.database_url)
    get_settings.cache_clear()
    try:
        dry = CliRunner().invoke(cli.app, ["move-waiting", jid, "--from", "1", "--map", "w2=m"])
        refused = CliRunner().invoke(
            cli.app, ["move-waiting", jid, "--from", "1", "--map", "w2=gone", "--apply"]
        )
        bad = CliRunner().invoke(cli.app, ["move-waiting", jid, "--from", "1", "--to", "1"])
    finally:
        get_settings.cache_clear()
    assert dry.exit_code == 0, dry.output
    assert "5 move, 0 stay" in dry.output
    assert refused.exit_code == 1 and "missing" in refused.output
    assert bad.exit_code == 2 and "to_version" in bad.output

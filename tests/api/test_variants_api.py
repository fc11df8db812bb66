"""``GET /api/journeys/{id}/variants`` and the journey report page (issue 14, items 5-7):
numbers from runs, their recorded sides and orders; bad input named; charts' data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from db import crud
from db.crud import RunReport
from db.models import Customer, Order
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import create_journey

#: 10:00 on 3 November 2026 in Shanghai (the settings' default zone)
T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def split_document() -> dict[str, Any]:
    def node(nid: str, kind: str, x: int, config: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": nid,
            "kind": kind,
            "label": "",
            "position": {"x": x, "y": 0},
            "config": config,
        }

    return {
        "schema_version": 1,
        "name": "券 A/B",
        "description": "",
        "settings": {},
        "nodes": [
            node("entry", "entry", 0, {"trigger": {"type": "manual"}}),
            {
                **node(
                    "s",
                    "split",
                    300,
                    {
                        "variants": [
                            {"id": "a", "label": "发券", "weight": 50},
                            {"id": "hold", "label": "对照", "weight": 50, "holdout": True},
                        ]
                    },
                ),
                "label": "券测试",
            },
            node("x1", "exit", 600, {"goal_reached": False}),
            node("x2", "exit", 600, {"goal_reached": False}),
        ],
        "edges": [
            {"id": "e1", "source": "entry", "source_port": "next", "target": "s"},
            {"id": "e2", "source": "s", "source_port": "a", "target": "x1"},
            {"id": "e3", "source": "s", "source_port": "hold", "target": "x2"},
        ],
    }


def _seed(app: FastAPI, jid: str, sides: dict[str, tuple[int, int]]) -> None:
    """``sides``: variant -> (customers, of whom converted with a 100.0 order a day later)."""
    with Session(app.state.engine) as session:
        n = 0
        for variant, (customers, converted) in sides.items():
            for i in range(customers):
                cid = f"{variant}{i}"
                session.add(Customer(id=cid, name=cid))
                at = T0 + timedelta(hours=n % 48)
                n += 1
                if i < converted:
                    session.add(
                        Order(customer_id=cid, amount=100.0, created_at=at + timedelta(days=1))
                    )
                session.flush()
                crud.upsert_runs(
                    session=session,
                    reports=[
                        RunReport(f"journey-{jid}-{cid}", jid, 1, cid, "running", "s", at=at),
                        RunReport(
                            f"journey-{jid}-{cid}",
                            jid,
                            1,
                            cid,
                            "exited",
                            "x1",
                            exit_reason="exit",
                            at=at,
                            variants=(("s", variant),),
                        ),
                    ],
                )
        session.commit()


def _published(client: TestClient) -> str:
    jid = create_journey(client, split_document())
    assert client.post(f"/api/journeys/{jid}/publish").status_code == 200
    return jid


def test_variants_with_lift(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _published(client)
    # a: 30 of 200 converted; holdout: 8 of 100 (the hand-computed case of tests/services)
    _seed(canvas_app, jid, {"a": (200, 30), "hold": (100, 8)})
    got = client.get(f"/api/journeys/{jid}/variants?version=1&from=2026-11-01&to=2026-11-30")
    assert got.status_code == 200, got.text
    body = got.json()
    (split,) = body["splits"]
    assert (split["node_id"], split["label"], split["baseline"]) == ("s", "券测试", "hold")
    a, hold = split["variants"]
    assert (a["entered"], a["conversions"], a["conversion_rate"]) == (200, 30, 0.15)
    assert (a["revenue"], a["revenue_per_customer"]) == (3000.0, 15.0)
    assert (hold["entered"], hold["conversions"], hold["holdout"]) == (100, 8, True)
    (lift,) = split["lifts"]
    assert lift["status"] == "ok" and abs(lift["lift"] - 0.07) < 1e-9
    assert abs(lift["ci_low"] + 0.0026378) < 1e-6 and abs(lift["ci_high"] - 0.1426378) < 1e-6
    assert abs(lift["p_value"] - 0.05892) < 1e-5 and lift["significant"] is False
    assert sum(d["entries"] for d in body["days"]) == 300
    assert sum(d["conversions"] for d in body["days"]) == 38
    assert body["window_days"] == 14 and body["min_customers"] == 100
    assert body["goal_event_type"] is None  # no goal: orders convert

    # the page: the table, the charts' data, and the link from the editor
    page = client.get(f"/journeys/{jid}/results?version=1&from=2026-11-01&to=2026-11-30")
    assert page.status_code == 200
    assert 'data-echart="daily"' in page.text and 'data-echart="lift"' in page.text
    assert "/vendor/echarts/echarts.min.js" in page.text
    found = re.search(
        r'data-echart="lift">.*?<script type="application/json">(.*?)</script>', page.text, re.S
    )
    assert found is not None
    chart = json.loads(found.group(1))
    assert chart["variants"] == ["发券"] and chart["lift"] == [7.0]
    assert (chart["low"], chart["high"]) == ([-0.26], [14.26])
    editor = client.get(f"/journeys/{jid}/edit")
    assert f'href="/journeys/{jid}/results"' in editor.text


def test_not_enough_data_and_an_empty_period(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _published(client)
    _seed(canvas_app, jid, {"a": (120, 10), "hold": (40, 2)})
    body = client.get(f"/api/journeys/{jid}/variants?from=2026-11-01&to=2026-11-30").json()
    lift = body["splits"][0]["lifts"][0]
    assert lift["status"] == "not_enough_data" and lift["lift"] is None
    page = client.get(
        f"/journeys/{jid}/results?from=2026-11-01&to=2026-11-30", headers={"Accept-Language": "zh"}
    )
    assert "数据还不够" in page.text
    empty = client.get(f"/api/journeys/{jid}/variants?from=2026-01-01&to=2026-01-31")
    assert empty.status_code == 200
    assert empty.json()["days"] == []
    assert [v["entered"] for v in empty.json()["splits"][0]["variants"]] == [0, 0]
    page = client.get(f"/journeys/{jid}/results?from=2026-01-01&to=2026-01-31")
    assert "No customers entered in this period." in page.text


def test_bad_input_is_named(client: TestClient) -> None:
    jid = _published(client)
    url = f"/api/journeys/{jid}/variants"
    after = client.get(f"{url}?from=2026-11-30&to=2026-11-01")
    assert after.status_code == 422
    assert [e["field"] for e in after.json()["errors"]] == ["query.from"]
    wide = client.get(f"{url}?from=2025-01-01&to=2026-11-01")
    assert wide.status_code == 422
    assert [e["field"] for e in wide.json()["errors"]] == ["query.to"]
    assert client.get(f"{url}?from=yesterday").status_code == 422
    assert client.get(f"{url}?version=9").status_code == 404
    assert client.get("/api/journeys/nope/variants").status_code == 404
    page = client.get(f"/journeys/{jid}/results?from=2026-11-30&to=2026-11-01")
    assert page.status_code == 422 and "The first day is after the last day." in page.text
    assert client.get(f"/journeys/{jid}/results?version=9").status_code == 404


def test_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    op = paths["/api/journeys/{journey_id}/variants"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"version", "from", "to"}


def test_far_days_are_named_not_a_crash(client: TestClient) -> None:
    jid = _published(client)
    for query, field in (("to=9999-12-31", "query.to"), ("from=0001-01-01", "query.from")):
        got = client.get(f"/api/journeys/{jid}/variants?{query}")
        assert got.status_code == 422, got.text
        assert [e["field"] for e in got.json()["errors"]] == [field]
    page = client.get(f"/journeys/{jid}/results?to=9999-12-31")
    assert page.status_code == 422 and "Choose a day from 2000-01-01 to 2199-12-31." in page.text

"""``GET /api/journeys/{id}/results`` and ``.csv`` (issue 14, items 2 and 7): the
hand-computed chain of tests/results/fixtures.py through HTTP, bad input named."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui.routes.journey_results import path_order
from services.results import NodeResult, PortResult
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.results.fixtures import seed_small_chain

MARCH = "from=2026-03-01&to=2026-03-31"


def _seeded(app: FastAPI) -> str:
    with Session(app.state.engine) as session:
        return seed_small_chain(session)


def test_the_chain_as_json(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _seeded(canvas_app)
    got = client.get(f"/api/journeys/{jid}/results?version=1&{MARCH}")
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["entered"], body["conversions"], body["revenue"], body["has_data"]) == (
        4,
        2,
        420.0,
        True,
    )
    assert body["goal"] == {
        "event_type": "purchase",
        "window_days": 7.0,
        "value_property": "amount",
    }
    wfe = next(n for n in body["nodes"] if n["node_id"] == "wfe")
    assert (wfe["entered"], wfe["waiting"], wfe["passes"]) == (4, 1, 3)
    assert wfe["ports"] == [
        {"port": "matched", "count": 1, "share": 25.0},
        {"port": "timeout", "count": 2, "share": 50.0},
    ]
    done = next(n for n in body["nodes"] if n["node_id"] == "done")
    assert (done["ended"], done["converted"]) == (2, 1)
    # all versions, the same numbers
    assert client.get(f"/api/journeys/{jid}/results?{MARCH}").json()["conversions"] == 2


def test_the_chain_as_csv_with_a_bom(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _seeded(canvas_app)
    got = client.get(f"/api/journeys/{jid}/results.csv?version=1&{MARCH}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert f"results-{jid}-2026-03-01-2026-03-31.csv" in got.headers["content-disposition"]
    assert got.content.startswith("\ufeff".encode())
    assert "wfe,等到店,wait_for_event,4,1,3,0,0,matched,1,25.0" in got.text.splitlines()


def test_no_data_is_zeros(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _seeded(canvas_app)
    body = client.get(f"/api/journeys/{jid}/results?from=2025-01-01&to=2025-01-31").json()
    assert (body["entered"], body["conversions"], body["revenue"], body["has_data"]) == (
        0,
        0,
        0.0,
        False,
    )
    assert all(n["entered"] == 0 for n in body["nodes"])


def test_bad_input_is_named(client: TestClient, canvas_app: FastAPI) -> None:
    jid = _seeded(canvas_app)
    for suffix in ("", ".csv"):
        url = f"/api/journeys/{jid}/results{suffix}"
        after = client.get(f"{url}?from=2026-03-31&to=2026-03-01")
        assert after.status_code == 422
        assert [e["field"] for e in after.json()["errors"]] == ["query.from"]
        wide = client.get(f"{url}?from=2025-01-01&to=2026-03-01")
        assert wide.status_code == 422
        assert [e["field"] for e in wide.json()["errors"]] == ["query.to"]
        far = client.get(f"{url}?to=9999-12-31")
        assert far.status_code == 422
        assert [e["field"] for e in far.json()["errors"]] == ["query.to"]
        assert client.get(f"{url}?from=yesterday").status_code == 422
        assert client.get(f"{url}?version=9").status_code == 404
        assert client.get(f"{url}?version=0").status_code == 422
        assert client.get(f"/api/journeys/nope/results{suffix}").status_code == 404


def test_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    op = paths["/api/journeys/{journey_id}/results"]["get"]
    assert {p["name"] for p in op["parameters"]} >= {"version", "from", "to"}
    assert (
        "text/csv"
        in paths["/api/journeys/{journey_id}/results.csv"]["get"]["responses"]["200"]["content"]
    )


def _chart(html: str, kind: str) -> dict[str, Any]:
    found = re.search(
        rf'data-echart="{kind}">.*?<script type="application/json">(.*?)</script>', html, re.S
    )
    assert found is not None, f"no {kind} chart on the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


def test_the_report_page_has_the_steps_in_path_order(
    client: TestClient, canvas_app: FastAPI
) -> None:
    """The funnel of the small chain (see its table): entry first, each branch of the wait
    followed to its end (matched → coupon → goal before timeout → done), step labels (the
    unlabelled coupon step by its kind's name, never its id), the conversions last."""
    jid = _seeded(canvas_app)
    url = f"/journeys/{jid}/results?version=1&{MARCH}"
    zh = _chart(client.get(url, headers={"Accept-Language": "zh-CN"}).text, "funnel")
    assert zh["steps"] == ["首购", "等到店", "发优惠券", "转化", "结束", "已转化"]
    assert zh["values"] == [4, 4, 1, 1, 2, 2]
    assert zh["labels"] == ["4 · 100%", "4 · 100%", "1 · 25%", "1 · 25%", "2 · 50%", "2 · 50%"]
    assert zh["kinds"] == ["step", "step", "step", "exit", "exit", "conversion"]
    assert zh["tips"][1] == ["4 人到达此步骤（占进入人数的 100%）", "1 人正在此等待"]
    assert zh["tips"][-1] == ["2 人转化（占进入人数的 50%）"]
    en = _chart(client.get(url, headers={"Accept-Language": "en"}).text, "funnel")
    assert en["steps"][2] == "Send coupon" and en["steps"][-1] == "Converted"
    assert en["tips"][2] == ["1 reached this step (25% of entries)"]
    # a period nobody entered: the page's empty message, no chart frame
    empty = client.get(f"/journeys/{jid}/results?from=2026-01-01&to=2026-01-31")
    assert 'data-echart="funnel"' not in empty.text
    assert empty.text.count("No customers entered in this period.") == 2


def test_path_order_follows_ports_not_edge_order() -> None:
    """Edges listed in any order: the ports' order decides which side comes first; a step
    after a merge comes once; a step no path reaches (an older version's) comes last."""

    def node(node_id: str, kind: str, *ports: str) -> NodeResult:
        return NodeResult(
            node_id, kind, node_id, 1, 0, 1, 0, 0, tuple(PortResult(p, 1, 100.0) for p in ports)
        )

    nodes = [
        node("in", "entry", "next"),
        node("b", "branch", "yes", "no"),
        node("no_side", "wait", "next"),
        node("yes_side", "send_coupon", "next"),
        node("out", "exit"),
        node("old", "wait", "next"),
    ]
    doc = {
        "edges": [
            {"source": "b", "source_port": "no", "target": "no_side"},
            {"source": "no_side", "target": "out"},
            {"source": "yes_side", "target": "out"},
            {"source": "b", "source_port": "yes", "target": "yes_side"},
            {"source": "in", "source_port": "next", "target": "b"},
        ]
    }
    assert path_order(nodes, [doc]) == ["in", "b", "yes_side", "out", "no_side", "old"]

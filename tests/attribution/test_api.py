"""``GET /api/reports/attribution`` (+ ``.csv``), ``/api/reports/guide-results`` and the
pages: numbers of the hand-computed chain, scopes per role, bad input (issue 14 item 7)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from services.accounts import create_user
from settings import Settings
from tests.attribution import chain

MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


@pytest.fixture
def app(engine: Engine, db_url: str) -> Iterator[Any]:
    with Session(engine) as s:
        chain.build(s)
        for username, role, guide in (
            ("hq", "hq", None),
            ("manager", "store_manager", "G2"),
            ("g1", "guide", "G1"),
            ("g3", "guide", "G3"),
        ):
            create_user(
                session=s, username=username, password="pw-" + username, role=role, guide_id=guide
            )
    yield create_app(Settings(database_url=db_url, secret_key="s"), temporal=None, engine=engine)


def client_of(app: Any, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    response = client.post("/login", data={"username": username, "password": "pw-" + username})
    assert response.status_code == 303, response.text
    return client


def _rows(body: dict[str, Any]) -> dict[str, tuple[float, float]]:
    return {
        r["id"]: (r["store_attributed"]["revenue"], r["guide_attributed"]["revenue"])
        for r in body["rows"]
    }


def test_hq_reads_the_chain(app: Any) -> None:
    hq = client_of(app, "hq")
    body = hq.get("/api/reports/attribution", params={**MARCH, "group_by": "store"}).json()
    assert (body["from"], body["to"], body["scope"]) == ("2026-03-01", "2026-03-31", "chain")
    assert _rows(body) == {"S1": (130.0, 320.0), "S2": (0.0, 300.0), "S3": (65.0, 0.0)}
    assert body["total"]["total"] == {"orders": 8, "revenue": 815.0}
    assert body["unattributed"] == {"orders": 1, "revenue": 11.0}
    assert body["rule"] == {
        "in_store": "store",
        "online": "bound_guide",
        "touch": "last",
        "window_days": 14,
    }
    journeys = {(j["journey_id"], j["version"]): j["revenue"] for j in body["journeys"]}
    assert journeys == {
        ("J1", None): 130.0,
        ("J1", 1): 130.0,
        ("J2", None): 250.0,
        ("J2", 1): 250.0,
    }
    regions = hq.get("/api/reports/attribution", params={**MARCH, "group_by": "region"}).json()
    assert _rows(regions) == {"R1": (130.0, 620.0), "R2": (65.0, 0.0)}
    guides = hq.get("/api/reports/attribution", params={**MARCH, "group_by": "guide"}).json()
    assert _rows(guides) == {"G1": (0.0, 270.0), "G2": (0.0, 50.0), "G3": (0.0, 300.0)}
    csv = hq.get("/api/reports/attribution.csv", params=MARCH)
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode())
    assert "attribution-2026-03-01-2026-03-31.csv" in csv.headers["content-disposition"]


def test_manager_and_guides_see_their_own(app: Any) -> None:
    manager = client_of(app, "manager")
    body = manager.get("/api/reports/attribution", params={**MARCH, "group_by": "guide"}).json()
    assert body["scope"] == "store"
    assert _rows(body) == {"G1": (0.0, 270.0), "G2": (0.0, 50.0)}
    assert body["total"]["total"]["revenue"] == 450.0
    g1 = client_of(app, "g1")
    body = g1.get("/api/reports/attribution", params={**MARCH, "group_by": "store"}).json()
    assert body["scope"] == "guide"
    assert _rows(body) == {"S1": (0.0, 270.0)}  # their own credit, under their store
    assert body["unattributed"] == {"orders": 0, "revenue": 0.0}
    g3 = client_of(app, "g3")
    body = g3.get("/api/reports/attribution", params={**MARCH, "group_by": "guide"}).json()
    assert _rows(body) == {"G3": (0.0, 300.0)}
    # the guide's month: their own numbers only, whatever they ask
    mine = g1.get("/api/reports/guide-results").json()
    assert [g["guide_id"] for g in mine["guides"]] == ["G1"] and mine["scope"] == "guide"
    store = manager.get("/api/reports/guide-results").json()
    assert sorted(g["guide_id"] for g in store["guides"]) == ["G1", "G2"]
    everyone = client_of(app, "hq").get("/api/reports/guide-results").json()
    assert sorted(g["guide_id"] for g in everyone["guides"]) == ["G1", "G2", "G3", "G4"]
    # pages: each role opens them in its scope
    page = g1.get("/reports/attribution", params=MARCH)
    assert page.status_code == 200 and 'data-row="guide-G1"' in page.text
    assert 'data-row="guide-G2"' not in page.text and 'data-row="store-S3"' not in page.text
    assert g1.get("/workbench/results").status_code == 200
    assert client_of(app, "hq").get("/workbench/results").status_code == 200


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"from": "2026-03-10", "to": "2026-03-01"}, "query.from", "晚于“结束”"),
        ({"from": "2025-01-01", "to": "2026-03-01"}, "query.to", "超过 400 天"),
        ({"from": "2026-02-30"}, "query.from", "不是日期"),
        ({"group_by": "city"}, "query.group_by", ""),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    app: Any, params: dict[str, str], field: str, words: str
) -> None:
    hq = client_of(app, "hq")
    response = hq.get("/api/reports/attribution", params=params)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == [field]
    if "group_by" not in params:
        assert hq.get("/api/reports/attribution.csv", params=params).status_code == 422
        page = hq.get("/reports/attribution", params=params)
        assert page.status_code == 422
        assert f'data-error-field="{field.split(".")[1]}"' in page.text
        zh = hq.get("/reports/attribution", params=params, headers={"Accept-Language": "zh-CN"})
        assert words in zh.text


def test_a_period_without_sales_is_zeros(app: Any) -> None:
    hq = client_of(app, "hq")
    body = hq.get("/api/reports/attribution", params={"from": "2024-01-01", "to": "2024-01-31"})
    assert body.status_code == 200
    data = body.json()
    assert data["rows"] == [] and data["journeys"] == []
    assert data["total"]["total"] == {"orders": 0, "revenue": 0.0}
    page = hq.get("/reports/attribution", params={"from": "2024-01-01", "to": "2024-01-31"})
    assert page.status_code == 200 and 'data-empty="org"' in page.text


def test_the_schema_documents_the_report(app: Any) -> None:
    schema = client_of(app, "hq").get("/openapi.json").json()
    op = schema["paths"]["/api/reports/attribution"]["get"]
    assert {p["name"] for p in op["parameters"]} == {"from", "to", "group_by"}
    assert "422" in op["responses"]
    assert "AttributionReport" in schema["components"]["schemas"]
    assert "/api/reports/guide-results" in schema["paths"]


def _chart(html: str) -> dict[str, Any] | None:
    found = re.search(
        r'data-echart="attribution">.*?<script type="application/json">(.*?)</script>', html, re.S
    )
    return json.loads(found.group(1)) if found else None


def test_the_page_chart_follows_group_by_and_scope(app: Any) -> None:
    """The chart's bars are the table's rows of the chosen level, biggest first, with the
    store- and guide-attributed sales side by side; each role sees only its own rows."""
    hq = client_of(app, "hq")
    page = hq.get("/reports/attribution", params=MARCH, headers={"Accept-Language": "zh-CN"})
    chart = _chart(page.text)  # HQ: by store unless asked
    assert chart is not None
    assert chart["names"] == ["南京西路店", "徐家汇店", "天河店"]
    assert (chart["store"], chart["guide"]) == ([130.0, 0.0, 65.0], [320.0, 300.0, 0.0])
    assert chart["totals"] == ["450.00", "300.00", "65.00"]
    assert chart["series"] == ["归门店", "归导购"]
    assert chart["title"] == "各门店销售额（前 3）"
    en = {"Accept-Language": "en"}
    by_region = hq.get("/reports/attribution", params={**MARCH, "group_by": "region"}, headers=en)
    regions = _chart(by_region.text)
    assert regions is not None
    assert (regions["names"], regions["store"]) == (["华东", "华南"], [130.0, 65.0])
    assert regions["title"] == "Sales by region (top 2)"
    # an htmx swap of the report carries the chart too
    swapped = hq.get(
        "/reports/attribution",
        params={**MARCH, "group_by": "guide"},
        headers={"HX-Request": "true"},
    )
    guides = _chart(swapped.text)
    assert guides is not None and "<html" not in swapped.text
    assert guides["names"] == ["导购G3", "导购G1", "导购G2"]
    assert guides["guide"] == [300.0, 270.0, 50.0]
    # a store manager: their store's guides; a guide: their own credit
    manager = _chart(client_of(app, "manager").get("/reports/attribution", params=MARCH).text)
    assert manager is not None
    assert (manager["names"], manager["guide"]) == (["导购G1", "导购G2"], [270.0, 50.0])
    g1 = client_of(app, "g1")
    mine = _chart(g1.get("/reports/attribution", params=MARCH).text)
    assert mine is not None and (mine["names"], mine["guide"]) == (["导购G1"], [270.0])
    by_store = _chart(g1.get("/reports/attribution", params={**MARCH, "group_by": "store"}).text)
    assert by_store is not None
    assert (by_store["names"], by_store["store"], by_store["guide"]) == (
        ["南京西路店"],
        [0.0],
        [270.0],
    )
    # no sales: the table's empty row, no chart frame; a bad level is named
    empty = hq.get("/reports/attribution", params={"from": "2024-01-01", "to": "2024-01-31"})
    assert 'data-empty="org"' in empty.text and 'data-echart="attribution"' not in empty.text
    bad = hq.get("/reports/attribution", params={**MARCH, "group_by": "city"}, headers=en)
    assert bad.status_code == 422 and 'data-error-field="group_by"' in bad.text
    assert "Chart by region, store or guide." in bad.text

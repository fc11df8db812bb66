"""``/api/journeys/{id}/backtest`` and the backtest pages (issue 17 item 1): the background
job's status and report, bad input named by field, a period with nobody in it explained."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from db.models import Journey
from services import backtest
from services.backtest import BacktestSettings
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import create_journey
from tests.services.backtest_chain import V1, seed


def _inline(engine: Any, backtest_id: int, timezone: str) -> None:
    backtest.run_backtest(
        engine=engine,
        backtest_id=backtest_id,
        timezone=timezone,
        settings=BacktestSettings(workers=0),
    )


@pytest.fixture
def chain(canvas_app: FastAPI) -> str:
    canvas_app.state.backtest_runner = _inline
    with Session(canvas_app.state.engine) as session:
        return seed(session)


MARCH = {"from": "2026-03-01", "to": "2026-03-31"}


def test_post_runs_in_the_background_and_get_gives_the_report(
    client: TestClient, chain: str
) -> None:
    response = client.post(f"/api/journeys/{chain}/backtest", json=MARCH)
    assert response.status_code == 202, response.text
    started = response.json()
    assert started["status"] in ("queued", "running", "done")
    assert started["total"] == 3 and started["candidate"] == "draft"
    latest = client.get(f"/api/journeys/{chain}/backtest").json()
    assert latest["id"] == started["id"] and latest["status"] == "done"
    assert latest["done"] == 3
    result = latest["result"]
    # history reaches today: every run finishes (no cut), coupons ¥20 once vs ¥30 twice
    assert (result["baseline"]["coupons"], result["candidate"]["coupons"]) == (1, 2)
    assert result["diff"]["coupon_value"] == 40
    assert result["candidate"]["beyond_history"] == 0
    one = client.get(f"/api/journeys/{chain}/backtest/{started['id']}")
    assert one.status_code == 200 and one.json()["result"] == result
    page = client.get(started["url"], headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'data-echart="compare"' in page.text and 'data-kpi="coupons"' in page.text
    assert "Customers per step and port" in page.text


def test_a_version_against_itself_shows_no_difference(client: TestClient, chain: str) -> None:
    response = client.post(f"/api/journeys/{chain}/backtest", json={**MARCH, "candidate": 1})
    assert response.status_code == 202, response.text
    result = client.get(f"/api/journeys/{chain}/backtest").json()["result"]
    assert backtest.is_zero(result["diff"])
    page = client.get(response.json()["url"], headers={"Accept-Language": "en"})
    assert "data-zero" in page.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"since_days": 0}, "since_days"),
        ({"since_days": 400}, "since_days"),
        ({"from": "2026-03-09", "to": "2026-03-01"}, "to"),
        ({**MARCH, "candidate": 9}, "candidate"),
        ({**MARCH, "candidate": "latest"}, "candidate"),
        ({**MARCH, "baseline": 4}, "baseline"),
        ({**MARCH, "source": "all"}, "source"),
        ({**MARCH, "source": "segment"}, "segment_id"),
    ],
)
def test_bad_input_names_the_field(
    client: TestClient, chain: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(f"/api/journeys/{chain}/backtest", json=body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


def test_a_period_nobody_entered_is_explained(client: TestClient, chain: str) -> None:
    response = client.post(
        f"/api/journeys/{chain}/backtest",
        json={"from": "2026-05-01", "to": "2026-05-31"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    (error,) = response.json()["errors"]
    assert error["field"] == "from"
    assert "first customer entered on 2026-03-02" in error["msg"]
    zh = client.post(
        f"/api/journeys/{chain}/backtest",
        json={"from": "2026-05-01", "to": "2026-05-31"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert "2026-03-02" in zh.json()["errors"][0]["msg"]
    assert "首位客户" in zh.json()["errors"][0]["msg"]
    # the page's form says it too, in place
    form = client.post(
        f"/journeys/{chain}/backtest",
        data={"candidate": "draft", "since_days": "30", "from": "2026-05-01", "to": "2026-05-31"},
        headers={"HX-Request": "true", "Accept-Language": "en"},
    )
    assert form.status_code == 422
    assert "Choose a period that includes it" in form.text


def test_unknown_journey_no_live_version_and_invalid_draft(
    client: TestClient, canvas_app: FastAPI, chain: str
) -> None:
    assert client.post("/api/journeys/nope/backtest", json={}).status_code == 404
    assert client.get(f"/api/journeys/{create_journey(client)}/backtest").status_code == 404
    never_published = create_journey(client)
    response = client.post(f"/api/journeys/{never_published}/backtest", json={})
    assert response.status_code == 409, response.text
    broken = {**V1, "edges": V1["edges"][:1]}
    with Session(canvas_app.state.engine) as session:
        journey = session.get(Journey, chain)
        assert journey is not None
        journey.draft_document = broken
        session.add(journey)
        session.commit()
    response = client.post(f"/api/journeys/{chain}/backtest", json=MARCH)
    assert response.status_code == 422
    assert response.json()["diagnostics"]


def test_the_form_starts_a_backtest_and_its_page_shows_it(client: TestClient, chain: str) -> None:
    response = client.post(
        f"/journeys/{chain}/backtest",
        data={"candidate": "draft", "since_days": "30", "from": "2026-03-01", "to": "2026-03-31"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 204, response.text
    url = response.headers["HX-Redirect"]
    page = client.get(url, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "回测" in page.text
    # a poll of a finished backtest reloads the page (the report replaces the progress)
    poll = client.get(url, headers={"HX-Request": "true"})
    assert poll.status_code == 204 and poll.headers["HX-Refresh"] == "true"
    editor = client.get(f"/journeys/{chain}/edit")
    assert 'id="backtest-link"' in editor.text


def test_openapi_documents_the_backtest(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/journeys/{journey_id}/backtest"]
    assert "get" in paths["/api/journeys/{journey_id}/backtest/{backtest_id}"]

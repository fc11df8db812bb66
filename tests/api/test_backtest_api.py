"""``/api/journeys/{id}/backtest`` and the backtest pages (issue 17 item 1): the background
job's status and report, bad input named by field, a period with nobody in it explained."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from db.models import Journey, utcnow
from db.models.backtests import JourneyBacktest
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


def test_a_backtest_a_restart_cut_off_says_so_and_runs_again(
    client: TestClient, canvas_app: FastAPI, chain: str
) -> None:
    """The reconciler marks a backtest whose process stopped interrupted (its lease
    lapsed): the page stops polling, says why and offers "Run again" (same question)."""
    canvas_app.state.backtest_runner = lambda *_args: None  # the process "dies" at once
    started = client.post(f"/api/journeys/{chain}/backtest", json={**MARCH, "candidate": 1})
    assert started.status_code == 202, started.text
    old = started.json()
    assert (old["status"], old["interrupted"]) == ("queued", False)
    with Session(canvas_app.state.engine) as session:
        row = session.get(JourneyBacktest, old["id"])
        assert row is not None and row.lease_until is not None  # leased from the start
        row.lease_until = utcnow() - timedelta(seconds=1)
        session.add(row)
        session.commit()
    assert backtest.interrupt_orphaned(engine=canvas_app.state.engine) == [old["id"]]
    got = client.get(old["url"].replace("/journeys/", "/api/journeys/")).json()
    assert (got["status"], got["error"], got["interrupted"]) == (
        "failed",
        backtest.INTERRUPTED,
        True,
    )
    poll = client.get(old["url"], headers={"HX-Request": "true"})
    assert poll.status_code == 204 and poll.headers["HX-Refresh"] == "true"  # no more spinning
    page = client.get(old["url"])
    assert "data-interrupted" in page.text and "interrupted by a restart" in page.text
    assert 'id="backtest-again"' in page.text and 'hx-trigger="every 1s"' not in page.text
    zh = client.get(old["url"], headers={"Accept-Language": "zh-CN"})
    assert "重新运行" in zh.text and "应用重启时中断" in zh.text

    canvas_app.state.backtest_runner = _inline
    again = client.post(f"{old['url']}/again", headers={"HX-Request": "true"})
    assert again.status_code == 204, again.text
    new_url = again.headers["HX-Redirect"]
    assert new_url != old["url"]
    new = client.get(new_url.replace("/journeys/", "/api/journeys/")).json()
    assert (new["status"], new["candidate"], new["baseline_version"]) == ("done", "v1", 1)
    assert (new["period_start"], new["period_end"], new["total"]) == (
        old["period_start"],
        old["period_end"],
        old["total"],
    )
    assert backtest.is_zero(new["result"]["diff"])
    api = client.post(f"/api/journeys/{chain}/backtest/{old['id']}/again")
    assert api.status_code == 202 and api.json()["status"] == "done"
    assert client.post(f"/api/journeys/{chain}/backtest/999/again").status_code == 404

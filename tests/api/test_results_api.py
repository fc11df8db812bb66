"""``GET /api/journeys/{id}/results`` and ``.csv`` (issue 14, items 2 and 7): the
hand-computed chain of tests/results/fixtures.py through HTTP, bad input named."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

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

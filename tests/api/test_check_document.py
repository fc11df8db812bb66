"""POST /api/journeys/{id}/check: the editor's live check of the document on the canvas,
compiled without being saved."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import create_journey, linear_document


def test_check_compiles_the_posted_document_without_saving_it(client: TestClient) -> None:
    jid = create_journey(client)
    saved = client.get(f"/api/journeys/{jid}").json()["document"]
    edited = linear_document()
    edited["edges"] = edited["edges"][:2]  # the coupon leads nowhere now
    answer = client.post(f"/api/journeys/{jid}/check", json=edited)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ok"] is False
    missing = next(d for d in body["diagnostics"] if d["code"] == "MISSING_EDGE")
    assert missing["node_ids"] == ["coupon"] and missing["message"].startswith("An output of")
    # the saved draft is untouched, and still fine
    assert client.get(f"/api/journeys/{jid}").json()["document"] == saved
    assert client.post(f"/api/journeys/{jid}/validate").json() == {"ok": True, "diagnostics": []}
    assert client.post(f"/api/journeys/{jid}/check", json=saved).json()["ok"] is True


def test_check_refuses_what_is_not_a_journey_of_ours(client: TestClient) -> None:
    jid = create_journey(client)
    assert client.post("/api/journeys/nope/check", json=linear_document()).status_code == 404
    assert client.post(f"/api/journeys/{jid}/check", json=[1, 2]).status_code == 422
    garbage = client.post(f"/api/journeys/{jid}/check", json={"nodes": "x"}).json()
    assert garbage["ok"] is False and garbage["diagnostics"][0]["code"] == "INVALID_DOCUMENT"
    big = linear_document()
    big["description"] = "x" * 300_000
    assert client.post(f"/api/journeys/{jid}/check", json=big).status_code == 413
    # the CSRF rule holds as for every other write
    client.headers.pop("X-CSRF-Token")
    assert client.post(f"/api/journeys/{jid}/check", json=linear_document()).status_code == 403

"""CSRF on state-changing requests; user text escaped in pages."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.canvas_ui.harness import create_journey, linear_document


def test_post_without_csrf_header_is_refused(client: TestClient) -> None:
    token = client.headers.pop("X-CSRF-Token")
    response = client.post("/api/journeys", json={"name": "x"})
    assert response.status_code == 403
    assert "X-CSRF-Token" in response.json()["detail"]
    assert (
        client.post(
            "/api/journeys", json={"name": "x"}, headers={"X-CSRF-Token": "forged"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/journeys", json={"name": "x"}, headers={"X-CSRF-Token": token}
        ).status_code
        == 201
    )


def test_put_and_htmx_posts_need_the_token(client: TestClient) -> None:
    jid = create_journey(client)
    token = client.headers.pop("X-CSRF-Token")
    assert client.put(f"/api/journeys/{jid}", json=linear_document()).status_code == 403
    assert client.post(f"/journeys/{jid}/nodes/exit/panel", data={}).status_code == 403
    assert client.post("/lang", data={"lang": "en"}).status_code == 403
    client.headers["X-CSRF-Token"] = token
    assert client.put(f"/api/journeys/{jid}", json=linear_document()).status_code == 200


def test_token_is_rendered_for_htmx(client: TestClient) -> None:
    page = client.get("/journeys").text
    token = client.cookies["journeys_csrf"]
    assert f'hx-headers=\'{{"X-CSRF-Token": "{token}"}}\'' in page
    assert f'<meta name="csrf-token" content="{token}">' in page


def test_user_text_is_escaped_on_pages(client: TestClient) -> None:
    evil = "<img src=x onerror=alert(1)>"
    doc = linear_document(name=evil)
    doc["nodes"][1]["label"] = evil
    jid = create_journey(client, doc)
    for url in ("/journeys", f"/journeys/{jid}/edit"):
        html = client.get(url).text
        assert evil not in html, url
    editor = client.get(f"/journeys/{jid}/edit").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in editor
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in editor  # inside the JSON boot blob

"""Pages answer the full page to a browser and only the named block to htmx."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.canvas_ui.harness import create_journey

HX = {"HX-Request": "true"}


@pytest.mark.parametrize(
    ("url", "block_marker"),
    [
        ("/journeys", 'id="journey-table"'),
        ("/journeys?q=nothing-matches", 'id="journey-table"'),
        ("/customers?q=C0", 'id="customer-results"'),
    ],
)
def test_page_full_vs_block(client: TestClient, url: str, block_marker: str) -> None:
    full = client.get(url)
    assert full.status_code == 200
    assert full.text.lstrip().startswith("<!doctype html>")
    assert block_marker in full.text and 'class="topbar"' in full.text

    fragment = client.get(url, headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith("<section")
    assert block_marker in fragment.text
    assert "<html" not in fragment.text and 'class="topbar"' not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"


def test_history_restore_gets_the_full_page(client: TestClient) -> None:
    response = client.get("/journeys", headers={**HX, "HX-History-Restore-Request": "true"})
    assert "<html" in response.text


def test_journey_table_lists_counts_and_filters(client: TestClient) -> None:
    jid = create_journey(client)
    page = client.get("/journeys", headers=HX).text
    assert f'href="/journeys/{jid}/edit"' in page and "新客二回" in page
    assert client.get("/journeys?status=live", headers=HX).text.count("/edit") == 0
    assert "新客二回" in client.get("/journeys?q=新客", headers=HX).text


def test_empty_states(client: TestClient) -> None:
    assert 'class="empty"' in client.get("/journeys", headers=HX).text
    assert 'class="card empty"' in client.get("/customers", headers=HX).text


def test_versions_block(client: TestClient) -> None:
    jid = create_journey(client)
    fragment = client.get(f"/journeys/{jid}/versions", headers=HX).text
    assert fragment.lstrip().startswith('<section id="versions"')
    assert client.post(f"/api/journeys/{jid}/publish").status_code == 200
    fragment = client.get(f"/journeys/{jid}/versions", headers=HX).text
    assert f'href="/journeys/{jid}/versions/1"' in fragment
    assert "<html" in client.get(f"/journeys/{jid}/versions").text


def test_panel_block_vs_editor_with_panel_open(client: TestClient) -> None:
    jid = create_journey(client)
    url = f"/journeys/{jid}/nodes/wait/panel?kind=wait"
    fragment = client.get(url, headers=HX)
    assert fragment.status_code == 200
    assert fragment.text.lstrip().startswith('<div id="panel"')
    assert 'name="config.until.duration.amount"' in fragment.text
    full = client.get(url)
    assert "<html" in full.text and 'id="canvas"' in full.text
    assert 'name="config.until.duration.amount"' in full.text


def test_editor_and_read_only_version(client: TestClient) -> None:
    jid = create_journey(client)
    editor = client.get(f"/journeys/{jid}/edit").text
    assert 'id="canvas-boot"' in editor and 'class="palette"' in editor
    client.post(f"/api/journeys/{jid}/publish")
    readonly = client.get(f"/journeys/{jid}/versions/1").text
    assert 'class="palette"' not in readonly and '"readonly": true' in readonly
    assert client.get(f"/journeys/{jid}/versions/9").status_code == 404


def test_unknown_page_renders_error_page(client: TestClient) -> None:
    response = client.get("/journeys/nope/edit", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "<html" in response.text and "nope" in response.text

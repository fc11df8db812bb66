"""The events API's 401 says what was wrong (no key, a wrong key, no key expected), in
English unless the caller asks for Chinese (issue 18, item 21)."""

# ruff: noqa: F811  (pytest fixtures imported from tests.tasks.conftest)

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from canvas_ui.app import create_app
from settings import Settings
from tests.api.test_permissions import API_KEY, app  # noqa: F401 - fixture
from tests.tasks.conftest import people, shop  # noqa: F401 - fixtures

EVENT = {
    "event_id": "e1",
    "customer_id": "C1",
    "type": "browse",
    "occurred_at": "2026-03-02T02:00:00Z",
}


def test_missing_and_wrong_keys_are_told_apart_in_english(app: Any) -> None:
    machine = TestClient(app)
    missing = machine.post("/api/events", json=EVENT)
    assert missing.status_code == 401
    assert missing.json()["detail"] == (
        "The X-API-Key header is missing: send the events API key in it, or sign in."
    )
    wrong = machine.post("/api/events", json=EVENT, headers={"X-API-Key": "wrong"})
    assert wrong.status_code == 401
    assert wrong.json()["detail"] == (
        "The X-API-Key header does not match the events API key of this server."
    )
    # the other API errors read English too when no language is asked for
    bad = machine.post("/api/events", json=[], headers={"X-API-Key": API_KEY})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("Send between")


def test_api_errors_follow_accept_language(app: Any) -> None:
    machine = TestClient(app)
    zh = machine.post(
        "/api/events", json=EVENT, headers={"X-API-Key": "wrong", "Accept-Language": "zh-CN"}
    )
    assert zh.json()["detail"] == "X-API-Key 请求头与本服务器的事件 API 密钥不符。"
    en = machine.post("/api/events", json=EVENT, headers={"Accept-Language": "en-US"})
    assert en.json()["detail"].startswith("The X-API-Key header is missing")


def test_a_key_sent_to_a_server_without_one(engine: Engine, db_url: str, people: Any) -> None:
    settings = Settings(database_url=db_url, secret_key="perm-secret", events_api_key="")
    machine = TestClient(create_app(settings, temporal=None, engine=engine))
    response = machine.post("/api/events", json=EVENT, headers={"X-API-Key": "some-key"})
    assert response.status_code == 401
    assert "JOURNEYS_EVENTS_API_KEY is not set" in response.json()["detail"]


def test_pages_still_default_to_chinese(app: Any) -> None:
    page = TestClient(app).get("/login")
    assert '<html lang="zh-CN">' in page.text

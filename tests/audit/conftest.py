"""Fixtures of the audit and approval tests: the web-app harness and a team of accounts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from services import accounts
from tests.canvas_ui.harness import *  # noqa: F403 - fixtures
from tests.canvas_ui.harness import CSRF_COOKIE


def login_as(app: FastAPI, username: str, role: str, permissions: str = "") -> TestClient:
    """A CSRF-aware client signed in as a new account."""
    with Session(app.state.engine) as session:
        account = accounts.create_user(
            session=session, username=username, password="test-pass", role=role
        )
        account.permissions = permissions
        session.add(account)
        session.commit()
        _principal, cookie = accounts.login(
            session=session,
            username=username,
            password="test-pass",
            secret=app.state.settings.secret_key,
        )
    c = TestClient(app)
    c.cookies.set(accounts.SESSION_COOKIE, cookie)
    c.get("/api/schema/journey.json")
    c.headers["X-CSRF-Token"] = c.cookies[CSRF_COOKIE]
    c.headers["Accept-Language"] = "en"
    return c


@pytest.fixture
def team(canvas_app: FastAPI, client: TestClient) -> Iterator[dict[str, TestClient]]:
    """hq (the marketer, the harness's client), lead (HQ with approve_journeys), admin,
    hq2 (another marketer without it)."""
    yield {
        "hq": client,
        "lead": login_as(canvas_app, "lead", "hq", "approve_journeys"),
        "admin": login_as(canvas_app, "boss", "admin"),
        "hq2": login_as(canvas_app, "hq2", "hq"),
    }

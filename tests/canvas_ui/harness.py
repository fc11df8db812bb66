"""Fixtures for web-app tests: a migrated temp SQLite database, the app, a CSRF-aware client.

Imported by ``tests/canvas_ui/conftest.py``, ``tests/api/test_journeys*.py`` and
``tests/ui/conftest.py``. Each test gets its own database file, copied from one migrated
template (Alembic runs once per session, not once per test).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui import create_app
from db import crud
from db.models import CouponTemplateCreate
from db.session import guard_event_loop
from services.temporal import TemporalGateway, TemporalUnavailableError
from settings import Settings

CSRF_COOKIE = "journeys_csrf"

#: The fixtures, for ``from tests.canvas_ui.harness import *`` in conftest files.
__all__ = ["canvas_app", "canvas_db_template", "canvas_settings", "client"]


class TemporalDown(TemporalGateway):
    """A gateway to a Temporal server that cannot be reached (whatever listens on the
    default port of the machine the tests run on)."""

    async def client(self) -> Any:
        raise TemporalUnavailableError("Temporal is not reachable (this test has none).")


@pytest.fixture(scope="session")
def canvas_db_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head, checkpointed so a plain copy holds everything."""
    from db.migrate import upgrade

    path = tmp_path_factory.mktemp("canvas-db") / "template.db"
    upgrade(f"sqlite:///{path}")
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


@pytest.fixture
def canvas_settings(canvas_db_template: Path, tmp_path: Path) -> Settings:
    """Settings on a fresh copy of the migrated database."""
    db = tmp_path / "journeys.db"
    shutil.copy(canvas_db_template, db)
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{db}",
        secret_key="test-secret-key",
        reconcile_interval_seconds=0,
    )


def hq_login(app: FastAPI) -> tuple[str, str] | None:
    """Create an HQ account and open a session: ``(cookie name, value)``.

    ``None`` while the accounts service is not part of the app (then nothing asks for one).
    """
    try:
        from services import accounts
    except ImportError:
        return None
    with Session(app.state.engine) as session:
        accounts.create_user(session=session, username="hq", password="test-pass", role="hq")
        _principal, cookie = accounts.login(
            session=session,
            username="hq",
            password="test-pass",
            secret=app.state.settings.secret_key,
        )
    return accounts.SESSION_COOKIE, cookie


@pytest.fixture
def canvas_app(canvas_settings: Settings) -> Iterator[FastAPI]:
    """The app with no Temporal (publish and pause do not need it), an HQ user signed in."""
    app = create_app(canvas_settings, temporal=None)
    # create_app makes a gateway to the configured server when given none; these tests run
    # without one (routes that need Temporal answer 503, pause and archive just change status)
    app.state.temporal = None
    guard_event_loop(app.state.engine)
    with Session(app.state.engine) as session:
        crud.create_coupon_template(
            session=session,
            template_create=CouponTemplateCreate(
                id="NEW20", name="新客20元券", face_value=20, validity_days=30
            ),
        )
    app.state.test_login = hq_login(app)
    yield app
    app.state.engine.dispose()


@pytest.fixture
def client(canvas_app: FastAPI) -> Iterator[TestClient]:
    """A signed-in client that, like the pages' htmx and fetch calls, sends the CSRF header."""
    with TestClient(canvas_app) as c:
        if canvas_app.state.test_login:
            c.cookies.set(*canvas_app.state.test_login)
        c.get("/api/schema/journey.json")  # sets the CSRF cookie
        c.headers["X-CSRF-Token"] = c.cookies[CSRF_COOKIE]
        c.headers["Accept-Language"] = "en"  # tests that need Chinese ask for it
        yield c


def linear_document(name: str = "新客二回") -> dict[str, Any]:
    """entry → wait 3 days → coupon NEW20 → exit: a valid journey."""
    return {
        "schema_version": 1,
        "name": name,
        "description": "",
        "settings": {},
        "nodes": [
            {
                "id": "entry",
                "kind": "entry",
                "label": "",
                "position": {"x": 0, "y": 0},
                "config": {"trigger": {"type": "manual"}},
            },
            {
                "id": "wait",
                "kind": "wait",
                "label": "等三天",
                "position": {"x": 300, "y": 0},
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}
                },
            },
            {
                "id": "coupon",
                "kind": "send_coupon",
                "label": "",
                "position": {"x": 600, "y": 0},
                "config": {"coupon_template_id": "NEW20"},
            },
            {
                "id": "exit",
                "kind": "exit",
                "label": "",
                "position": {"x": 900, "y": 0},
                "config": {"goal_reached": False},
            },
        ],
        "edges": [
            {"id": "e1", "source": "entry", "source_port": "next", "target": "wait"},
            {"id": "e2", "source": "wait", "source_port": "next", "target": "coupon"},
            {"id": "e3", "source": "coupon", "source_port": "next", "target": "exit"},
        ],
    }


def create_journey(client: TestClient, document: dict[str, Any] | None = None) -> str:
    """Create a journey through the API; returns its id."""
    doc = document or linear_document()
    response = client.post("/api/journeys", json={"name": doc["name"], "document": doc})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])

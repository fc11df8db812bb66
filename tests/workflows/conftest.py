"""Workflow tests run on the time-skipping test server: a 30-day wait takes milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from temporalio.testing import WorkflowEnvironment

from tests.temporal_env import binary


@pytest_asyncio.fixture(scope="session")
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=binary("temporal-test-server")
    )
    try:
        yield environment
    finally:
        await environment.shutdown()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"

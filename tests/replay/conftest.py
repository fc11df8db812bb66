"""Replay loads the compiled journeys that recorded runs name by reference, as a worker's
codec loads published versions from the database (tests/replay/record.py keeps them)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from workflows import journey_cache

JOURNEYS = Path(__file__).parent / "journeys"


@pytest.fixture(autouse=True)
def recorded_journeys() -> Iterator[None]:
    """Every kept journey in the worker cache (other tests may have emptied it)."""
    for path in sorted(JOURNEYS.glob("*.json")):
        journey_cache.remember(json.loads(path.read_text()))
    yield

"""The Temporal binaries of the tests: :func:`journeys.binaries.binary` (shared with bench/)."""

from journeys.binaries import binary

__all__ = ["binary"]

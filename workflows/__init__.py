"""Temporal workflows. ``JourneyWorkflow`` runs one customer's path through a journey;
``workflows.runtime`` holds its input/result types and the Temporal runtime;
``workflows.journey_cache`` the compiled versions runs name by reference, and
``workflows.codec`` the payload codec of every client and worker (not workflow code)."""

from workflows.journey import JourneyWorkflow
from workflows.runtime import (
    JourneyInput,
    JourneyRef,
    JourneyResult,
    TemporalRuntime,
    workflow_id_for,
)

__all__ = [
    "JourneyInput",
    "JourneyRef",
    "JourneyResult",
    "JourneyWorkflow",
    "TemporalRuntime",
    "workflow_id_for",
]

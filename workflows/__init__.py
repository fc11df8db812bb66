"""Temporal workflows. ``JourneyWorkflow`` runs one customer's path through a journey;
``workflows.runtime`` holds its input/result types and the Temporal runtime."""

from workflows.journey import JourneyWorkflow
from workflows.runtime import JourneyInput, JourneyResult, TemporalRuntime, workflow_id_for

__all__ = [
    "JourneyInput",
    "JourneyResult",
    "JourneyWorkflow",
    "TemporalRuntime",
    "workflow_id_for",
]

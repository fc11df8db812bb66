"""Temporal workflows. ``JourneyWorkflow`` runs one customer's path through a journey."""

from workflows.journey import (
    JourneyInput,
    JourneyResult,
    JourneyWorkflow,
    TemporalRuntime,
    workflow_id_for,
)

__all__ = [
    "JourneyInput",
    "JourneyResult",
    "JourneyWorkflow",
    "TemporalRuntime",
    "workflow_id_for",
]

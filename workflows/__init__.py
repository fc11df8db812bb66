"""Temporal workflows. ``JourneyWorkflow`` runs one customer's path through a journey and
``SegmentEnrollmentWorkflow`` (``workflows.enrollment``) enters a segment's audience;
``workflows.contract`` holds the names, ids, inputs and results both sides of the line
import; ``workflows.starter`` the one way a journey run is started; ``workflows.runtime``
the Temporal runtime; ``workflows.journey_cache`` the compiled versions runs name by
reference, and ``workflows.codec`` the payload codec of every client and worker (not
workflow code).

workflows/ depends on engine/ (and temporalio) only: activities are called by name.
"""

from workflows.journey import JourneyWorkflow
from workflows.journey_cache import JourneyRef

# JourneyInput and JourneyResult: the classes JourneyWorkflow is typed with (the same as
# workflows.contract's once workflows.runtime imports them from there)
from workflows.runtime import JourneyInput, JourneyResult, TemporalRuntime, workflow_id_for

__all__ = [
    "JourneyInput",
    "JourneyRef",
    "JourneyResult",
    "JourneyWorkflow",
    "TemporalRuntime",
    "workflow_id_for",
]

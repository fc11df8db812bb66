"""The worker: runs journey workflows and their activities on the task queue."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from activities.enrollment import EnrollmentActivities
from db import make_engine
from journeys.settings import Settings
from workflows import JourneyWorkflow
from workflows.enrollment import SegmentEnrollmentWorkflow

WORKFLOWS = [JourneyWorkflow, SegmentEnrollmentWorkflow]


def build_worker(
    client: Client, settings: Settings, *, activities: JourneyActivities | None = None
) -> Worker:
    """A worker for ``settings.task_queue`` with the real activities on the settings' DB."""
    engine = make_engine(settings.sqlalchemy_url)
    acts = activities or JourneyActivities.from_engine(engine, settings)
    enrollment = EnrollmentActivities.from_engine(engine, client, settings.task_queue)
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=WORKFLOWS,
        activities=[*all_activities(acts), *enrollment.all()],
        max_concurrent_activities=64,
        max_concurrent_workflow_tasks=64,
    )

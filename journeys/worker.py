"""The workers: journeys on ``settings.task_queue``, segment enrollment (the pass workflow
and its page activities) on ``settings.enrollment_queue``.

Two processes in production (``journeys worker`` and ``journeys enrollment-worker``): a pass
over a big segment starts customer workflows as fast as the server takes them, and in the
journey worker's process that work would take the CPU (and the GIL) from running journeys.
The pass's own workflow tasks live on the enrollment queue too: on the journey queue they
would wait behind the backlog of the very journeys the pass has just started.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import JourneyActivities, all_activities
from activities.channels.wecom import WeComClient, WeComSettings
from activities.channels.wecom_receipts import poll_wecom_receipts
from activities.enrollment import EnrollmentActivities
from activities.guide_notices import NoticeSweep, guide_notice_pusher
from db import make_engine
from db.session import session_factory, write_session_factory
from journeys.processes import Role
from services.temporal import journey_loader, with_journey_loader
from settings import Settings
from workflows import JourneyWorkflow
from workflows.enrollment import SegmentEnrollmentWorkflow

WORKFLOWS = [JourneyWorkflow, SegmentEnrollmentWorkflow]

#: The sandbox, with the app's workflow code passed through instead of re-imported for every
#: run. By default the sandbox re-executes a workflow's module (and its package) for each new
#: run to isolate module state; ours holds none (constants and classes), and the interpreter
#: and runtime it calls were already passed through. Measured in bench.throughput: the
#: re-import was about 2 ms of worker CPU per journey run (~8%). ``engine`` too: the IR's
#: decoder resolves type hints through ``sys.modules``, which must then hold ``engine.ir``.
#: The journey workflow itself opts out of the sandbox (see workflows/journey.py); the
#: enrollment workflow runs in it.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("workflows", "engine")
)

#: Runs kept in the worker's sticky cache (the SDK's default is 1,000). Journeys spend most
#: of their life waiting (an event, a guide's outcome, a timer); a signal to a run that was
#: evicted makes the server send its whole history and the worker replay it before the
#: signal is handled. bench.web_load has ~1,700 runs waiting at once, so many events and
#: outcomes hit evicted runs. A cached run costs about 60 KB of worker memory (measured:
#: 283 MB with ~1,700 runs cached, 242 MB at the 1,000 default).
MAX_CACHED_WORKFLOWS = 10_000


def build_worker(
    client: Client,
    settings: Settings,
    *,
    activities: JourneyActivities | None = None,
    extra_workflows: Sequence[type] = (),
    role: Role = Role.ALL,
) -> Worker:
    """The journey worker: journey workflows and the journey activities, or one side of
    them (``role``; ``journeys up`` runs both sides, see ``Settings.activity_worker``).

    The enrollment workflow and activities are registered here too, for a single-process
    install (``enrollment_task_queue=""``) whose passes run on this queue.

    Runs name their journey version by reference: the worker's codec loads each version
    from this database once (a client from ``services.temporal.connect`` already has the
    codec; any other client is given one, see ``with_journey_loader``).
    """
    engine = make_engine(settings.sqlalchemy_url)
    client = with_journey_loader(client, journey_loader(engine))
    acts = activities or JourneyActivities.from_engine(engine, settings)
    enrollment = EnrollmentActivities.from_engine(engine, client, settings.task_queue)
    # the workflows side registers the activities too: local activities run in the
    # workflow's own worker
    return Worker(
        client,
        task_queue=settings.task_queue,
        workflows=[] if role is Role.ACTIVITIES else [*WORKFLOWS, *extra_workflows],
        workflow_runner=WORKFLOW_RUNNER,
        activities=[*all_activities(acts), *enrollment.all()],
        no_remote_activities=role is Role.WORKFLOWS,
        max_concurrent_activities=64,
        max_concurrent_workflow_tasks=64,
        max_cached_workflows=MAX_CACHED_WORKFLOWS,
    )


def notice_sweep(settings: Settings) -> NoticeSweep:
    """The sweep that pushes guide task notices still due (activities.guide_notices) and,
    with WeCom configured, asks WeCom for its group messages' receipts."""
    engine = make_engine(settings.sqlalchemy_url)
    writes = write_session_factory(engine)
    wecom = WeComSettings()
    pusher = guide_notice_pusher(sessions=writes, reads=session_factory(engine), wecom=wecom)
    receipts = (
        partial(poll_wecom_receipts, client=WeComClient(wecom), sessions=writes)
        if wecom.configured
        else None
    )
    return NoticeSweep(pusher, receipts=receipts)


def build_enrollment_worker(client: Client, settings: Settings) -> Worker:
    """The enrollment worker: the pass workflow and its page activities, on their own queue.

    The pages start customer workflows on ``settings.task_queue``. Four activities at a time:
    each page already keeps ``concurrency`` starts in flight.
    """
    if not settings.own_enrollment_worker:
        raise ValueError(
            "enrollment_task_queue is the journey worker's queue: the journey worker serves it"
        )
    enrollment = EnrollmentActivities.from_engine(
        make_engine(settings.sqlalchemy_url), client, settings.task_queue
    )
    return Worker(
        client,
        task_queue=settings.enrollment_queue,
        workflows=[SegmentEnrollmentWorkflow],
        workflow_runner=WORKFLOW_RUNNER,
        activities=enrollment.all(),
        max_concurrent_activities=4,
    )

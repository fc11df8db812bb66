"""The per-journey segment enrollment workflow: pages through a segment's audience and
enters each customer into the journey, bounded, resumable and exactly once.

One run = one pass of the audience (at publish, on a schedule tick, or by hand). The
audience is read in pages ordered by customer id; the cursor (last id handled) and the
counters live in the workflow's state and travel through continue-as-new, so the history
stays small for a million customers. Each page is one activity that starts up to
``concurrency`` customer workflows at a time and is safe to retry (see
:mod:`activities.enrollment`). Limits: ``max_per_run`` ends the pass early; ``max_per_hour``
makes it sleep (a durable timer) until the next hour window.

When the journey is paused the pass waits for the ``resume`` signal (sent by
``services.schedules`` when the journey is resumed) for up to ``PAUSE_WAIT``; a journey
republished or archived ends it.
"""

from dataclasses import replace
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from workflows.contract import (
        ENROLLMENT_FINISH,
        ENROLLMENT_PAGE,
        ENROLLMENT_PREPARE,
        ENROLLMENT_WORKFLOW,
        EnrollmentInput,
        EnrollmentProgress,
        EnrollmentResult,
        EnrollmentState,
        FinishRequest,
        PageRequest,
        PageResult,
        PrepareRequest,
        PrepareResult,
    )

__all__ = [
    "EnrollmentInput",
    "EnrollmentProgress",
    "EnrollmentResult",
    "EnrollmentState",
    "SegmentEnrollmentWorkflow",
]

PAGE_TIMEOUT = timedelta(minutes=15)
PAGE_HEARTBEAT = timedelta(minutes=2)
SHORT_TIMEOUT = timedelta(minutes=2)
PAUSE_WAIT = timedelta(days=7)
HOUR = timedelta(hours=1)
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)


@workflow.defn(name=ENROLLMENT_WORKFLOW)
class SegmentEnrollmentWorkflow:
    """Enters a journey's segment audience, page by page."""

    def __init__(self) -> None:
        self._status = "starting"
        self._state: EnrollmentState | None = None
        self._resumed = False
        self._cancelled = False
        self._activity_queue: str | None = None

    @workflow.run
    async def run(self, inp: EnrollmentInput) -> EnrollmentResult:
        self._activity_queue = inp.activity_task_queue
        st = inp.state
        if st is None:
            info = workflow.info()
            prep = await workflow.execute_activity(
                ENROLLMENT_PREPARE,
                PrepareRequest(
                    journey_id=inp.journey_id,
                    version=inp.version,
                    workflow_id=info.workflow_id,
                    first_run_id=info.first_execution_run_id,
                    trigger=inp.trigger,
                    now=workflow.now().isoformat(),
                ),
                result_type=PrepareResult,
                start_to_close_timeout=SHORT_TIMEOUT,
                retry_policy=RETRY,
                task_queue=inp.activity_task_queue,
            )
            if not prep.ok:
                return EnrollmentResult("skipped", reason=prep.reason)
            st = EnrollmentState(
                enrollment_id=prep.enrollment_id,
                version=prep.version,
                segment_id=prep.segment_id,
                total=prep.total,
                max_per_run=prep.max_per_run,
                max_per_hour=prep.max_per_hour,
            )
        self._state = st
        self._status = "running"
        pages = 0
        while True:
            if self._cancelled:
                return await self._finish(st, "cancelled", "cancelled by an operator")
            if pages >= inp.pages_per_run or workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(replace(inp, state=st))
            budget = self._budget(st)
            if budget == 0:
                return await self._finish(st, "completed", "limit per run reached", "limit_reached")
            if budget < 0:  # hourly limit used up: sleep to the next window
                await workflow.sleep(self._hour_left(st))
                continue
            page = await workflow.execute_activity(
                ENROLLMENT_PAGE,
                PageRequest(
                    enrollment_id=st.enrollment_id,
                    journey_id=inp.journey_id,
                    version=st.version,
                    segment_id=st.segment_id,
                    now=workflow.now().isoformat(),
                    after=st.cursor,
                    page_size=inp.page_size,
                    max_entries=budget,
                    entered_before=st.entered,
                    skipped_before=st.skipped,
                    concurrency=inp.concurrency,
                ),
                result_type=PageResult,
                start_to_close_timeout=PAGE_TIMEOUT,
                heartbeat_timeout=PAGE_HEARTBEAT,
                retry_policy=RETRY,
                task_queue=inp.activity_task_queue,
            )
            pages += 1
            if page.stopped == "paused":
                if not await self._wait_for_resume():
                    return await self._finish(st, "paused", "journey paused", "stopped")
                continue
            if page.stopped:
                return await self._finish(st, "cancelled", f"journey {page.stopped}", "stopped")
            self._advance(st, page)
            if page.done:
                return await self._finish(st, "completed", "")

    def _budget(self, st: EnrollmentState) -> int:
        """Entries allowed now: > 0; 0 = the per-run limit is reached; -1 = wait an hour."""
        budget = 1 << 30
        if st.max_per_run is not None:
            budget = min(budget, st.max_per_run - st.entered)
            if budget <= 0:
                return 0
        if st.max_per_hour is not None:
            now = workflow.now()
            started = datetime.fromisoformat(st.hour_started) if st.hour_started else None
            if started is None or now >= started + HOUR:
                st.hour_started, st.hour_entered = now.isoformat(), 0
            left = st.max_per_hour - st.hour_entered
            if left <= 0:
                return -1
            budget = min(budget, left)
        return budget

    def _hour_left(self, st: EnrollmentState) -> timedelta:
        started = datetime.fromisoformat(st.hour_started)
        return max(started + HOUR - workflow.now(), timedelta(seconds=1))

    def _advance(self, st: EnrollmentState, page: PageResult) -> None:
        st.cursor = page.cursor
        st.entered += page.entered
        st.skipped += page.skipped
        st.hour_entered += page.entered

    async def _wait_for_resume(self) -> bool:
        self._status = "paused"
        self._resumed = False
        try:
            await workflow.wait_condition(
                lambda: self._resumed or self._cancelled, timeout=PAUSE_WAIT
            )
        except TimeoutError:
            return False
        self._status = "running"
        return not self._cancelled

    async def _finish(
        self, st: EnrollmentState, status: str, message: str, result: str | None = None
    ) -> EnrollmentResult:
        queue = self._activity_queue
        await workflow.execute_activity(
            ENROLLMENT_FINISH,
            FinishRequest(
                enrollment_id=st.enrollment_id,
                status=status,
                entered=st.entered,
                skipped=st.skipped,
                cursor=st.cursor,
                message=message,
            ),
            start_to_close_timeout=SHORT_TIMEOUT,
            retry_policy=RETRY,
            task_queue=queue,
        )
        self._status = status
        return EnrollmentResult(
            result or status, st.entered, st.skipped, st.total, message, st.enrollment_id
        )

    @workflow.signal
    def resume(self) -> None:
        """The journey was resumed: carry on where the pass stopped."""
        self._resumed = True

    @workflow.signal
    def cancel(self) -> None:
        """Stop after the current page."""
        self._cancelled = True

    @workflow.query
    def progress(self) -> EnrollmentProgress:
        st = self._state
        if st is None:
            return EnrollmentProgress(self._status, 0, 0, 0, "", 0)
        return EnrollmentProgress(
            self._status, st.total, st.entered, st.skipped, st.cursor, st.enrollment_id
        )

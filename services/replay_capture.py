"""Watch a replay from the inside: the commands the current code issues, and its state.

:class:`CaptureInterceptor` is a Temporal worker interceptor for the :class:`Replayer`. At
every activity or local activity the replayed workflow starts, it records the command and a
snapshot of the journey's :class:`engine.runtime.RunState` (read through the workflow's own
``state`` query handler). That gives three things without a live worker:

* the run's full state and trace after a clean replay (the run view's fallback when no worker
  answers the ``state`` query),
* the state at each step of the recorded history (the step-through view),
* how far the current code got before it diverged (the nondeterminism report).

It needs the unsandboxed runner: the snapshots leave the workflow through a plain object.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from temporalio import workflow
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    StartActivityInput,
    StartLocalActivityInput,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
    WorkflowOutboundInterceptor,
)

from engine.runtime import RunState


@dataclass
class Snapshot:
    """The run's state when the workflow issued one command."""

    command: str  # "activity:create_task" | "local_activity:record_run" | "end"
    at: str  # workflow time (ISO-8601)
    state: RunState


@dataclass
class Capture:
    """Everything one replayed workflow run issued, in order."""

    snapshots: list[Snapshot] = field(default_factory=list)

    @property
    def commands(self) -> list[str]:
        """Activity and local-activity commands, in order (timers are not seen)."""
        return [s.command for s in self.snapshots if s.command != "end"]

    @property
    def last_state(self) -> RunState | None:
        return self.snapshots[-1].state if self.snapshots else None


class CaptureInterceptor(Interceptor):
    """Collects a :class:`Capture` per replayed run id (see :meth:`take`)."""

    def __init__(self) -> None:
        self.captures: dict[str, Capture] = {}

    def take(self, run_id: str) -> Capture:
        """The capture of ``run_id`` (empty if it issued nothing), removed from the store."""
        return self.captures.pop(run_id, Capture())

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor]:
        store = self.captures

        def snap(command: str) -> None:
            handler = workflow.get_query_handler("state")
            if handler is None:
                return
            state = copy.deepcopy(handler())
            capture = store.setdefault(workflow.info().run_id, Capture())
            capture.snapshots.append(Snapshot(command, workflow.now().isoformat(), state))

        class Outbound(WorkflowOutboundInterceptor):
            def start_activity(self, input: StartActivityInput) -> Any:
                snap(f"activity:{_name(input.activity)}")
                return super().start_activity(input)

            def start_local_activity(self, input: StartLocalActivityInput) -> Any:
                snap(f"local_activity:{_name(input.activity)}")
                return super().start_local_activity(input)

        class Inbound(WorkflowInboundInterceptor):
            def init(self, outbound: WorkflowOutboundInterceptor) -> None:
                super().init(Outbound(outbound))

            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                result = await super().execute_workflow(input)
                snap("end")
                return result

        return Inbound


def _name(activity: Any) -> str:
    return activity if isinstance(activity, str) else getattr(activity, "__name__", str(activity))

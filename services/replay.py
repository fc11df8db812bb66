"""Determinism replay: recorded journey histories against the current workflow code.

"Will this engine release break the customers waiting in live journeys?" — fetch their
histories from Temporal (one run, or every run of a journey / version, bounded), or read
exported JSON files, and run them through the SDK's :class:`temporalio.worker.Replayer` with
the current :class:`workflows.JourneyWorkflow`. A clean replay is OK; a nondeterminism error
is reported with the history event where the code diverged and the journey node that was
executing there (see :func:`locate_divergence`).

The CLI (``journeys replay`` / ``journeys export-history``), the web page's "Replay against
current code" buttons and ``tests/replay`` all go through :func:`replay_one` /
:func:`replay_many`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC as _UTC
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHistory
from temporalio.worker import Replayer, UnsandboxedWorkflowRunner
from temporalio.workflow import NondeterminismError

from engine.runtime import TraceEntry
from services.replay_capture import Capture, CaptureInterceptor
from services.temporal import app_data_converter
from workflows.codec import expand

#: How many histories one bulk replay fetches at most unless told otherwise.
DEFAULT_LIMIT = 1000
_EVENT_ID = re.compile(r"HistoryEvent\(id: (\d+)")


def _workflows() -> list[type]:
    from workflows import JourneyWorkflow

    return [JourneyWorkflow]


@dataclass
class Divergence:
    """Where a history and the current code part ways."""

    event_id: int | None  # the history event the current code could not reproduce
    event_type: str | None  # e.g. "ACTIVITY_TASK_SCHEDULED"
    event_detail: str  # e.g. "issue_coupon for node coupon"
    node_id: str | None  # the journey node that was executing there
    last_matched: str | None  # the last command both agree on, e.g. "#11 local_activity:load_facts"


@dataclass
class ReplayResult:
    """The verdict for one workflow run."""

    workflow_id: str
    run_id: str
    ok: bool
    events: int
    error: str | None = None
    error_type: str | None = None  # "nondeterminism" | "failure"
    divergence: Divergence | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ReplaySummary:
    """The verdicts of a bulk replay."""

    results: list[ReplayResult] = field(default_factory=list)
    fetch_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.fetch_errors and all(r.ok for r in self.results)

    @property
    def failed(self) -> list[ReplayResult]:
        return [r for r in self.results if not r.ok]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "total": len(self.results),
            "failed": [r.to_dict() for r in self.failed],
            "fetch_errors": list(self.fetch_errors),
        }


Progress = Callable[[int, int, ReplayResult], Awaitable[None] | None]


# ------------------------------------------------------------------ replay


async def replay_one(
    history: WorkflowHistory,
    *,
    workflows: Sequence[type] | None = None,
    trace: list[TraceEntry] | None = None,
) -> ReplayResult:
    """Replay one history with the current (or the given) workflow code.

    ``trace`` (the run's own trace from its ``state`` query, when a worker answered) sharpens
    which node a divergence is attributed to.
    """
    summary = await replay_many(
        [history], workflows=workflows, traces={history.workflow_id: trace} if trace else None
    )
    return summary.results[0]


async def replay_many(
    histories: Iterable[WorkflowHistory] | AsyncIterator[WorkflowHistory],
    *,
    workflows: Sequence[type] | None = None,
    total: int | None = None,
    on_progress: Progress | None = None,
    traces: dict[str, list[TraceEntry] | None] | None = None,
) -> ReplaySummary:
    """Replay every history through one :class:`Replayer` (the journey workflow outside the
    sandbox, as in production: ``sandboxed=False`` on its definition).

    A failing history is replayed a second time, watched by
    :class:`CaptureInterceptor`, to locate the divergence. ``on_progress(done, total, result)``
    is called after each history.
    """
    wf = list(workflows or _workflows())
    # the app's converter: compressed payloads, and journeys runs name by reference
    replayer = Replayer(workflows=wf, data_converter=app_data_converter())
    summary = ReplaySummary()

    async def source() -> AsyncIterator[WorkflowHistory]:
        if hasattr(histories, "__aiter__"):
            async for h in histories:
                yield h
        else:
            for h in histories:
                yield h

    async with replayer.workflow_replay_iterator(source()) as results:
        async for item in results:
            history = item.history
            failure = item.replay_failure
            result = ReplayResult(
                workflow_id=history.workflow_id,
                run_id=_run_id(history),
                ok=failure is None,
                events=len(history.events),
            )
            if failure is not None:
                result.error = str(failure)
                # A mismatched local activity can surface as a decoding failure rather than
                # a NondeterminismError: compare the commands to tell them apart.
                capture = await capture_replay(history, workflows=wf)
                trace = (traces or {}).get(history.workflow_id)
                diverged = isinstance(failure, NondeterminismError) or _mismatch(history, capture)
                result.error_type = "nondeterminism" if diverged else "failure"
                result.divergence = locate_divergence(history, str(failure), capture, trace)
            summary.results.append(result)
            if on_progress is not None:
                maybe = on_progress(len(summary.results), total or 0, result)
                if maybe is not None:
                    await maybe
    return summary


async def capture_replay(
    history: WorkflowHistory, *, workflows: Sequence[type] | None = None
) -> Capture:
    """Replay unsandboxed with :class:`CaptureInterceptor`; failures are not raised."""
    interceptor = CaptureInterceptor()
    replayer = Replayer(
        workflows=list(workflows or _workflows()),
        interceptors=[interceptor],
        workflow_runner=UnsandboxedWorkflowRunner(),
        data_converter=app_data_converter(),
    )
    await replayer.replay_workflow(history, raise_on_replay_failure=False)
    return interceptor.take(_run_id(history))


# ------------------------------------------------------------------ locating a divergence


@dataclass
class _Command:
    event: HistoryEvent
    name: str  # "activity:issue_coupon" | "local_activity:record_run" | "timer"


def _commands(history: WorkflowHistory) -> list[_Command]:
    return _commands_of(history.events)


def _commands_of(events: Iterable[HistoryEvent]) -> list[_Command]:
    out = []
    for ev in events:
        if ev.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            name = ev.activity_task_scheduled_event_attributes.activity_type.name
            out.append(_Command(ev, f"activity:{name}"))
        elif (
            ev.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
            and ev.marker_recorded_event_attributes.marker_name == "core_local_activity"
        ):  # patch markers (``core_patch``) are not commands an interceptor sees
            data = _payload_json(ev.marker_recorded_event_attributes.details.get("data"))
            kind = data.get("activity_type", "?") if isinstance(data, dict) else "?"
            out.append(_Command(ev, f"local_activity:{kind}"))
        elif ev.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            out.append(_Command(ev, "timer"))
    return out


def _mismatch(history: WorkflowHistory, capture: Capture) -> bool:
    recorded = [c.name for c in _commands(history) if c.name != "timer"]
    issued = capture.commands
    return issued != recorded[: len(issued)]


def locate_divergence(
    history: WorkflowHistory,
    message: str,
    capture: Capture,
    trace: list[TraceEntry] | None = None,
) -> Divergence:
    """The history event and journey node where the current code diverged.

    The event comes from the SDK's message when it names one; otherwise it is the first
    recorded activity / local activity the current code did not issue in the same order
    (timers are invisible to interceptors, so they are skipped in that comparison). The node
    is, in order of preference: the node in the diverging activity's own input; the entry of
    the run's ``trace`` active at that moment; the last node the current code reached before
    it diverged; the journey's entry node.
    """
    by_id = {ev.event_id: ev for ev in history.events}
    recorded = [c for c in _commands(history) if c.name != "timer"]
    issued = capture.commands
    matched = 0
    while matched < min(len(recorded), len(issued)) and recorded[matched].name == issued[matched]:
        matched += 1
    found = _EVENT_ID.search(message)
    event: HistoryEvent | None = None
    if found:
        event = by_id.get(int(found.group(1)))
    elif matched < len(recorded):
        event = recorded[matched].event
    elif history.events:
        event = history.events[-1]
    last = recorded[matched - 1] if matched else None
    node = _node_of(event) if event is not None else None
    if node is None and event is not None and trace:
        node = _node_at(trace, _task_time(history, event.event_id))
    if node is None and event is not None:
        node = _node_from_capture(capture, matched, _command_name(event))
    if node is None:
        node = _entry_node(history)
    return Divergence(
        event_id=event.event_id if event is not None else None,
        event_type=_event_type(event) if event is not None else None,
        event_detail=_describe(event) if event is not None else "",
        node_id=node,
        last_matched=f"#{last.event.event_id} {last.name}" if last else None,
    )


#: Which node kinds issue a local activity (to attribute a diverging marker).
_ISSUERS = {
    "local_activity:load_facts": {"branch", "wait", "wait_purchase_cycle", "wait_until_date"},
    "local_activity:record_run": {
        "wait",
        "wait_for_event",
        "wait_purchase_cycle",
        "wait_until_date",
        "assign_guide_task",
        "exit",
    },
}


def _node_from_capture(capture: Capture, matched: int, recorded: str) -> str | None:
    """The node the recorded command most likely came from: among the nodes the current
    code visited between the last command both agree on and the first one they do not,
    the first that issues that kind of command."""
    snaps = capture.snapshots
    if not snaps:
        return None
    at = snaps[min(matched, len(snaps) - 1)].state
    if matched:
        start = max(len(snaps[matched - 1].state.trace) - 1, 0)
    else:
        # since the run (re)started: the steps it finished plus the one in progress
        start = max(len(at.trace) - at.steps - 1, 0)
    candidates = at.trace[start:] or at.trace[-1:]
    kinds = _ISSUERS.get(recorded)
    for entry in candidates:
        if kinds is None or entry.kind in kinds:
            return entry.node_id
    return candidates[0].node_id if candidates else None


def _command_name(event: HistoryEvent) -> str:
    for command in _commands_of([event]):
        return command.name
    return _event_type(event)


def _node_of(event: HistoryEvent) -> str | None:
    if event.event_type != EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return None
    payloads = event.activity_task_scheduled_event_attributes.input.payloads
    data = _payload_json(payloads[0]) if payloads else None
    ctx = data.get("ctx") if isinstance(data, dict) else None
    node = ctx.get("node_id") if isinstance(ctx, dict) else None
    return node if isinstance(node, str) else None


def _node_at(trace: list[TraceEntry], moment: str | None) -> str | None:
    if moment is None:
        return None
    current = None
    for entry in trace:
        if _iso_key(entry.at) <= _iso_key(moment):
            current = entry.node_id
    return current


def _iso_key(value: str) -> str:
    from engine.semantics import parse_time

    return parse_time(value).astimezone(_UTC).isoformat()


def _task_time(history: WorkflowHistory, event_id: int) -> str | None:
    """The workflow time of the task that produced ``event_id`` (its WFT-started time)."""
    moment = None
    for ev in history.events:
        if ev.event_id >= event_id:
            break
        if ev.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
            moment = ev.event_time.ToDatetime(tzinfo=_UTC).isoformat()
    return moment


def _entry_node(history: WorkflowHistory) -> str | None:
    if not history.events:
        return None
    attrs = history.events[0].workflow_execution_started_event_attributes
    data = _payload_json(attrs.input.payloads[0]) if attrs.input.payloads else None
    journey = data.get("journey") if isinstance(data, dict) else None
    node = journey.get("entry_node_id") if isinstance(journey, dict) else None
    return node if isinstance(node, str) else None


def _describe(event: HistoryEvent) -> str:
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        name = event.activity_task_scheduled_event_attributes.activity_type.name
        node = _node_of(event)
        return f"{name} for node {node}" if node else name
    if event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
        data = _payload_json(event.marker_recorded_event_attributes.details.get("data"))
        kind = data.get("activity_type", "?") if isinstance(data, dict) else "?"
        return f"local activity {kind}"
    if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
        secs = event.timer_started_event_attributes.start_to_fire_timeout.seconds
        return f"timer {secs}s"
    return _event_type(event)


def _event_type(event: HistoryEvent) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")


def _payload_json(payloads: Any) -> Any:
    payload = (
        payloads.payloads[0]
        if hasattr(payloads, "payloads") and payloads.payloads
        else (payloads if hasattr(payloads, "data") else None)
    )
    if payload is None or not payload.data:
        return None
    try:
        return json.loads(expand(payload).data)  # compressed by the app's codec, or not
    except ValueError:
        return None


def _run_id(history: WorkflowHistory) -> str:
    if not history.events:
        return ""
    attrs = history.events[0].workflow_execution_started_event_attributes
    return attrs.original_execution_run_id or attrs.first_execution_run_id or ""


# ------------------------------------------------------------------ fetching and files


async def fetch_history(
    client: Client, workflow_id: str, run_id: str | None = None
) -> WorkflowHistory:
    """The history of one workflow run (the latest run when ``run_id`` is None)."""
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


async def fetch_histories(
    client: Client, workflow_ids: Sequence[str], errors: list[str] | None = None
) -> AsyncIterator[WorkflowHistory]:
    """Histories of ``workflow_ids`` one by one; a missing one is noted in ``errors``."""
    for wid in workflow_ids:
        try:
            yield await fetch_history(client, wid)
        except Exception as exc:  # RPCError: not found / not visible; keep going
            if errors is not None:
                errors.append(f"{wid}: {exc}")


def workflow_ids_for_journey(
    *,
    session: Any,
    journey_id: str,
    version: int | None = None,
    limit: int = DEFAULT_LIMIT,
    running_only: bool = False,
) -> list[str]:
    """Workflow ids of a journey's (or one version's) runs, newest first, at most ``limit``."""
    from sqlmodel import col, select

    from db.models import JourneyRun

    stmt = select(JourneyRun.workflow_id).where(JourneyRun.journey_id == journey_id)
    if version is not None:
        stmt = stmt.where(JourneyRun.journey_version == version)
    if running_only:
        stmt = stmt.where(JourneyRun.status == "running")
    ids: list[str] = []
    for wid in session.exec(stmt.order_by(col(JourneyRun.id).desc())):
        if wid not in ids:
            ids.append(wid)
        if len(ids) >= limit:
            break
    return ids


def export_history(history: WorkflowHistory, directory: Path) -> Path:
    """Write ``history`` as ``<directory>/<workflow id>.json`` (Temporal's JSON form)."""
    directory.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", history.workflow_id) or "history"
    path = directory / f"{safe}.json"
    path.write_text(json.dumps(json.loads(history.to_json()), indent=1) + "\n")
    return path


def load_history(path: Path) -> WorkflowHistory:
    """A history JSON file (as exported here or by ``temporal workflow show -o json``)."""
    data = json.loads(path.read_text())
    return WorkflowHistory.from_json(_workflow_id_of(data, path), data)


def load_dir(directory: Path) -> list[WorkflowHistory]:
    """Every ``*.json`` history in ``directory``, sorted by file name."""
    return [load_history(p) for p in sorted(directory.glob("*.json"))]


def _workflow_id_of(data: dict[str, Any], path: Path) -> str:
    try:
        first = data["events"][0]
        attrs = first.get("workflowExecutionStartedEventAttributes", {})
        prev = attrs.get("workflowId")
        if isinstance(prev, str) and prev:
            return prev
    except (KeyError, IndexError, AttributeError):
        pass
    return path.stem

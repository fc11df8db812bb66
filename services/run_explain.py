"""One shape for "what happened to this customer", whatever ran the journey.

A live run (the workflow's ``state`` query), a closed run replayed from its history, and a
test run of a draft (the simulation) all end as a :class:`RunExplanation`: the steps of the
trace in order, each with the port it took, the node it led to, and the state (context and
buffered events) as it was after that step. The run view draws it on the canvas.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from engine import ir
from engine.runtime import RunState


@dataclass
class StepView:
    """One node visit, and the run's state just after it."""

    index: int
    node_id: str
    kind: str
    visit: int
    at: str
    finished_at: str | None
    port: str | None
    next_node: str | None
    summary: str
    inputs: dict[str, Any]
    result: dict[str, Any]
    error: str | None
    context: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # buffered, with "consumed"
    waiting: dict[str, Any] | None = None


@dataclass
class RunExplanation:
    """A run explained from its own trace (never from today's customer data)."""

    source: str  # "query" | "history" | "simulation"
    workflow_id: str
    customer_id: str
    journey_id: str
    version: int | None
    status: str
    exit_reason: str | None
    goal_reached: bool
    entered_at: str
    current: str | None
    waiting: dict[str, Any] | None
    steps: list[StepView]
    trace_dropped: int = 0
    timezone: str = "Asia/Shanghai"
    notes: list[str] = field(default_factory=list)  # e.g. "state from the history replay"

    @property
    def path(self) -> list[str]:
        """Node ids in visiting order."""
        return [s.node_id for s in self.steps]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain(
    state: RunState,
    journey: ir.CompiledJourney | None,
    *,
    source: str,
    workflow_id: str,
    journey_id: str,
    version: int | None,
    snapshots: list[RunState] | None = None,
) -> RunExplanation:
    """Build the explanation of ``state``; ``snapshots`` (oldest first) give per-step states.

    The state after step *i* is the first snapshot taken once step *i + 1* had begun (or the
    final state): it holds what step *i* added to the context and the events buffered by then.
    """
    snaps = [s for s in (snapshots or []) if s is not None]
    steps = []
    for offset, entry in enumerate(state.trace):
        index = state.trace_dropped + offset
        after = _state_after(index, snaps) or (state if snaps else _from_trace(state, offset))
        steps.append(
            StepView(
                index=index,
                node_id=entry.node_id,
                kind=entry.kind,
                visit=entry.visit,
                at=entry.at,
                finished_at=entry.finished_at,
                port=entry.port,
                next_node=_target(journey, entry.node_id, entry.port),
                summary=entry.summary,
                inputs=dict(entry.inputs),
                result=dict(entry.result),
                error=entry.error,
                context={k: dict(v) for k, v in after.context.items()},
                events=[
                    {**asdict(e), "consumed": e.event_id in after.consumed_event_ids}
                    for e in after.events
                ],
                waiting=asdict(after.waiting) if after.waiting else None,
            )
        )
    return RunExplanation(
        source=source,
        workflow_id=workflow_id,
        customer_id=state.customer_id,
        journey_id=journey_id,
        version=version,
        status=state.status,
        exit_reason=state.exit_reason,
        goal_reached=state.goal_reached,
        entered_at=state.entered_at,
        current=state.current,
        waiting=asdict(state.waiting) if state.waiting else None,
        steps=steps,
        trace_dropped=state.trace_dropped,
        timezone=journey.timezone if journey is not None else "Asia/Shanghai",
    )


def _from_trace(state: RunState, offset: int) -> RunState:
    """Without snapshots: the final state cut back to the nodes visited by step ``offset``
    and the events that had occurred by then (later visits of a node show their last value)."""
    seen = {e.node_id for e in state.trace[: offset + 1]}
    entry = state.trace[offset]
    until = entry.finished_at or entry.at
    return RunState(
        customer_id=state.customer_id,
        enrollment_id=state.enrollment_id,
        entered_at=state.entered_at,
        context={k: v for k, v in state.context.items() if k in seen},
        events=[e for e in state.events if e.occurred_at <= until],
        consumed_event_ids=[
            str(e.result.get("event_id")) for e in state.trace[: offset + 1] if e.result
        ],
    )


def _state_after(index: int, snaps: list[RunState]) -> RunState | None:
    for snap in snaps:
        if snap.trace_dropped + len(snap.trace) >= index + 2:
            return snap
    return None


def _target(journey: ir.CompiledJourney | None, node_id: str, port: str | None) -> str | None:
    if journey is None or port is None:
        return None
    try:
        return journey.step(node_id).target(port)
    except (KeyError, AttributeError):
        return None

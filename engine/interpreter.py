"""The journey interpreter: walks a compiled journey for one customer over a :class:`Runtime`.

Pure and deterministic: it reads time only from the runtime, decides splits by hashing,
and does every read and side effect through the runtime. The Temporal workflow
(``workflows/journey.py``) and the virtual-clock simulation (``engine/simulation.py``) both
run exactly this code — one semantics, two clocks.

Each node kind's step is the ``run`` function of its module (``engine/kinds/<kind>.py``),
dispatched through the registry; it returns the port to follow (or ``None`` to end the
path) and fills in the visit's :class:`TraceEntry`. The public helpers below (``park``,
``attempt``, ``facts`` …) are what those steps build on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from engine import ir, kinds, semantics
from engine.effect_parts import (
    LOAD_FACTS,
    RECORD_RUN,
    CustomerFacts,
    Effect,
    EffectContext,
    EffectFailed,
    FactsRequest,
    NodeVisit,
    RunRecord,
    idempotency_key,
)
from engine.runtime import (
    EVENT_BUFFER_LIMIT,
    NODE_VISITS,
    PATCHES,
    SEMANTICS_V2,
    SEMANTICS_V3,
    CustomerEventIn,
    RunState,
    Runtime,
    TaskOutcome,
    TraceEntry,
    VersionMove,
    Waiting,
)

__all__ = [
    "EVENT_BUFFER_LIMIT",
    "PATCHES",
    "SEMANTICS_V2",
    "SEMANTICS_V3",
    "TRACE_LIMIT",
    "Interpreter",
    "RunOutcome",
    "new_state",
]

#: How many trace entries a run keeps in its state (older ones are counted, not kept).
TRACE_LIMIT = 300
_LEGACY_FACTS_FRESH_FOR = timedelta(seconds=60)

Rq = TypeVar("Rq")
Rs = TypeVar("Rs")
#: A kind's step: ``(step, interpreter, trace entry, visit) → port``.
StepRun = Callable[[Any, "Interpreter", TraceEntry, int], Awaitable[str | None]]
#: Each step class's step function, from the kind registry.
_RUN: dict[type, StepRun] = {s.step: s.run for s in kinds.KINDS.values()}


@dataclass
class PendingMove:
    """A ``move_version`` signal waiting for the run's next safe point."""

    journey: ir.CompiledJourney
    move: VersionMove


@dataclass
class RunOutcome:
    """How :meth:`Interpreter.run` returned: the path ended, or it wants continue-as-new."""

    continue_as_new: bool
    state: RunState


class Interpreter:
    def __init__(
        self,
        journey: ir.CompiledJourney,
        runtime: Runtime,
        *,
        workflow_id: str,
        state: RunState,
    ) -> None:
        self.journey = journey
        self.rt = runtime
        self.workflow_id = workflow_id
        self.state = state
        #: the end a side effect has already recorded (see exit_record_after): a kind's
        #: step sets it to its request's ``then_record`` once the effect succeeded
        self.recorded_exit: RunRecord | None = None
        #: the visit in progress (release NODE_VISITS): pending once its port is known
        self._open_visit: NodeVisit | None = None
        #: a move to another version, applied at the next safe point (see on_move)
        self.move: PendingMove | None = None
        #: (node id, when the customer arrived there in the version they left): a wait the
        #: customer moved to in place keeps counting from then (see arrived_at)
        self._arrived: tuple[str, str] | None = None
        if state.current is None and state.status == "running" and not state.trace:
            state.current = journey.entry_node_id

    # ------------------------------------------------------------ inputs (signals)

    def on_event(self, event: CustomerEventIn) -> None:
        """Buffer a customer event; check the journey goal. Called from a signal handler."""
        if any(e.event_id == event.event_id for e in self.state.events):
            return  # a re-delivered signal
        trigger = self.state.context.get(self.journey.entry_node_id, {}).get("event") or {}
        if trigger.get("event_id") == event.event_id:
            return  # the event that brought the customer in (signal-with-start)
        self.state.events.append(event)
        if len(self.state.events) > EVENT_BUFFER_LIMIT:
            del self.state.events[0]
        goal = self.journey.goal
        if (
            goal is not None
            and self.state.goal_event_id is None
            and semantics.event_matches(goal.event_type, goal.filters, event.type, event.properties)
            and semantics.parse_time(event.occurred_at)
            >= semantics.parse_time(self.state.entered_at)
        ):
            self.state.goal_event_id = event.event_id

    def on_task_outcome(self, outcome: TaskOutcome) -> None:
        self.state.task_outcomes.setdefault(outcome.task_id, outcome)

    def on_stop(self, reason: str) -> None:
        self.state.stop_requested = reason or "stopped"

    def on_pause(self, paused: bool) -> None:
        self.state.paused = paused

    def on_move(self, journey: ir.CompiledJourney, move: VersionMove) -> None:
        """Continue on ``journey`` (another version of this one) at the node ``move`` maps
        the customer's current node to. Called from a signal handler: a wait in progress
        wakes (``interrupted``) and the interpreter moves between steps, never inside one.
        A node with no place in the new version, a run that has ended or already follows
        that version: nothing happens (a note on the trace says why, where useful)."""
        st = self.state
        if st.status != "running" or self.journey.version == journey.version:
            return  # ended, or a re-delivered / repeated move
        if journey.journey_id != self.journey.journey_id:
            self._note_move(move, f"not moved: v{move.to_version} is another journey's")
            return
        if st.current not in move.node_map:
            self._note_move(
                move, f"not moved: node {st.current} has no place in v{move.to_version}"
            )
            return
        self.move = PendingMove(journey, move)

    def interrupted(self) -> bool:
        return self._ending() or self._moving()

    def _ending(self) -> bool:
        return self.state.goal_event_id is not None or self.state.stop_requested is not None

    def _moving(self) -> bool:
        """A move is pending for the node the customer is at (only after a move signal)."""
        return self.move is not None and self.state.current in self.move.move.node_map

    def arrived_at(self, node_id: str) -> datetime | None:
        """When the customer first arrived at ``node_id`` if they were moved onto it in
        place (same node id and kind) from the version they left; else None (a wait then
        counts from now)."""
        if self._arrived is None or self._arrived[0] != node_id:
            return None
        return semantics.parse_time(self._arrived[1])

    # ------------------------------------------------------------ main loop

    async def run(self) -> RunOutcome:
        st = self.state
        while st.status == "running" and st.current is not None:
            leaving = self._leaving()
            if st.paused and not self.interrupted() and not leaving:
                st.waiting = Waiting(st.current, "paused")
                await self.rt.wait(until=None, wake=lambda: not st.paused or self.interrupted())
                st.waiting = None
            if self._ending():
                await self._finish_interrupted()
                break
            if self.move is not None and not leaving:
                # between steps: a safe point to continue on the new version
                await self._apply_move()
                continue
            moved_in_place = self._arrived is not None  # keep its arrival (not in state)
            if (
                st.steps > 0
                and not leaving
                and not moved_in_place
                and self.rt.should_continue_as_new()
            ):
                return RunOutcome(True, st)
            await self._visit(self.journey.step(st.current))
            st.steps += 1
        return RunOutcome(False, st)

    async def _visit(self, step: ir.Step) -> None:
        st = self.state
        visit = st.visits.get(step.node_id, 0) + 1
        st.visits[step.node_id] = visit
        entry = TraceEntry(
            node_id=step.node_id,
            kind=ir.STEP_KIND[type(step)],
            visit=visit,
            at=self.now_iso(),
        )
        self._append_trace(entry)
        if self.rt.patched(NODE_VISITS):
            self._open_visit = NodeVisit(step.node_id, visit, None, entry.at)
        if visit > self.journey.max_node_visits:
            entry.summary = f"visit limit {self.journey.max_node_visits} reached"
            entry.error = "VisitLimit"
            await self.exit(step.node_id, reason="visit_limit")
            return
        port = await _RUN[type(step)](step, self, entry, visit)
        self._arrived = None
        entry.finished_at = self.now_iso()
        entry.port = port
        if port is not None and self._open_visit is not None:
            self._open_visit.port = port
            st.pending_visits.append(self._open_visit)
            self._open_visit = None
        if st.status != "running":
            return
        if port is None:
            if self._ending():
                await self._finish_interrupted()
            elif self._moving():
                await self._apply_move()  # left its wait for the new version, no port
            else:
                await self.exit(step.node_id, reason="failure_exit")
            return
        target = step.target(port)
        if target is None and self.rt.patched(SEMANTICS_V3):
            # never stop with nothing to do: end visibly, and record the end
            entry.error = entry.error or "NoPath"
            entry.summary = f"{entry.summary} · port '{port}' leads nowhere".lstrip(" ·")
            await self.exit(step.node_id, reason="no_path")
            return
        st.current = target

    # ------------------------------------------------------------ moving versions

    async def _apply_move(self) -> None:
        """Continue on the pending move's version at the node it maps the customer to.

        The state carries over whole: context (a coupon issued stays issued and its expiry
        readable), visit counts (a node visited again gets a new idempotency key), events,
        outcomes, variants. The old version's books close first: the visit in progress ends
        at its node without a port, recorded under the old version; then the run records
        itself at the new node under the new version (the run row follows)."""
        pending, self.move = self.move, None
        st = self.state
        if pending is None or st.current is None:
            return
        move, new = pending.move, pending.journey
        src = st.current
        target = move.node_map.get(src)
        old = self.journey
        if target is None or target not in {s.node_id for s in new.steps}:
            self._note_move(move, f"not moved: node {src} has no place in v{new.version}")
            return
        same_place = (
            target == src
            and ir.STEP_KIND[type(new.step(target))] == ir.STEP_KIND[type(old.step(src))]
        )
        arrived = next((e.at for e in reversed(st.trace) if e.node_id == src), None)
        if self._open_visit is not None:
            st.pending_visits.append(self._open_visit)
            self._open_visit = None
        st.waiting = None
        if st.pending_visits:
            await self.rt.effect(RECORD_RUN, self._record("running", src))
        self.journey = new
        self.recorded_exit = None
        self._arrived = (target, arrived) if same_place and arrived else None
        st.current = target
        self._append_trace(
            TraceEntry(
                node_id=target,
                kind="move",
                visit=0,
                at=self.now_iso(),
                summary=f"moved from v{old.version} node {src} to v{new.version} node {target}"
                + (f" by {move.by}" if move.by else ""),
                inputs={
                    "move_id": move.move_id,
                    "from_version": old.version,
                    "from_node": src,
                    "to_version": new.version,
                    "to_node": target,
                    "by": move.by,
                },
            )
        )
        moved = self._record("running", target)
        moved.moved_from = old.version  # the run's row follows it to the new version
        await self.rt.effect(RECORD_RUN, moved)

    def _note_move(self, move: VersionMove, summary: str) -> None:
        node = self.state.current or self.journey.entry_node_id
        self._append_trace(
            TraceEntry(
                node_id=node,
                kind="move",
                visit=0,
                at=self.now_iso(),
                summary=summary,
                inputs={"move_id": move.move_id, "to_version": move.to_version, "by": move.by},
                error="NotMoved",
            )
        )

    # ------------------------------------------------------------ helpers

    async def attempt(
        self, entry: TraceEntry, node_id: str, effect: Effect[Rq, Rs], request: Rq
    ) -> Rs | None:
        """Run a side effect; a permanent business failure is recorded, not raised."""
        try:
            return await self.rt.effect(effect, request)
        except EffectFailed as failure:
            entry.error = failure.type
            entry.summary = f"failed: {failure.type} — {failure.message}"
            self.state.context[node_id] = {"failed": True, "error": failure.type}
            return None

    def failure_port(self, step: ir.Step) -> str | None:
        """The port a step whose side effect failed for good follows (None: exit)."""
        on_failure = getattr(step, "on_failure", ir.OnFailure.CONTINUE)
        if self.rt.patched(SEMANTICS_V3):
            return kinds.failure_port(ir.STEP_KIND[type(step)], on_failure)
        if on_failure is ir.OnFailure.EXIT:
            return None
        if on_failure is ir.OnFailure.PORT:
            return "failed"
        return "next"  # before release 3, also for a task (which has no such port)

    def _leaving(self) -> bool:
        """The last side effect already recorded this run's end at the current node."""
        pre = self.recorded_exit
        return (
            pre is not None
            and pre.current_node == self.state.current
            and self.rt.patched(SEMANTICS_V3)
        )

    async def facts(
        self, counts: list[Any], coupons: list[str], segments: tuple[str, ...] | list[str] = ()
    ) -> CustomerFacts:
        # A snapshot (from enrollment, or read earlier) stays good until the customer first
        # waits or is updated: until then no time has passed for them (see _park).
        now = self.rt.now()
        snap = self.state.facts
        if snap is not None and not self.rt.patched(SEMANTICS_V2):
            fresh = bool(snap.as_of) and (
                now - semantics.parse_time(snap.as_of) <= _LEGACY_FACTS_FRESH_FOR
            )
            snap = snap if fresh else None
        if (
            snap is not None
            and all(q.key in snap.event_counts for q in counts)
            and all(c in snap.coupons for c in coupons)
            and all(s in snap.segments for s in segments)
        ):
            return snap
        facts = await self.rt.effect(
            LOAD_FACTS,
            FactsRequest(self.state.customer_id, now.isoformat(), counts, coupons, list(segments)),
        )
        if not facts.as_of:
            facts.as_of = now.isoformat()
        self.state.facts = facts
        return facts

    async def timezone(self, source: str) -> str:
        facts = await self.facts([], [])
        return facts.store_timezone if source == "store" else facts.timezone

    def effect_ctx(self, node_id: str, visit: int) -> EffectContext:
        return EffectContext(
            idempotency_key=idempotency_key(
                self.workflow_id, self.state.enrollment_id, node_id, visit
            ),
            workflow_id=self.workflow_id,
            journey_id=self.journey.journey_id,
            journey_version=self.journey.version,
            node_id=node_id,
            visit=visit,
            customer_id=self.state.customer_id,
            at=self.now_iso(),
        )

    def template_context(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in self.state.context.items()}

    async def park(self, node_id: str, kind: str, until: datetime | None, detail: str) -> None:
        """Record where the customer waits (state + the runs table, for 'who is waiting')."""
        if self.rt.patched(SEMANTICS_V2):
            self.state.facts = None  # time passes while waiting: read the profile again after
        self.state.waiting = Waiting(node_id, kind, until.isoformat() if until else None, detail)
        await self.rt.effect(RECORD_RUN, self._record("running", node_id))

    async def _finish_interrupted(self) -> None:
        st = self.state
        node = st.current or self.journey.entry_node_id
        if self._open_visit is None and st.current is not None and self.rt.patched(NODE_VISITS):
            # interrupted between steps (after a port, or while paused before the next
            # step): the run ends at the step it was heading to without running it. The
            # trace (the path a user reads) stays as it is; the funnel still counts the
            # run as ended at that step, as every other end
            visit = st.visits.get(node, 0) + 1
            self._open_visit = NodeVisit(node, visit, None, self.now_iso())
        if st.goal_event_id is not None:
            self._append_trace(
                TraceEntry(
                    node_id=node,
                    kind="goal",
                    visit=0,
                    at=self.now_iso(),
                    summary=f"goal event {st.goal_event_id}",
                )
            )
            await self.exit(node, reason="goal", goal=True)
        else:
            await self.exit(node, reason=st.stop_requested or "stopped", status="stopped")

    async def exit(
        self, node_id: str, *, reason: str, goal: bool = False, status: str = "exited"
    ) -> None:
        st = self.state
        st.status = status
        st.exit_reason = reason
        st.goal_reached = goal
        st.current = None
        st.waiting = None
        if self._open_visit is not None:  # the run ends at this node: no port taken
            st.pending_visits.append(self._open_visit)
            self._open_visit = None
        pre = self.recorded_exit
        if (
            pre is not None
            and pre.current_node == node_id
            and (pre.status, pre.exit_reason, pre.goal_reached) == (status, reason, goal)
        ):
            st.pending_visits = []  # recorded with that end (see exit_record_after)
            return  # the last side effect already recorded exactly this end
        await self.rt.effect(RECORD_RUN, self._record(status, node_id))

    def exit_record_after(self, step: ir.Step) -> RunRecord | None:
        """The run's end as it will be recorded, when ``step``'s ``next`` is an exit."""
        self.recorded_exit = None
        target = step.target("next")
        nxt = self.journey.step(target) if target else None
        if not isinstance(nxt, ir.ExitStep) or not self.rt.patched(SEMANTICS_V2):
            return None
        visits: list[NodeVisit] = []
        if self.rt.patched(NODE_VISITS):
            # what will be pending when that exit is reached: this step leaving by `next`,
            # then the exit's own visit
            now = self.now_iso()
            st = self.state
            visits = [
                *st.pending_visits,
                NodeVisit(step.node_id, st.visits.get(step.node_id, 0), "next", now),
                NodeVisit(nxt.node_id, st.visits.get(nxt.node_id, 0) + 1, None, now),
            ]
        return RunRecord(
            workflow_id=self.workflow_id,
            journey_id=self.journey.journey_id,
            journey_version=self.journey.version,
            customer_id=self.state.customer_id,
            status="exited",
            current_node=nxt.node_id,
            exit_reason="exit",
            goal_reached=nxt.goal_reached,
            at=self.now_iso(),
            variants=dict(self.state.variants),
            enrollment_id=self.state.enrollment_id if visits else "",
            visits=visits,
        )

    def _record(self, status: str, node_id: str) -> RunRecord:
        st = self.state
        return RunRecord(
            workflow_id=self.workflow_id,
            journey_id=self.journey.journey_id,
            journey_version=self.journey.version,
            customer_id=st.customer_id,
            status=status,
            current_node=node_id,
            exit_reason=st.exit_reason,
            goal_reached=st.goal_reached,
            at=self.now_iso(),
            variants=dict(st.variants),
            **self._take_visits(),
        )

    def _take_visits(self) -> dict[str, Any]:
        """The pending visits for the next record (none before release NODE_VISITS)."""
        st = self.state
        if not st.pending_visits:
            return {}
        visits, st.pending_visits = st.pending_visits, []
        return {"enrollment_id": st.enrollment_id, "visits": visits}

    def _append_trace(self, entry: TraceEntry) -> None:
        self.state.trace.append(entry)
        if len(self.state.trace) > TRACE_LIMIT:
            del self.state.trace[0]
            self.state.trace_dropped += 1

    def now_iso(self) -> str:
        return self.rt.now().isoformat()


def new_state(
    *,
    customer_id: str,
    enrollment_id: str,
    entered_at: datetime,
    entry_node_id: str,
    entry_event: CustomerEventIn | None = None,
    facts: CustomerFacts | None = None,
) -> RunState:
    """The state of a customer who has just entered."""
    state = RunState(
        customer_id=customer_id,
        enrollment_id=enrollment_id,
        entered_at=entered_at.isoformat(),
        current=entry_node_id,
        facts=facts,
    )
    if entry_event is not None:
        state.context[entry_node_id] = {"event": asdict(entry_event)}
    return state

"""The journey interpreter: walks a compiled journey for one customer over a :class:`Runtime`.

Pure and deterministic: it reads time only from the runtime, decides splits by hashing,
and does every read and side effect through the runtime. The Temporal workflow
(``workflows/journey.py``) and the virtual-clock simulation (``engine/simulation.py``) both
run exactly this code — one semantics, two clocks.

One ``_step_<kind>`` method per node kind; each returns the port to follow (or ``None`` to
end the path) and fills in the visit's :class:`TraceEntry`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from engine import ir, semantics
from engine.effects import (
    CreateTaskRequest,
    CustomerFacts,
    EffectContext,
    EffectFailed,
    FactsRequest,
    IssueCouponRequest,
    RunRecord,
    SendMessageRequest,
    TaskNoticeRequest,
    UpdateCustomerRequest,
    idempotency_key,
)
from engine.runtime import (
    CustomerEventIn,
    RunState,
    Runtime,
    TaskOutcome,
    TraceEntry,
    Waiting,
)

#: How many trace entries a run keeps in its state (older ones are counted, not kept).
TRACE_LIMIT = 300
#: How many buffered events a run keeps (the newest win).
EVENT_BUFFER_LIMIT = 100

T = TypeVar("T")

# Interpreter changes that would alter recorded histories ship behind ``Runtime.patched``
# (``workflow.patched`` on Temporal): runs recorded before a change replay the old way.
# Changes released together share one id, so a run carries one marker per release.
#: Release 2 of the journey semantics:
#: - a facts snapshot is reused until the customer first waits (was: for 60 s);
#: - a task moved by capacity overflow is reminded/escalated/expired on its own due time;
#: - a side effect followed by an exit records the run's end itself (no extra record).
SEMANTICS_V2 = "journey-semantics-v2"
_LEGACY_FACTS_FRESH_FOR = timedelta(seconds=60)
#: Release 3: no run strands (issue 12):
#: - a failed step follows ``semantics.FAILURE_PORTS``: a guide task that could not be
#:   created takes ``expired`` under "continue" (was: a ``next`` port tasks do not have, so
#:   the run stopped with nothing to do and its row still "running");
#: - a port that leads nowhere ends the run as exit ``no_path``, recorded (was: as above);
#: - a task notice (reminder, escalation, expiry, cancel) that fails for good is noted on the
#:   visit and the run goes on (was: the exception failed the workflow task, for ever);
#: - a customer whose exit a side effect already recorded leaves at once: no pause and no
#:   continue-as-new between that effect and the exit (was: a pause arriving in between
#:   held a run the database called exited).
SEMANTICS_V3 = "journey-semantics-v3"
#: Every patch id, in the order a runtime decides them (once, when a run starts).
PATCHES = (SEMANTICS_V2, SEMANTICS_V3)


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
        #: the end a side effect has already recorded (see _exit_record_after)
        self._recorded_exit: RunRecord | None = None
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

    def _interrupted(self) -> bool:
        return self.state.goal_event_id is not None or self.state.stop_requested is not None

    # ------------------------------------------------------------ main loop

    async def run(self) -> RunOutcome:
        st = self.state
        while st.status == "running" and st.current is not None:
            leaving = self._leaving()
            if st.paused and not self._interrupted() and not leaving:
                st.waiting = Waiting(st.current, "paused")
                await self.rt.wait(until=None, wake=lambda: not st.paused or self._interrupted())
                st.waiting = None
            if self._interrupted():
                await self._finish_interrupted()
                break
            if st.steps > 0 and not leaving and self.rt.should_continue_as_new():
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
            at=self._now_iso(),
        )
        self._append_trace(entry)
        if visit > self.journey.max_node_visits:
            entry.summary = f"visit limit {self.journey.max_node_visits} reached"
            entry.error = "VisitLimit"
            await self._exit(step.node_id, reason="visit_limit")
            return
        handler = self._handlers()[type(step)]
        port = await handler(step, entry, visit)
        entry.finished_at = self._now_iso()
        entry.port = port
        if st.status != "running":
            return
        if port is None:
            if self._interrupted():
                await self._finish_interrupted()
            else:
                await self._exit(step.node_id, reason="failure_exit")
            return
        target = step.target(port)
        if target is None and self.rt.patched(SEMANTICS_V3):
            # never stop with nothing to do: end visibly, and record the end
            entry.error = entry.error or "NoPath"
            entry.summary = f"{entry.summary} · port '{port}' leads nowhere".lstrip(" ·")
            await self._exit(step.node_id, reason="no_path")
            return
        st.current = target

    def _handlers(self) -> dict[type, Callable[[Any, TraceEntry, int], Awaitable[str | None]]]:
        return {
            ir.EntryStep: self._step_entry,
            ir.WaitStep: self._step_wait,
            ir.WaitForEventStep: self._step_wait_for_event,
            ir.BranchStep: self._step_branch,
            ir.SplitStep: self._step_split,
            ir.SendCouponStep: self._step_send_coupon,
            ir.SendMessageStep: self._step_send_message,
            ir.AssignTaskStep: self._step_assign_task,
            ir.UpdateCustomerStep: self._step_update_customer,
            ir.ExitStep: self._step_exit,
        }

    # ------------------------------------------------------------ steps

    async def _step_entry(self, step: ir.EntryStep, entry: TraceEntry, visit: int) -> str | None:
        trigger = self.state.context.get(step.node_id, {}).get("event")
        entry.summary = f"entered by {trigger['type']}" if trigger else "entered"
        entry.result = {"trigger": trigger} if trigger else {}
        return "next"

    async def _step_wait(self, step: ir.WaitStep, entry: TraceEntry, visit: int) -> str | None:
        now = self.rt.now()
        target, why = await self._wait_target(step, now)
        entry.inputs = {"rule": why}
        if target is None:
            entry.summary = f"no wait: {why}"
            return "next"
        if step.window is not None:
            tz_name = await self._timezone(step.window.timezone_source)
            aligned = semantics.align_to_window(
                target, step.window, semantics.zone(tz_name, self.journey.timezone)
            )
            if aligned != target:
                entry.inputs["window"] = f"moved into send window ({tz_name})"
            target = aligned
        entry.result = {"until": target.isoformat()}
        entry.summary = f"wait until {target.isoformat(timespec='minutes')}"
        if target <= now:
            return "next"
        await self._park(step.node_id, "timer", target, why)
        await self.rt.wait(until=target, wake=self._interrupted)
        self.state.waiting = None
        return None if self._interrupted() else "next"

    async def _wait_target(self, step: ir.WaitStep, now: datetime) -> tuple[datetime | None, str]:
        until = step.until
        if isinstance(until, ir.DelayFor):
            return now + timedelta(seconds=until.seconds), f"{until.seconds}s"
        if isinstance(until, ir.UntilAbsolute):
            return semantics.parse_time(until.at), until.at
        if isinstance(until, ir.UntilContext):
            raw = self.state.context.get(until.node_id, {}).get(until.field)
            if not raw:
                return None, f"{until.node_id}.{until.field} has no value on this path"
            moment = semantics.parse_time(raw) + timedelta(seconds=until.offset_seconds)
            return moment, f"{until.node_id}.{until.field}{until.offset_seconds:+d}s"
        facts = await self._facts([], [])
        if not facts.birthday:
            return None, "customer has no birthday"
        tz = semantics.zone(facts.timezone, self.journey.timezone)
        birthday = semantics.next_birthday(
            facts.birthday,
            now,
            tz,
            month_start=until.field == "birthday_month_start",
            offset_seconds=until.offset_seconds,
        )
        return birthday, f"{until.field} {facts.birthday}{until.offset_seconds:+d}s"

    async def _step_wait_for_event(
        self, step: ir.WaitForEventStep, entry: TraceEntry, visit: int
    ) -> str | None:
        since = self.rt.now()
        deadline = since + timedelta(seconds=step.timeout_seconds)
        entry.inputs = {"event_type": step.event_type, "since": since.isoformat()}
        found: list[CustomerEventIn] = []

        def matched() -> bool:
            if not found:
                ev = self._find_event(step, since)
                if ev is not None:
                    found.append(ev)
            return bool(found) or self._interrupted()

        if not matched():
            await self._park(step.node_id, "event", deadline, step.event_type)
            await self.rt.wait(until=deadline, wake=matched)
            self.state.waiting = None
        if found:
            ev = found[0]
            self.state.consumed_event_ids.append(ev.event_id)
            self.state.consumed_event_ids[:] = self.state.consumed_event_ids[-EVENT_BUFFER_LIMIT:]
            self.state.context[step.node_id] = {
                "event_id": ev.event_id,
                "type": ev.type,
                "occurred_at": ev.occurred_at,
                "properties": ev.properties,
            }
            entry.result = {"event_id": ev.event_id, "occurred_at": ev.occurred_at}
            entry.summary = f"{ev.type} at {ev.occurred_at[:16]}"
            return "matched"
        if self._interrupted():
            return None
        entry.summary = f"no {step.event_type} by {deadline.isoformat(timespec='minutes')}"
        return "timeout"

    def _find_event(self, step: ir.WaitForEventStep, since: datetime) -> CustomerEventIn | None:
        for ev in self.state.events:
            if ev.event_id in self.state.consumed_event_ids:
                continue
            if not semantics.event_matches(step.event_type, step.filters, ev.type, ev.properties):
                continue
            # only what happened after the wait began counts, however early the signal came
            if semantics.parse_time(ev.occurred_at) >= since:
                return ev
        return None

    async def _step_branch(self, step: ir.BranchStep, entry: TraceEntry, visit: int) -> str:
        needed = semantics.facts_needed(step, self.state.context)
        facts = await self._facts(needed.event_counts, needed.coupon_ids, needed.segment_ids)
        port, inputs, summary = semantics.evaluate_branch(step, facts, self.state.context)
        entry.inputs = inputs
        entry.summary = summary
        return port

    async def _step_split(self, step: ir.SplitStep, entry: TraceEntry, visit: int) -> str:
        seed = f"{self.workflow_id}/{self.state.enrollment_id}/{step.node_id}/{visit}"
        variant, bucket = semantics.choose_variant(step, seed)
        entry.inputs = {"bucket": bucket}
        entry.result = {"variant": variant.id, "holdout": variant.holdout}
        entry.summary = f"variant {variant.id}" + (" (holdout)" if variant.holdout else "")
        return variant.id

    async def _step_send_coupon(
        self, step: ir.SendCouponStep, entry: TraceEntry, visit: int
    ) -> str | None:
        req = IssueCouponRequest(
            self._effect_ctx(step.node_id, visit),
            step.coupon_template_id,
            then_record=self._exit_record_after(step),
        )
        result = await self._attempt(entry, step.node_id, lambda: self.rt.issue_coupon(req))
        if result is None:
            return self._failure_port(step)
        self._recorded_exit = req.then_record
        self.state.context[step.node_id] = {
            "coupon_id": result.coupon_id,
            "code": result.code,
            "template_id": result.template_id,
            "face_value": result.face_value,
            "issued_at": result.issued_at,
            "expires_at": result.expires_at,
            "issued": True,
        }
        entry.result = dict(self.state.context[step.node_id])
        entry.summary = (
            f"coupon {result.code} ¥{result.face_value:g} · expires {result.expires_at[:10]}"
        )
        return "next"

    async def _step_send_message(
        self, step: ir.SendMessageStep, entry: TraceEntry, visit: int
    ) -> str | None:
        req = SendMessageRequest(
            ctx=self._effect_ctx(step.node_id, visit),
            channel=step.channel,
            content=step.content,
            subject=step.subject,
            webhook_url=step.webhook_url,
            context=self._template_context(),
            then_record=self._exit_record_after(step),
        )
        result = await self._attempt(entry, step.node_id, lambda: self.rt.send_message(req))
        if result is None:
            return self._failure_port(step)
        self._recorded_exit = req.then_record
        self.state.context[step.node_id] = {
            "message_id": result.message_id,
            "status": result.status,
        }
        entry.result = {
            "message_id": result.message_id,
            "status": result.status,
            "rendered": result.rendered[:200],
        }
        entry.summary = f"{result.channel} message {result.status}"
        return "next"

    async def _step_assign_task(
        self, step: ir.AssignTaskStep, entry: TraceEntry, visit: int
    ) -> str | None:
        now = self.rt.now()
        due = now + timedelta(seconds=step.due_in_seconds)
        remind = (
            due - timedelta(seconds=step.remind_before_seconds)
            if step.remind_before_seconds
            else None
        )
        req = CreateTaskRequest(
            ctx=self._effect_ctx(step.node_id, visit),
            task_type=step.task_type,
            title=step.title or step.label,
            instructions=step.instructions,
            assignee=step.assignee,
            due_at=due.isoformat(),
            remind_at=remind.isoformat() if remind and remind > now else None,
            outcomes=list(step.outcomes),
            context=self._template_context(),
        )
        task = await self._attempt(entry, step.node_id, lambda: self.rt.create_task(req))
        if task is None:
            return self._failure_port(step)
        if self.rt.patched(SEMANTICS_V2) and task.due_at != req.due_at:
            # assignment moved the task (the guide's day was full): remind, escalate and
            # expire on the task's own schedule
            due = semantics.parse_time(task.due_at)
            if step.remind_before_seconds:
                remind = due - timedelta(seconds=step.remind_before_seconds)
        ctx = {"task_id": task.task_id, "guide_id": task.guide_id, "due_at": task.due_at}
        self.state.context[step.node_id] = ctx
        entry.result = dict(ctx)

        def done() -> bool:
            return task.task_id in self.state.task_outcomes or self._interrupted()

        detail = f"task {task.task_id} · {task.guide_name}"
        key = f"{self.workflow_id}/{self.state.enrollment_id}/{step.node_id}/{visit}"
        if remind is not None and remind > now:
            await self._park(step.node_id, "task", remind, detail)
            if not await self.rt.wait(until=remind, wake=done):
                await self._notice(entry, task.task_id, "reminder", key)
        if not done():
            await self._park(step.node_id, "task", due, detail)
            if not await self.rt.wait(until=due, wake=done):
                await self._notice(entry, task.task_id, "escalation", key)
        expires = due + timedelta(seconds=step.expire_after_seconds)
        if not done():
            await self._park(step.node_id, "task", expires, detail + " · overdue")
            await self.rt.wait(until=expires, wake=done)
        self.state.waiting = None
        outcome = self.state.task_outcomes.get(task.task_id)
        if outcome is not None:
            ports = step.outcomes or ("completed",)
            port = outcome.outcome if outcome.outcome in ports else ports[0]
            ctx["outcome"] = outcome.outcome
            entry.result = {**ctx, "note": outcome.note, "by": outcome.by}
            entry.summary = f"task {task.task_id} · {task.guide_name} · {outcome.outcome}"
            return port
        if self._interrupted():
            await self._notice(entry, task.task_id, "cancelled", key)
            return None
        await self._notice(entry, task.task_id, "expired", key)
        ctx["outcome"] = "expired"
        entry.summary = f"task {task.task_id} · {task.guide_name} · expired"
        return "expired"

    async def _step_update_customer(
        self, step: ir.UpdateCustomerStep, entry: TraceEntry, visit: int
    ) -> str | None:
        req = UpdateCustomerRequest(
            ctx=self._effect_ctx(step.node_id, visit),
            add_tags=list(step.add_tags),
            remove_tags=list(step.remove_tags),
            set_attributes=dict(step.set_attributes),
            then_record=self._exit_record_after(step),
        )
        result = await self._attempt(entry, step.node_id, lambda: self.rt.update_customer(req))
        if result is None:
            return self._failure_port(step)
        self._recorded_exit = req.then_record
        self.state.facts = None  # the profile changed: read it again when needed
        entry.result = {"tags": result.tags}
        parts = [f"+{t}" for t in step.add_tags] + [f"-{t}" for t in step.remove_tags]
        parts += [f"{k}={v}" for k, v in step.set_attributes]
        entry.summary = " ".join(parts) or "no change"
        return "next"

    async def _step_exit(self, step: ir.ExitStep, entry: TraceEntry, visit: int) -> None:
        entry.summary = "goal reached" if step.goal_reached else "exit"
        await self._exit(step.node_id, reason="exit", goal=step.goal_reached)
        return None

    # ------------------------------------------------------------ helpers

    async def _attempt(
        self, entry: TraceEntry, node_id: str, call: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Run a side effect; a permanent business failure is recorded, not raised."""
        try:
            return await call()
        except EffectFailed as failure:
            entry.error = failure.type
            entry.summary = f"failed: {failure.type} — {failure.message}"
            self.state.context[node_id] = {"failed": True, "error": failure.type}
            return None

    def _failure_port(self, step: ir.Step) -> str | None:
        """The port a step whose side effect failed for good follows (None: exit)."""
        on_failure = getattr(step, "on_failure", ir.OnFailure.CONTINUE)
        if self.rt.patched(SEMANTICS_V3):
            return semantics.failure_port(ir.STEP_KIND[type(step)], on_failure)
        if on_failure is ir.OnFailure.EXIT:
            return None
        if on_failure is ir.OnFailure.PORT:
            return "failed"
        return "next"  # before release 3, also for a task (which has no such port)

    async def _notice(self, entry: TraceEntry, task_id: str, kind: str, key: str) -> None:
        """Send one task notice; from release 3 one that fails for good is noted on the
        visit instead of failing the run (the customer's path does not depend on it)."""
        req = TaskNoticeRequest(task_id, kind, f"{key}/{kind}")
        if not self.rt.patched(SEMANTICS_V3):
            await self.rt.task_notice(req)
            return
        try:
            await self.rt.task_notice(req)
        except EffectFailed as failure:
            entry.error = entry.error or failure.type
            entry.inputs.setdefault("notices_failed", {})[kind] = str(failure)

    def _leaving(self) -> bool:
        """The last side effect already recorded this run's end at the current node."""
        pre = self._recorded_exit
        return (
            pre is not None
            and pre.current_node == self.state.current
            and self.rt.patched(SEMANTICS_V3)
        )

    async def _facts(
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
        facts = await self.rt.load_facts(
            FactsRequest(self.state.customer_id, now.isoformat(), counts, coupons, list(segments))
        )
        if not facts.as_of:
            facts.as_of = now.isoformat()
        self.state.facts = facts
        return facts

    async def _timezone(self, source: str) -> str:
        facts = await self._facts([], [])
        return facts.store_timezone if source == "store" else facts.timezone

    def _effect_ctx(self, node_id: str, visit: int) -> EffectContext:
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
            at=self._now_iso(),
        )

    def _template_context(self) -> dict[str, Any]:
        return {k: dict(v) for k, v in self.state.context.items()}

    async def _park(self, node_id: str, kind: str, until: datetime | None, detail: str) -> None:
        """Record where the customer waits (state + the runs table, for 'who is waiting')."""
        if self.rt.patched(SEMANTICS_V2):
            self.state.facts = None  # time passes while waiting: read the profile again after
        self.state.waiting = Waiting(node_id, kind, until.isoformat() if until else None, detail)
        await self.rt.record_run(self._record("running", node_id))

    async def _finish_interrupted(self) -> None:
        st = self.state
        node = st.current or self.journey.entry_node_id
        if st.goal_event_id is not None:
            self._append_trace(
                TraceEntry(
                    node_id=node,
                    kind="goal",
                    visit=0,
                    at=self._now_iso(),
                    summary=f"goal event {st.goal_event_id}",
                )
            )
            await self._exit(node, reason="goal", goal=True)
        else:
            await self._exit(node, reason=st.stop_requested or "stopped", status="stopped")

    async def _exit(
        self, node_id: str, *, reason: str, goal: bool = False, status: str = "exited"
    ) -> None:
        st = self.state
        st.status = status
        st.exit_reason = reason
        st.goal_reached = goal
        st.current = None
        st.waiting = None
        pre = self._recorded_exit
        if (
            pre is not None
            and pre.current_node == node_id
            and (pre.status, pre.exit_reason, pre.goal_reached) == (status, reason, goal)
        ):
            return  # the last side effect already recorded exactly this end
        await self.rt.record_run(self._record(status, node_id))

    def _exit_record_after(self, step: ir.Step) -> RunRecord | None:
        """The run's end as it will be recorded, when ``step``'s ``next`` is an exit."""
        self._recorded_exit = None
        target = step.target("next")
        nxt = self.journey.step(target) if target else None
        if not isinstance(nxt, ir.ExitStep) or not self.rt.patched(SEMANTICS_V2):
            return None
        return RunRecord(
            workflow_id=self.workflow_id,
            journey_id=self.journey.journey_id,
            journey_version=self.journey.version,
            customer_id=self.state.customer_id,
            status="exited",
            current_node=nxt.node_id,
            exit_reason="exit",
            goal_reached=nxt.goal_reached,
            at=self._now_iso(),
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
            at=self._now_iso(),
        )

    def _append_trace(self, entry: TraceEntry) -> None:
        self.state.trace.append(entry)
        if len(self.state.trace) > TRACE_LIMIT:
            del self.state.trace[0]
            self.state.trace_dropped += 1

    def _now_iso(self) -> str:
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

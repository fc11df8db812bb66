"""Run the real interpreter under a virtual clock with sandbox side effects.

Used for test runs of drafts ("what happens to a customer who buys on day 5?"), for
backtests, and for fast semantic tests. A 30-day script runs in milliseconds because
:meth:`SimulatedRuntime.wait` jumps the clock to the next scripted moment instead of
sleeping. Side effects are recorded in memory (no real coupons, messages or tasks).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from engine import ir
from engine.compiler.templates import TemplateRenderError, render
from engine.effects import (
    COUPON_STOCK_EXHAUSTED,
    CUSTOMER_OPTED_OUT,
    NO_GUIDE_AVAILABLE,
    TEMPLATE_RENDER_FAILED,
    UNKNOWN_COUPON_TEMPLATE,
    CouponIssued,
    CouponState,
    CreateTaskRequest,
    CustomerFacts,
    CustomerUpdated,
    EffectFailed,
    FactsRequest,
    IssueCouponRequest,
    MessageSent,
    RunRecord,
    SendMessageRequest,
    TaskCreated,
    TaskNoticeRequest,
    TaskNoticeResult,
    UpdateCustomerRequest,
)
from engine.interpreter import Interpreter, new_state
from engine.runtime import CustomerEventIn, RunState, TaskOutcome
from engine.semantics import parse_time


@dataclass
class CouponTemplateSpec:
    id: str
    face_value: float = 20
    min_spend: float = 0
    validity_days: int = 30
    stock: int | None = None


@dataclass
class ScriptItem:
    """One scripted happening: a customer event, or a guide's task outcome."""

    at: datetime
    event_type: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    task_outcome: str | None = None
    task_node_id: str | None = None  # which task node; None = the newest open task
    note: str = ""
    signal: str | None = None  # "stop" | "pause" | "resume", as the workflow's signals


class SimulationStalled(Exception):
    """The run waits for something the script never provides (e.g. paused forever)."""


@dataclass
class SandboxWorld:
    """The in-memory world a simulated run acts on."""

    facts: CustomerFacts
    coupon_templates: dict[str, CouponTemplateSpec] = field(default_factory=dict)
    past_events: list[tuple[datetime, str]] = field(default_factory=list)
    coupons: list[CouponIssued] = field(default_factory=list)
    redeemed: set[str] = field(default_factory=set)
    messages: list[MessageSent] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    notices: list[TaskNoticeRequest] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)
    #: failures to inject ("what if the stock runs out?", and the property tests): an effect
    #: name (issue_coupon, send_message, create_task, task_notice, update_customer), or
    #: "<effect>:<node id>" for one node only → the failure type it raises for good
    failures: dict[str, str] = field(default_factory=dict)
    #: what templates see of the customer beyond the facts (surname, level name, store,
    #: city, guide …: the worker reads them from the database, a test run passes them in)
    template_customer: dict[str, Any] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=lambda: itertools.count(1))


class SimulatedRuntime:
    """A :class:`engine.runtime.Runtime` over a virtual clock and a :class:`SandboxWorld`."""

    def __init__(
        self, world: SandboxWorld, start: datetime, script: list[ScriptItem] | None = None
    ) -> None:
        self.world = world
        self.clock = start
        self.script = sorted(script or [], key=lambda s: s.at)
        self.interpreter: Interpreter | None = None
        self._issued_keys: dict[str, CouponIssued] = {}

    # --- time
    def now(self) -> datetime:
        return self.clock

    def should_continue_as_new(self) -> bool:
        return False

    def patched(self, change_id: str) -> bool:
        return True  # simulations always run the current semantics

    async def wait(self, *, until: datetime | None, wake: Callable[[], bool]) -> bool:
        while True:
            if wake():
                return True
            item = self.script[0] if self.script else None
            if item is None or (until is not None and item.at > until):
                if until is None:
                    raise SimulationStalled("the run waits with nothing scripted to wake it")
                self.clock = max(self.clock, until)
                return wake()
            self.script.pop(0)
            self.clock = max(self.clock, item.at)
            self._deliver(item)

    def _deliver(self, item: ScriptItem) -> None:
        assert self.interpreter is not None
        if item.signal == "stop":
            self.interpreter.on_stop("stopped")
        elif item.signal in ("pause", "resume"):
            self.interpreter.on_pause(item.signal == "pause")
        if item.event_type:
            n = next(self.world._seq)
            ev = CustomerEventIn(
                f"sim-ev-{n}", item.event_type, item.at.isoformat(), dict(item.properties)
            )
            self.world.past_events.append((item.at, item.event_type))
            if item.event_type == "coupon_redeemed":
                self.world.redeemed.add(str(item.properties.get("coupon_id", "")))
            self.interpreter.on_event(ev)
        if item.task_outcome:
            open_tasks = [
                t
                for t in self.world.tasks
                if t["status"] == "open"
                and (item.task_node_id is None or t["node_id"] == item.task_node_id)
            ]
            if open_tasks:
                task = open_tasks[-1]
                task["status"] = "completed"
                task["outcome"] = item.task_outcome
                self.interpreter.on_task_outcome(
                    TaskOutcome(
                        task["task_id"], item.task_outcome, item.note, item.at.isoformat(), "script"
                    )
                )

    # --- reads
    async def load_facts(self, req: FactsRequest) -> CustomerFacts:
        as_of = parse_time(req.as_of)
        base = self.world.facts
        counts = {
            q.key: sum(
                1
                for at, t in self.world.past_events
                if t == q.event_type and as_of - timedelta(days=q.window_days) <= at <= as_of
            )
            for q in req.event_counts
        }
        coupons = {
            c.coupon_id: CouponState(
                c.coupon_id,
                c.coupon_id in self.world.redeemed or c.code in self.world.redeemed,
                c.expires_at,
            )
            for c in self.world.coupons
            if c.coupon_id in req.coupon_ids
        }
        segments = {sid: base.segments.get(sid, False) for sid in req.segment_ids}
        return CustomerFacts(
            **{
                **base.__dict__,
                "event_counts": counts,
                "coupons": coupons,
                "segments": segments,
                "as_of": req.as_of,
            }
        )

    # --- side effects (sandbox)
    async def issue_coupon(self, req: IssueCouponRequest) -> CouponIssued:
        if req.ctx.idempotency_key in self._issued_keys:
            return self._issued_keys[req.ctx.idempotency_key]
        self._inject("issue_coupon", req.ctx.node_id)
        tpl = self.world.coupon_templates.get(req.coupon_template_id)
        if tpl is None:
            raise EffectFailed(UNKNOWN_COUPON_TEMPLATE, req.coupon_template_id)
        if tpl.stock is not None:
            if tpl.stock <= 0:
                raise EffectFailed(COUPON_STOCK_EXHAUSTED, f"{tpl.id} has no stock left")
            tpl.stock -= 1
        n = next(self.world._seq)
        coupon = CouponIssued(
            coupon_id=f"SIM-CP{n}",
            code=f"SIM{n:05d}",
            template_id=tpl.id,
            face_value=tpl.face_value,
            min_spend=tpl.min_spend,
            issued_at=self.clock.isoformat(),
            expires_at=(self.clock + timedelta(days=tpl.validity_days)).isoformat(),
        )
        self.world.coupons.append(coupon)
        self._issued_keys[req.ctx.idempotency_key] = coupon
        self._then_record(req.then_record)
        return coupon

    async def send_message(self, req: SendMessageRequest) -> MessageSent:
        self._inject("send_message", req.ctx.node_id)
        if req.channel in self.world.facts.opted_out_channels:
            raise EffectFailed(CUSTOMER_OPTED_OUT, f"opted out of {req.channel}")
        n = next(self.world._seq)
        rendered = self._render(req.content, req.context)
        msg = MessageSent(f"SIM-MSG{n}", req.channel, "sandbox", rendered)
        self.world.messages.append(msg)
        self._then_record(req.then_record)
        return msg

    async def create_task(self, req: CreateTaskRequest) -> TaskCreated:
        self._inject("create_task", req.ctx.node_id)
        guide = self.world.facts.guide_id
        if not guide and req.assignee == "bound_guide":
            guide = self.world.facts.attributes.get("store_manager_id")
        if not isinstance(guide, str) or not guide:
            raise EffectFailed(NO_GUIDE_AVAILABLE, "no bound guide and no store manager")
        # rendered like the worker does, so a test run shows the failure a live run would get
        title = self._render(req.title, req.context)
        instructions = self._render(req.instructions, req.context)
        n = next(self.world._seq)
        task_id = f"SIM-T{n}"
        task = {
            "task_id": task_id,
            "node_id": req.ctx.node_id,
            "guide_id": guide,
            "status": "open",
            "outcome": None,
            "due_at": req.due_at,
            "task_type": req.task_type,
            "title": title,
            "instructions": instructions,
        }
        self.world.tasks.append(task)
        return TaskCreated(task_id, guide, guide, req.due_at)

    async def task_notice(self, req: TaskNoticeRequest) -> TaskNoticeResult:
        node_id = next((t["node_id"] for t in self.world.tasks if t["task_id"] == req.task_id), "")
        self._inject("task_notice", node_id)
        self.world.notices.append(req)
        for t in self.world.tasks:
            if t["task_id"] == req.task_id and req.kind in ("expired", "cancelled"):
                t["status"] = req.kind
        return TaskNoticeResult(req.task_id, req.kind, "sandbox")

    async def update_customer(self, req: UpdateCustomerRequest) -> CustomerUpdated:
        self._inject("update_customer", req.ctx.node_id)
        f = self.world.facts
        f.tags = sorted((set(f.tags) | set(req.add_tags)) - set(req.remove_tags))
        f.attributes = {**f.attributes, **req.set_attributes}
        self._then_record(req.then_record)
        return CustomerUpdated(f.customer_id, f.tags, f.attributes)

    async def record_run(self, rec: RunRecord) -> None:
        self.world.records.append(rec)

    def _inject(self, effect: str, node_id: str) -> None:
        failures = self.world.failures
        failure = failures.get(f"{effect}:{node_id}") or failures.get(effect)
        if failure:
            raise EffectFailed(failure, f"{effect} at {node_id or '?'} fails (injected)")

    def _render(self, text: str, ctx: dict[str, Any]) -> str:
        try:
            customer = {**self.world.template_customer, **_customer_view(self.world.facts)}
            return render(text, customer=customer, ctx=ctx)
        except TemplateRenderError as exc:
            raise EffectFailed(TEMPLATE_RENDER_FAILED, str(exc)) from exc
        except Exception as exc:  # e.g. {{ 1 / 0 }}: the worker's renderer reports it too
            raise EffectFailed(TEMPLATE_RENDER_FAILED, f"{type(exc).__name__}: {exc}") from exc

    def _then_record(self, rec: RunRecord | None) -> None:
        if rec is not None:
            self.world.records.append(rec)


async def simulate(
    journey: ir.CompiledJourney,
    world: SandboxWorld,
    *,
    start: datetime,
    script: list[ScriptItem] | None = None,
    entry_event: CustomerEventIn | None = None,
) -> RunState:
    """Run one customer through ``journey`` from ``start``; return the final state."""
    runtime = SimulatedRuntime(world, start, script)
    state = new_state(
        customer_id=world.facts.customer_id,
        enrollment_id="sim",
        entered_at=start,
        entry_node_id=journey.entry_node_id,
        entry_event=entry_event,
    )
    interp = Interpreter(journey, runtime, workflow_id=f"sim-{journey.journey_id}", state=state)
    runtime.interpreter = interp
    await interp.run()
    return interp.state


def _customer_view(f: CustomerFacts) -> dict[str, Any]:
    return {
        "id": f.customer_id,
        "name": f.name,
        "member_level": f.member_level,
        "store_id": f.store_id,
        "guide_id": f.guide_id,
        "tags": f.tags,
        "attributes": f.attributes,
        "rfm_class": f.rfm_class,
        "birthday": f.birthday,
    }

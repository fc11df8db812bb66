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
from typing import Any, TypeVar

from engine import ir
from engine.compiler.templates import TemplateRenderError, render
from engine.contact_policy import (
    ALLOW,
    Contact,
    ContactPolicy,
    PolicyCheckRequest,
    denied_result,
    recency,
    simulate_check,
)
from engine.effects import (
    LOAD_FACTS,
    RECORD_RUN,
    TEMPLATE_RENDER_FAILED,
    CouponIssued,
    CouponState,
    CustomerFacts,
    Effect,
    EffectFailed,
    FactsRequest,
    MessageSent,
    RunRecord,
    TaskNoticeRequest,
)
from engine.interpreter import Interpreter, new_state
from engine.metrics import Purchase, cycle_of, stored_values
from engine.runtime import CustomerEventIn, RunState, TaskOutcome
from engine.semantics import parse_time

Rq = TypeVar("Rq")
Rs = TypeVar("Rs")


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
    #: the brand's contact policy (a test run passes the live one; None: no limits) and
    #: the customer's contacts the caps count (earlier ones scripted, then this run's)
    policy: ContactPolicy | None = None
    contacts: list[Contact] = field(default_factory=list)
    #: the customer's orders, oldest first (a backtest's recorded ones): each facts read
    #: computes the stored metrics (engine.metrics) as of its moment; None: the facts' own
    purchases: list[Purchase] | None = None
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
        #: results kept by an effect's sandbox by key (e.g. a coupon per idempotency key)
        self.done: dict[str, Any] = {}

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

    # --- effects: every effect's sandbox is its ``simulate`` (engine/kinds/<kind>.py)
    async def effect(self, effect: Effect[Rq, Rs], request: Rq) -> Rs:
        if effect is LOAD_FACTS:
            return await self._load_facts(request)  # type: ignore[arg-type,return-value]
        if effect is RECORD_RUN:
            await self._record_run(request)  # type: ignore[arg-type]
            return None  # type: ignore[return-value]
        if effect.simulate is None:
            raise NotImplementedError(f"effect {effect.name!r} has no sandbox (simulate)")
        check = getattr(request, "policy", None)
        if not isinstance(check, PolicyCheckRequest):
            return await effect.simulate(self, request)
        # the action's own contact check (release journey-contact-in-effect): decided
        # first, as the real activity does; held back → nothing done
        before = len(self.world.contacts)
        decision = await simulate_check(self, check)
        if decision.outcome != ALLOW:
            return denied_result(effect.result, decision)  # type: ignore[type-var]
        counted = self.world.contacts[before:]
        try:
            return await effect.simulate(self, request)
        except EffectFailed:
            # an action that failed for good never reached the customer: its contact is
            # taken back, as the worker voids it (no cap slot, no contact)
            for contact in counted:
                self.world.contacts.remove(contact)
            raise

    async def _load_facts(self, req: FactsRequest) -> CustomerFacts:
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
        seen = recency(self.world.contacts, as_of)
        stored: dict[str, Any] = {}
        if self.world.purchases is not None:
            values = stored_values([p for p in self.world.purchases if p.at <= as_of])
            stored = {"metrics": values, "purchase_interval_median_days": cycle_of(values)}
        return CustomerFacts(
            **{
                **base.__dict__,
                **stored,
                "last_contacted_at": seen.last_at.isoformat() if seen.last_at else None,
                "last_contacted_channel": seen.last_channel,
                "contacts_7d": seen.contacts_7d,
                "contacts_30d": seen.contacts_30d,
                "event_counts": counts,
                "coupons": coupons,
                "segments": segments,
                "as_of": req.as_of,
            }
        )

    async def _record_run(self, rec: RunRecord) -> None:
        self.world.records.append(rec)

    # --- what the effects' sandboxes share
    def next_seq(self) -> int:
        """A number unique in this world (ids of coupons, messages, tasks, events)."""
        return next(self.world._seq)

    def inject(self, effect: str, node_id: str) -> None:
        """Raise the failure ``world.failures`` injects for ``effect`` at ``node_id``."""
        failures = self.world.failures
        failure = failures.get(f"{effect}:{node_id}") or failures.get(effect)
        if failure:
            raise EffectFailed(failure, f"{effect} at {node_id or '?'} fails (injected)")

    def render(self, text: str, ctx: dict[str, Any]) -> str:
        """Render a message/task template as the worker would (a failure is a business one)."""
        try:
            customer = {**self.world.template_customer, **_customer_view(self.world.facts)}
            return render(text, customer=customer, ctx=ctx)
        except TemplateRenderError as exc:
            raise EffectFailed(TEMPLATE_RENDER_FAILED, str(exc)) from exc
        except Exception as exc:  # e.g. {{ 1 / 0 }}: the worker's renderer reports it too
            raise EffectFailed(TEMPLATE_RENDER_FAILED, f"{type(exc).__name__}: {exc}") from exc

    def record_after(self, rec: RunRecord | None) -> None:
        """Record the run's end a side effect carries (``then_record``)."""
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

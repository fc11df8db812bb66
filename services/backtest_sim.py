"""The backtest's simulation: recorded customers through one compiled version.

Pure CPU work, no database: :mod:`services.backtest_load` reads the history in bulk and
:mod:`services.backtest` spreads chunks of :class:`CustomerCase` over processes. Each entry
runs through the real interpreter (:mod:`engine.simulation`: virtual clock, sandbox effects,
the contact policy in the sandbox's ledger); what the customer did after entry is their
recorded events and guide task outcomes at their real moments. History ends at
``horizon``: a run still waiting for a moment past it is cut there and counted
(:attr:`Tally.beyond_history`) — the backtest cannot know what came after.
"""

from __future__ import annotations

import asyncio
import dataclasses
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from engine import ir
from engine.contact_policy import Contact, ContactPolicy
from engine.effects import CouponIssued, CustomerFacts, Effect, MessageSent, TaskCreated
from engine.interpreter import Interpreter, new_state
from engine.metrics import Purchase
from engine.runtime import CustomerEventIn
from engine.simulation import CouponTemplateSpec, SandboxWorld, ScriptItem, SimulatedRuntime
from services.goals import ANY_ORDER, Goal
from services.results_store import conversions

Rq = TypeVar("Rq")
Rs = TypeVar("Rs")

#: the port key of a visit where the run ended (no port taken)
ENDED = "(ended)"


@dataclass(slots=True)
class Entry:
    """One recorded entry into the baseline version: when, and the event that brought the
    customer in (type, properties), if the entry was an event."""

    at: datetime
    event: tuple[str, dict[str, Any]] | None = None


@dataclass(slots=True)
class CustomerCase:
    """One customer's recorded history as the backtest needs it (picklable, compact)."""

    facts: CustomerFacts
    entries: list[Entry]
    #: (at, type, properties) of every event from a while before the first entry on
    past_events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    orders: list[tuple[datetime, float]] = field(default_factory=list)
    #: every order up to the horizon, oldest first: the stored metrics (engine.metrics)
    #: as of each moment a run reads the customer's facts; None when no version reads them
    #: (see backtest_load.reads_stored_metrics)
    purchases: list[Purchase] | None = None
    #: recorded guide task outcomes of this journey: (at, node id, outcome)
    outcomes: list[tuple[datetime, str, str]] = field(default_factory=list)
    #: earlier contacts the contact policy's caps count (before the first entry)
    contacts: list[Contact] = field(default_factory=list)


@dataclass
class VersionSpec:
    """What a worker process needs of one side of the comparison."""

    compiled: dict[str, Any]  # engine.ir.to_dict form (picklable, decoded once per process)
    goal: Goal | None


@dataclass
class Setup:
    """Everything but the customers, sent once per process."""

    versions: dict[str, VersionSpec]  # "baseline" / "candidate"
    coupons: dict[str, CouponTemplateSpec]
    policy: ContactPolicy | None
    timezone: str
    horizon: datetime
    #: render messages and tasks as the worker would (slower; see BacktestRuntime.render)
    render_messages: bool = False


@dataclass
class Tally:
    """One version's numbers over a set of customers (sums; merged across chunks)."""

    runs: int = 0
    customers: int = 0
    #: "node|port" → runs that left the node by the port (``ENDED``: the run ended there)
    ports: Counter[str] = field(default_factory=Counter)
    #: node → runs still waiting there when history ended
    waiting: Counter[str] = field(default_factory=Counter)
    beyond_history: int = 0
    coupons: int = 0
    coupon_value: float = 0.0
    #: "channel|YYYY-MM-DD" → messages
    messages: Counter[str] = field(default_factory=Counter)
    #: "guide|YYYY-MM-DD" → guide tasks created
    tasks: Counter[str] = field(default_factory=Counter)
    conversions: int = 0
    revenue: float = 0.0
    #: failure type / "error: …" → runs the simulation could not finish
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, other: Tally) -> None:
        """Add ``other``'s sums to this one."""
        for f in dataclasses.fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, Counter):
                mine.update(theirs)
            else:
                setattr(self, f.name, mine + theirs)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["revenue"] = round(self.revenue, 2)
        out["coupon_value"] = round(self.coupon_value, 2)
        return {k: dict(sorted(v.items())) if isinstance(v, Counter) else v for k, v in out.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Tally:
        t = cls()
        for f in dataclasses.fields(cls):
            value = data.get(f.name)
            if value is None:
                continue
            setattr(t, f.name, Counter(value) if isinstance(getattr(t, f.name), Counter) else value)
        return t


class HistoryEnds(Exception):
    """The run waits for a moment past recorded history."""


class BacktestRuntime(SimulatedRuntime):
    """The simulation runtime, cut at history's end and noting when each action happened
    (the sandbox keeps what was sent, not when)."""

    def __init__(
        self,
        world: SandboxWorld,
        start: datetime,
        script: list[ScriptItem],
        horizon: datetime,
        *,
        render: bool = True,
    ) -> None:
        super().__init__(world, start, script)
        self.horizon = horizon
        self.rendering = render
        self.actions: list[tuple[str, str, datetime]] = []  # (kind, channel or guide, at)

    def render(self, text: str, ctx: dict[str, Any]) -> str:
        # Nobody reads a backtest's messages, and rendering is a fifth of its time: the text
        # goes out as written unless the setup asks for the worker's rendering (which also
        # sends a customer whose template fails to render down the failure path).
        if self.rendering:
            return super().render(text, ctx)
        return text

    async def wait(self, *, until: datetime | None, wake: Callable[[], bool]) -> bool:
        if until is not None and until <= self.horizon:
            return await super().wait(until=until, wake=wake)
        if await super().wait(until=self.horizon, wake=wake):
            return True
        raise HistoryEnds

    async def effect(self, effect: Effect[Rq, Rs], request: Rq) -> Rs:
        result = await super().effect(effect, request)
        if isinstance(result, MessageSent):
            self.actions.append(("message", result.channel, self.clock))
        elif isinstance(result, TaskCreated):
            self.actions.append(("task", result.guide_id, self.clock))
        elif isinstance(result, CouponIssued):
            self.actions.append(("coupon", result.template_id, self.clock))
        return result


_PROCESS: dict[str, Any] = {}


def init_process(setup: Setup) -> None:
    """A worker process's initializer: decode the versions once."""
    _PROCESS["setup"] = setup
    _PROCESS["journeys"] = {k: ir.from_dict(v.compiled) for k, v in setup.versions.items()}


def run_chunk(cases: list[CustomerCase]) -> dict[str, Tally]:
    """Every case through every version of the process's setup → a tally per version."""
    setup: Setup = _PROCESS["setup"]
    journeys: dict[str, ir.CompiledJourney] = _PROCESS["journeys"]
    return asyncio.run(_run_chunk(setup, journeys, cases))


@dataclass
class ChunkDone:
    """A worker's answer: the tallies, and what the chunk cost it (CPU seconds, and the
    worker's peak memory so far in KiB — workers are not this process's children when they
    come from a fork server, so it cannot see them)."""

    tallies: dict[str, Tally]
    cpu_s: float
    peak_rss_kb: int


def run_chunk_measured(cases: list[CustomerCase]) -> ChunkDone:
    """:func:`run_chunk`, with its cost."""
    began = time.process_time()
    tallies = run_chunk(cases)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ChunkDone(tallies, time.process_time() - began, peak)


def run_inline(setup: Setup, cases: list[CustomerCase]) -> dict[str, Tally]:
    """:func:`run_chunk` in this process (tests, small backtests)."""
    init_process(setup)
    return run_chunk(cases)


async def _run_chunk(
    setup: Setup, journeys: dict[str, ir.CompiledJourney], cases: list[CustomerCase]
) -> dict[str, Tally]:
    zone = ZoneInfo(setup.timezone)
    out = {name: Tally() for name in journeys}
    goals = {name: setup.versions[name].goal or ANY_ORDER for name in journeys}
    # stock is chain-wide, not one customer's: the backtest does not spend it (and without
    # stock the sandbox never changes a template, so every run can share them)
    coupons = {
        k: CouponTemplateSpec(v.id, v.face_value, v.min_spend, v.validity_days, None)
        for k, v in setup.coupons.items()
    }
    for case in cases:
        for entry in case.entries:
            # what one entry brings, shared by both versions' runs (each copies what it changes)
            start = entry.at
            past = [(at, t) for at, t, _p in case.past_events if at <= start]
            script = [
                ScriptItem(at=at, event_type=t, properties=p)
                for at, t, p in case.past_events
                if start < at <= setup.horizon
            ]
            script += [
                ScriptItem(at=at, task_outcome=outcome, task_node_id=node)
                for at, node, outcome in case.outcomes
                if start <= at <= setup.horizon
            ]
            contacts = [c for c in case.contacts if c.at < start]
            entry_event = None
            if entry.event is not None:
                entry_event = CustomerEventIn(
                    "bt-entry", entry.event[0], start.isoformat(), entry.event[1]
                )
            for name, journey in journeys.items():
                await _run_one(
                    setup,
                    journey,
                    case.facts,
                    case.purchases,
                    start,
                    past,
                    script,
                    contacts,
                    entry_event,
                    coupons,
                    out[name],
                    zone,
                )
        runs = [(i, "j", 1, e.at) for i, e in enumerate(case.entries)]
        events = [(t, at, props) for at, t, props in case.past_events]
        answers: dict[Goal, list[tuple[bool, float]]] = {}
        for name in journeys:
            goal = goals[name]
            if goal not in answers:
                answers[goal] = list(
                    conversions(runs, events, case.orders, {("j", 1): goal}).values()
                )
            tally = out[name]
            tally.customers += 1
            for conv, rev in answers[goal]:
                tally.conversions += conv
                tally.revenue += rev if conv else 0.0
    return out


async def _run_one(
    setup: Setup,
    journey: ir.CompiledJourney,
    base: CustomerFacts,
    purchases: list[Purchase] | None,
    start: datetime,
    past: list[tuple[datetime, str]],
    script: list[ScriptItem],
    contacts: list[Contact],
    entry_event: CustomerEventIn | None,
    coupons: dict[str, CouponTemplateSpec],
    tally: Tally,
    zone: ZoneInfo,
) -> None:
    facts = dataclasses.replace(base, tags=list(base.tags), attributes=dict(base.attributes))
    world = SandboxWorld(
        facts=facts,
        purchases=purchases,
        coupon_templates=coupons,
        past_events=list(past),
        policy=setup.policy,
        contacts=list(contacts),
    )
    runtime = BacktestRuntime(world, start, script, setup.horizon, render=setup.render_messages)
    state = new_state(
        customer_id=facts.customer_id,
        enrollment_id="backtest",
        entered_at=start,
        entry_node_id=journey.entry_node_id,
        entry_event=entry_event,
    )
    interp = Interpreter(journey, runtime, workflow_id=f"bt-{facts.customer_id}", state=state)
    runtime.interpreter = interp
    tally.runs += 1
    cut = False
    try:
        await interp.run()
    except HistoryEnds:
        cut = True
    except Exception as exc:  # one customer's failure is counted, never the whole backtest
        tally.errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
    ports = tally.ports
    for rec in world.records:
        for v in rec.visits:
            ports[f"{v.node_id}|{v.port or ENDED}"] += 1
    for v in state.pending_visits:
        ports[f"{v.node_id}|{v.port or ENDED}"] += 1
    if cut:
        tally.beyond_history += 1
        tally.waiting[state.current or "?"] += 1
    for kind, who, at in runtime.actions:
        day = at.astimezone(zone).date().isoformat()
        if kind == "message":
            tally.messages[f"{who}|{day}"] += 1
        elif kind == "task":
            tally.tasks[f"{who}|{day}"] += 1
    tally.coupons += len(world.coupons)
    tally.coupon_value += sum(c.face_value for c in world.coupons)

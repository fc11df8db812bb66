"""``wait_purchase_cycle``: wait until P % of the customer's own purchase cycle has passed
since their last purchase ("45 天周期的 90%": market around day 40 of a 45-day cycle).

The cycle is ``purchase_interval_median_days`` (the median of the days between the
customer's purchases, :mod:`audiences.lifecycle`), read with ``last_purchase_at`` through
``load_facts`` when the customer reaches the step. Which rule applies:

* **cycle** — two purchases or more: ``last purchase + cycle × percent / 100``.
* **fallback** — fewer than two purchases (no cycle yet): ``fallback`` after the one
  purchase, or after the moment the customer reaches this step when there is none. A
  last-purchase time or cycle that cannot be read counts as no cycle (the trace says so),
  so bad data never strands a run.

With ``at_time`` the wait ends on that day at that time of day in the customer's zone (the
journey's zone when the customer has none or an unknown one). A moment already past —
a customer whose last purchase is long ago — continues at once; the trace says so. The
moment is fixed when the customer arrives: a purchase during the wait does not move it
(follow the wait with a branch, or use ``wait_for_event`` to react to purchases).
"""

import math
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
from engine.document_parts import Duration, NodeBase, NodeKind, TimeUnit, _Model
from engine.effect_parts import CustomerFacts
from engine.ir_parts import StepBase
from engine.kinds.spec import KindSpec, StepHead

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

NEXT = "next"
#: Rules recorded in the trace (``inputs.rule``), which the canvas words per language.
CYCLE = "cycle"
FALLBACK = "fallback"
#: Why the fallback applied (``inputs.reason``).
NO_PURCHASE = "no_purchase"
ONE_PURCHASE = "one_purchase"
BAD_DATA = "bad_data"

# --------------------------------------------------------------------------- document


class WaitPurchaseCycleConfig(_Model):
    percent: int = Field(default=90, ge=1, le=500, description="Share of the customer's cycle.")
    fallback: Duration = Field(
        default_factory=lambda: Duration(amount=14, unit=TimeUnit.DAYS),
        description="For customers with fewer than two purchases.",
    )
    at_time: str | None = Field(
        default=None, pattern=r"^\d{2}:\d{2}$", description="Time of day, customer's zone."
    )


class WaitPurchaseCycleNode(NodeBase):
    kind: Literal[NodeKind.WAIT_PURCHASE_CYCLE] = NodeKind.WAIT_PURCHASE_CYCLE
    config: WaitPurchaseCycleConfig = Field(default_factory=WaitPurchaseCycleConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class WaitPurchaseCycleStep(StepBase):
    percent: int = 100
    fallback_seconds: int = 0
    #: minutes after local midnight the wait ends at, on the computed day; None: exactly
    at_minute: int | None = None


# --------------------------------------------------------------------------- compile


def ports(node: WaitPurchaseCycleNode) -> tuple[str, ...]:
    return (NEXT,)


def validate(node: WaitPurchaseCycleNode, ctx: "Context", diags: Diagnostics) -> None:
    name = common.label(node)
    fallback = node.config.fallback
    if common.seconds(fallback) == 0:
        diags.error(
            Code.INVALID_WAIT,
            f"'{name}': the fallback must be at least 1 minute.",
            nodes=[node.id],
            hint="Set how long customers with fewer than two purchases wait, e.g. 14 days.",
            params={"field": "fallback", "problem": "zero"},
        )
    elif common.seconds(fallback) > common.MAX_WAIT_SECONDS:
        diags.error(
            Code.INVALID_WAIT,
            f"'{name}': the fallback of {fallback.amount} {fallback.unit.value} is longer "
            "than 90 days.",
            nodes=[node.id],
            hint="Waits can be at most 90 days; chain a second wait for longer pauses.",
            params={"field": "fallback", "problem": "too_long"},
        )
    at = node.config.at_time
    if at is not None:
        hh, mm = (int(p) for p in at.split(":"))
        if hh > 23 or mm > 59:
            diags.error(
                Code.INVALID_WAIT,
                f"'{name}': '{at}' is not a time of day.",
                nodes=[node.id],
                hint="Use HH:MM between 00:00 and 23:59, or leave the time empty.",
                params={"field": "at_time", "problem": "not_a_time"},
            )


def build(node: WaitPurchaseCycleNode, head: StepHead) -> WaitPurchaseCycleStep:
    c = node.config
    at_minute = None
    if c.at_time is not None:
        hh, mm = c.at_time.split(":")
        at_minute = int(hh) * 60 + int(mm)
    return WaitPurchaseCycleStep(
        head.node_id,
        head.label,
        head.transitions,
        percent=c.percent,
        fallback_seconds=common.seconds(c.fallback),
        at_minute=at_minute,
    )


# --------------------------------------------------------------------------- run


@dataclass(frozen=True)
class CycleMoment:
    """When the wait ends and why (what the trace records)."""

    until: datetime
    rule: str  # CYCLE | FALLBACK
    reason: str = ""  # for FALLBACK: NO_PURCHASE | ONE_PURCHASE | BAD_DATA
    cycle_days: float | None = None
    since: str | None = None  # the last purchase the moment counts from (ISO), if any


def cycle_moment(
    step: WaitPurchaseCycleStep, facts: CustomerFacts, now: datetime, tz: ZoneInfo
) -> CycleMoment:
    """The moment the wait ends (pure: the rules of this module's docstring)."""
    last: datetime | None = None
    bad = False
    if facts.last_purchase_at:
        try:
            last = semantics.parse_time(facts.last_purchase_at)
        except ValueError:
            bad = True
    cycle = facts.purchase_interval_median_days
    if cycle is not None and not (isinstance(cycle, int | float) and math.isfinite(cycle)):
        bad, cycle = True, None
    if cycle is not None and cycle <= 0:
        bad, cycle = True, None
    if last is not None and cycle is not None:
        until = last + timedelta(days=cycle * step.percent / 100)
        moment = CycleMoment(until, CYCLE, cycle_days=cycle, since=last.isoformat())
    else:
        reason = BAD_DATA if bad else (ONE_PURCHASE if last is not None else NO_PURCHASE)
        base = last if last is not None else now
        until = base + timedelta(seconds=step.fallback_seconds)
        moment = CycleMoment(
            until, FALLBACK, reason, since=last.isoformat() if last is not None else None
        )
    if step.at_minute is not None:
        day = moment.until.astimezone(tz).date()
        at = time(step.at_minute // 60, step.at_minute % 60)
        local = datetime.combine(day, at, tzinfo=tz)
        moment = CycleMoment(
            local.astimezone(moment.until.tzinfo),
            moment.rule,
            moment.reason,
            moment.cycle_days,
            moment.since,
        )
    return moment


async def run(
    step: WaitPurchaseCycleStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    now = it.rt.now()
    facts = await it.facts([], [])
    tz = semantics.zone(facts.timezone, it.journey.timezone)
    m = cycle_moment(step, facts, now, tz)
    if m.rule == CYCLE:
        why = f"{step.percent}% of the {m.cycle_days:g}-day cycle since {m.since}"
        entry.inputs = {"rule": CYCLE, "percent": step.percent, "cycle_days": m.cycle_days}
    else:
        why = f"fallback ({m.reason}): {step.fallback_seconds}s" + (
            f" since {m.since}" if m.since else " from now"
        )
        entry.inputs = {
            "rule": FALLBACK,
            "reason": m.reason,
            "fallback_seconds": step.fallback_seconds,
        }
        if m.reason == BAD_DATA:
            entry.inputs["data"] = {
                "last_purchase_at": facts.last_purchase_at,
                "purchase_interval_median_days": str(facts.purchase_interval_median_days),
            }
    if m.since:
        entry.inputs["last_purchase_at"] = m.since
    entry.result = {"until": m.until.isoformat()}
    if m.until <= now:
        entry.result["past"] = True
        entry.summary = f"{why} → {m.until.isoformat(timespec='minutes')}, already past: continue"
        return NEXT
    entry.summary = f"{why} → wait until {m.until.isoformat(timespec='minutes')}"
    await it.park(step.node_id, "timer", m.until, why)
    await it.rt.wait(until=m.until, wake=it.interrupted)
    it.state.waiting = None
    return None if it.interrupted() else NEXT


SPEC = KindSpec(
    kind=NodeKind.WAIT_PURCHASE_CYCLE,
    node=WaitPurchaseCycleNode,
    step=WaitPurchaseCycleStep,
    ir_classes=(WaitPurchaseCycleStep,),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    waits=True,
    example={"percent": 90, "fallback": {"amount": 14, "unit": "days"}, "at_time": "10:00"},
)

"""``wait``: pause for a duration, or until a moment — a coupon's expiry, a birthday, a date —
optionally moved into a daily send window."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
from engine.document_parts import Duration, NodeBase, NodeKind, TimeUnit, _Model
from engine.ir_parts import StepBase
from engine.kinds.spec import KindSpec, StepHead

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

NEXT = "next"

# --------------------------------------------------------------------------- document


class TimeWindow(_Model):
    """Align the end of a wait into a daily send window, e.g. next 10:00–20:00."""

    start: str = Field(default="10:00", pattern=r"^\d{2}:\d{2}$")
    end: str = Field(default="20:00", pattern=r"^\d{2}:\d{2}$")
    timezone: Literal["customer", "store"] = "customer"


class WaitDuration(_Model):
    type: Literal["duration"] = "duration"
    duration: Duration = Field(default_factory=lambda: Duration(amount=1, unit=TimeUnit.DAYS))


class WaitUntilContext(_Model):
    """Until a moment stored in the journey context, e.g. 3 days before a coupon expires."""

    type: Literal["context"] = "context"
    node_id: str = Field(min_length=1, description="An upstream send_coupon / assign_guide_task.")
    field: Literal["expires_at", "issued_at", "due_at"] = "expires_at"
    offset: Duration = Field(default_factory=lambda: Duration(amount=0))
    direction: Literal["before", "after"] = "before"


class WaitUntilCustomerDate(_Model):
    """Until the customer's next birthday (or its month start), with an offset."""

    type: Literal["customer_date"] = "customer_date"
    field: Literal["birthday", "birthday_month_start"] = "birthday"
    offset: Duration = Field(default_factory=lambda: Duration(amount=0))
    direction: Literal["before", "after"] = "before"


class WaitUntilAbsolute(_Model):
    type: Literal["absolute"] = "absolute"
    at: datetime


WaitSpec = Annotated[
    WaitDuration | WaitUntilContext | WaitUntilCustomerDate | WaitUntilAbsolute,
    Field(discriminator="type"),
]


class WaitConfig(_Model):
    until: WaitSpec = Field(default_factory=WaitDuration)
    window: TimeWindow | None = None


class WaitNode(NodeBase):
    kind: Literal[NodeKind.WAIT] = NodeKind.WAIT
    config: WaitConfig = Field(default_factory=WaitConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class DelayFor:
    seconds: int


@dataclass(frozen=True)
class UntilContext:
    """``offset_seconds`` is signed: negative = before the moment."""

    node_id: str
    field: str
    offset_seconds: int


@dataclass(frozen=True)
class UntilCustomerDate:
    field: str
    offset_seconds: int


@dataclass(frozen=True)
class UntilAbsolute:
    at: str


WaitUntil = Union[DelayFor, UntilContext, UntilCustomerDate, UntilAbsolute]  # noqa: UP007


@dataclass(frozen=True)
class Window:
    """A daily send window in minutes after local midnight; ``end`` may be < ``start``."""

    start_minute: int
    end_minute: int
    timezone_source: str  # "customer" | "store"


@dataclass(frozen=True)
class WaitStep(StepBase):
    until: WaitUntil = field(default_factory=lambda: DelayFor(0))
    window: Window | None = None


# --------------------------------------------------------------------------- compile


def ports(node: WaitNode) -> tuple[str, ...]:
    return (NEXT,)


def validate(node: WaitNode, ctx: "Context", diags: Diagnostics) -> None:
    until = node.config.until
    if until.type == "duration":
        common.check_duration(node.id, common.label(node), "the wait", until.duration, diags)
    elif until.type in ("context", "customer_date"):
        common.check_duration(
            node.id, common.label(node), "the offset", until.offset, diags, allow_zero=True
        )
    if node.config.window is not None:
        check_window(node.id, common.label(node), node.config.window, diags)


def check_window(node_id: str, label: str, window: TimeWindow, diags: Diagnostics) -> None:
    """A send window's times are times of day, and it is not empty (also the action kinds'
    ``window``)."""
    for name, value in (("start", window.start), ("end", window.end)):
        hh, mm = (int(p) for p in value.split(":"))
        if hh > 23 or mm > 59:
            diags.error(
                Code.INVALID_WINDOW,
                f"'{label}': window {name} '{value}' is not a time of day.",
                nodes=[node_id],
                hint="Use HH:MM between 00:00 and 23:59.",
            )
    if window.start == window.end:
        diags.error(
            Code.INVALID_WINDOW,
            f"'{label}': the send window starts and ends at {window.start}, so it is empty.",
            nodes=[node_id],
        )


def context_refs(node: WaitNode) -> list[tuple[str, str | None]]:
    until = node.config.until
    return [(until.node_id, until.field)] if isinstance(until, WaitUntilContext) else []


def _minutes(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    return int(hh) * 60 + int(mm)


def _signed(offset_seconds: int, direction: str) -> int:
    return -offset_seconds if direction == "before" else offset_seconds


def build(node: WaitNode, head: StepHead) -> WaitStep:
    u = node.config.until
    until: WaitUntil
    if u.type == "duration":
        until = DelayFor(common.seconds(u.duration))
    elif u.type == "context":
        until = UntilContext(u.node_id, u.field, _signed(common.seconds(u.offset), u.direction))
    elif u.type == "customer_date":
        until = UntilCustomerDate(u.field, _signed(common.seconds(u.offset), u.direction))
    else:
        until = UntilAbsolute(u.at.isoformat())
    return WaitStep(
        head.node_id,
        head.label,
        head.transitions,
        until=until,
        window=build_window(node.config.window),
    )


def build_window(w: TimeWindow | None) -> Window | None:
    """A document send window as the IR's (also the action kinds' ``window``)."""
    return Window(_minutes(w.start), _minutes(w.end), w.timezone) if w else None


# --------------------------------------------------------------------------- run


async def run(step: WaitStep, it: "Interpreter", entry: "TraceEntry", visit: int) -> str | None:
    now = it.rt.now()
    # moved here in place from an older version: the duration counts from the arrival there
    since = it.arrived_at(step.node_id) or now
    target, why = await _target(step, it, since)
    entry.inputs = {"rule": why}
    if target is None:
        entry.summary = f"no wait: {why}"
        return NEXT
    if step.window is not None:
        tz_name = await it.timezone(step.window.timezone_source)
        aligned = semantics.align_to_window(
            target, step.window, semantics.zone(tz_name, it.journey.timezone)
        )
        if aligned != target:
            entry.inputs["window"] = f"moved into send window ({tz_name})"
        target = aligned
    entry.result = {"until": target.isoformat()}
    entry.summary = f"wait until {target.isoformat(timespec='minutes')}"
    if target <= now:
        return NEXT
    await it.park(step.node_id, "timer", target, why)
    await it.rt.wait(until=target, wake=it.interrupted)
    it.state.waiting = None
    return None if it.interrupted() else NEXT


async def _target(step: WaitStep, it: "Interpreter", now: datetime) -> tuple[datetime | None, str]:
    until = step.until
    if isinstance(until, DelayFor):
        return now + timedelta(seconds=until.seconds), f"{until.seconds}s"
    if isinstance(until, UntilAbsolute):
        return semantics.parse_time(until.at), until.at
    if isinstance(until, UntilContext):
        raw = it.state.context.get(until.node_id, {}).get(until.field)
        if not raw:
            return None, f"{until.node_id}.{until.field} has no value on this path"
        moment = semantics.parse_time(raw) + timedelta(seconds=until.offset_seconds)
        return moment, f"{until.node_id}.{until.field}{until.offset_seconds:+d}s"
    facts = await it.facts([], [])
    if not facts.birthday:
        return None, "customer has no birthday"
    tz = semantics.zone(facts.timezone, it.journey.timezone)
    birthday = semantics.next_birthday(
        facts.birthday,
        now,
        tz,
        month_start=until.field == "birthday_month_start",
        offset_seconds=until.offset_seconds,
    )
    return birthday, f"{until.field} {facts.birthday}{until.offset_seconds:+d}s"


SPEC = KindSpec(
    kind=NodeKind.WAIT,
    node=WaitNode,
    step=WaitStep,
    ir_classes=(WaitStep, DelayFor, UntilContext, UntilCustomerDate, UntilAbsolute, Window),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    context_refs=context_refs,
    waits=True,
    example={"until": {"type": "duration", "duration": {"amount": 2, "unit": "days"}}},
)

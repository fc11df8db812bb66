"""``wait_until_date``: wait until a date of the customer's profile — their birthday, the day
they joined (``member_since``) or a date attribute (``attributes.due_date``,
``attributes.baby_birthday``) — on the date itself or on its next yearly anniversary, N days
before or after, at a time of day in the customer's time zone.

Rules (docs/architecture.md "Add a node kind"; the date arithmetic is :func:`target_moment`):

* **Time zone**: the customer's, else their store's, else the journey's.
* **Anniversary** (``mode="anniversary"``): the first anniversary *after* the date's own year
  (a member's first anniversary is a year after joining) whose moment (anniversary ± offset,
  at the time of day) is still ahead — strictly, so a yearly loop back into the node right
  at the moment waits for next year's instead of firing twice. 29 February falls on
  **28 February** in common years (the last day of the same month, so "7 days before" stays
  in February).
* **Once** (``mode="date"``): the date itself ± offset. When that moment has already passed
  as the customer arrives (a due date behind them), they continue at once on ``passed``;
  the trace says which moment it was.
* **Bad data**: no value for the date (an attribute the customer does not have) or a value
  that is not a date (``"soon"``) takes the node's ``on_failure`` path (default: end the
  customer's path — a greeting on the wrong day is worse than none) with the reason in the
  trace; never a stranded run.
"""

# No "from __future__ import annotations": see engine/effects.py.

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
from engine.document_parts import NodeBase, NodeKind, OnFailure, _Model
from engine.effect_parts import CustomerFacts
from engine.ir_parts import OnFailure as IrOnFailure
from engine.ir_parts import StepBase
from engine.kinds.spec import KindSpec, StepHead

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

NEXT = "next"
PASSED = "passed"
FAILED = "failed"

#: The largest offset, in days, either way (an anniversary ± a year reaches every day).
MAX_OFFSET_DAYS = 365
#: Where the date comes from: the profile's own fields, or ``attributes.<key>``.
PROFILE_DATES = ("birthday", "member_since")
ATTRIBUTE_PREFIX = "attributes."
#: An attribute key: a name, or a dotted path into a nested attribute (``baby.birthday``).
ATTRIBUTE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}(\.[A-Za-z_][A-Za-z0-9_]{0,63})*$")
#: Run-time failures (the trace's ``error``; the run note shows them).
DATE_MISSING = "DateMissing"
NOT_A_DATE = "NotADate"

# --------------------------------------------------------------------------- document


class WaitUntilDateConfig(_Model):
    source: Literal["birthday", "member_since", "attribute"] = "birthday"
    attribute: str = Field(
        default="",
        max_length=80,
        description="With source 'attribute': the profile attribute holding the date.",
    )
    mode: Literal["anniversary", "date"] = "anniversary"
    offset_days: int = Field(default=0, ge=0, le=MAX_OFFSET_DAYS)
    direction: Literal["before", "after"] = "before"
    at_time: str = Field(default="10:00", pattern=r"^\d{2}:\d{2}$")
    on_failure: OnFailure = OnFailure.EXIT


class WaitUntilDateNode(NodeBase):
    kind: Literal[NodeKind.WAIT_UNTIL_DATE] = NodeKind.WAIT_UNTIL_DATE
    config: WaitUntilDateConfig = Field(default_factory=WaitUntilDateConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class WaitUntilDateStep(StepBase):
    #: ``birthday`` | ``member_since`` | ``attributes.<key>``
    source: str = "birthday"
    yearly: bool = True
    #: signed: negative = before the date
    offset_days: int = 0
    #: the time of day, in minutes after local midnight
    at_minute: int = 600
    on_failure: IrOnFailure = IrOnFailure.EXIT


# --------------------------------------------------------------------------- date arithmetic


def anniversary(day: date, year: int) -> date:
    """``day`` in ``year``; 29 February is 28 February in a common year."""
    if day.month == 2 and day.day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return day.replace(year=year)


def local_moment(day: date, offset_days: int, at_minute: int, tz: ZoneInfo) -> datetime:
    """``day`` moved by ``offset_days`` (across month and year ends), at the wall-clock time
    ``at_minute`` in ``tz`` (a time a DST change skips resolves as :mod:`zoneinfo` does)."""
    shifted = day + timedelta(days=offset_days)
    return datetime.combine(shifted, time(at_minute // 60, at_minute % 60), tzinfo=tz)


def target_moment(
    day: date, now: datetime, tz: ZoneInfo, *, yearly: bool, offset_days: int, at_minute: int
) -> datetime:
    """When to continue: the date ± offset at the time of day (``yearly``: of its first
    anniversary after the date's own year whose moment is after ``now``). A once-only moment
    may be now or in the past; the caller decides what that means."""
    if not yearly:
        return local_moment(day, offset_days, at_minute, tz)
    # an offset reaches at most a year either side, so start a year before now's year
    year = max(day.year + 1, now.astimezone(tz).year - 1)
    while True:  # moments grow with the year: ends within three turns
        moment = local_moment(anniversary(day, year), offset_days, at_minute, tz)
        if moment > now:
            return moment
        year += 1


def parse_profile_date(value: Any, tz: ZoneInfo) -> date | None:
    """A profile value as a calendar day: ``YYYY-MM-DD``, or an ISO date-time (its day in
    ``tz`` when it names its offset); ``None`` for anything else (``"soon"``, a number)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.astimezone(tz).date() if moment.tzinfo is not None else moment.date()


def customer_zone(facts: CustomerFacts, journey_timezone: str) -> tuple[ZoneInfo, str]:
    """The customer's zone, else their store's, else the journey's (unknown names skipped)."""
    for name in (facts.timezone, facts.store_timezone, journey_timezone):
        if not name:
            continue
        try:
            return ZoneInfo(name), name
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC"), "UTC"


def profile_value(source: str, facts: CustomerFacts) -> Any:
    """The raw value of ``source`` (``birthday``, ``member_since``, ``attributes.<key>``)."""
    if source == "birthday":
        return facts.birthday
    if source == "member_since":
        return facts.member_since
    return semantics.lookup(facts.attributes, source.removeprefix(ATTRIBUTE_PREFIX))


# --------------------------------------------------------------------------- compile


def ports(node: WaitUntilDateNode) -> tuple[str, ...]:
    c = node.config
    return (
        (NEXT,)
        + ((PASSED,) if c.mode == "date" else ())
        + ((FAILED,) if c.on_failure is OnFailure.PORT else ())
    )


def lenient_ports(config: dict[str, Any]) -> tuple[str, ...]:
    """The ports of a config that does not validate yet (the canvas keeps their edges)."""
    return (
        (NEXT,)
        + ((PASSED,) if config.get("mode") == "date" else ())
        + ((FAILED,) if config.get("on_failure") == OnFailure.PORT.value else ())
    )


def attribute_key(attribute: str) -> str:
    """``due_date`` from ``due_date`` or ``attributes.due_date``."""
    return attribute.strip().removeprefix(ATTRIBUTE_PREFIX)


def validate(node: WaitUntilDateNode, ctx: "Context", diags: Diagnostics) -> None:
    c = node.config
    label = common.label(node)
    if c.source == "attribute":
        key = attribute_key(c.attribute)
        if not key:
            _field_error(
                diags,
                node.id,
                "attribute",
                "missing",
                f"'{label}' waits for a date attribute but names none.",
                "Fill in the attribute, e.g. due_date or baby_birthday.",
            )
        elif not ATTRIBUTE_KEY.match(key):
            _field_error(
                diags,
                node.id,
                "attribute",
                "string_pattern_mismatch",
                f"'{label}': '{c.attribute}' is not an attribute name.",
                "Use letters, digits and _ (a dot reaches inside one), e.g. due_date or "
                "attributes.baby_birthday.",
            )
    hh, mm = (int(p) for p in c.at_time.split(":"))
    if hh > 23 or mm > 59:
        _field_error(
            diags,
            node.id,
            "at_time",
            "string_pattern_mismatch",
            f"'{label}': '{c.at_time}' is not a time of day.",
            "Use HH:MM between 00:00 and 23:59.",
        )


def _field_error(
    diags: Diagnostics, node_id: str, field_name: str, problem: str, message: str, hint: str
) -> None:
    """An INVALID_CONFIG finding shaped like pydantic's, so the canvas names the field."""
    diags.error(
        Code.INVALID_CONFIG,
        message,
        nodes=[node_id],
        hint=hint,
        params={
            "kind": NodeKind.WAIT_UNTIL_DATE.value,
            "errors": [{"loc": ["config", field_name], "type": problem}],
        },
    )


def build(node: WaitUntilDateNode, head: StepHead) -> WaitUntilDateStep:
    c = node.config
    source = c.source if c.source != "attribute" else ATTRIBUTE_PREFIX + attribute_key(c.attribute)
    hh, mm = (int(p) for p in c.at_time.split(":"))
    return WaitUntilDateStep(
        head.node_id,
        head.label,
        head.transitions,
        source=source,
        yearly=c.mode == "anniversary",
        offset_days=-c.offset_days if c.direction == "before" else c.offset_days,
        at_minute=hh * 60 + mm,
        on_failure=common.on_failure(c.on_failure),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: WaitUntilDateStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    now = it.rt.now()
    facts = await it.facts([], [])
    tz, tz_name = customer_zone(facts, it.journey.timezone)
    raw = profile_value(step.source, facts)
    entry.inputs = {"date": step.source, "value": raw, "timezone": tz_name}
    if raw is None or raw == "":
        return _failed(step, it, entry, DATE_MISSING, f"the customer has no {step.source}")
    day = parse_profile_date(raw, tz)
    if day is None:
        return _failed(
            step, it, entry, NOT_A_DATE, f"{step.source} is {raw!r}, not a date (YYYY-MM-DD)"
        )
    target = target_moment(
        day,
        now,
        tz,
        yearly=step.yearly,
        offset_days=step.offset_days,
        at_minute=step.at_minute,
    )
    local = target.strftime("%Y-%m-%d %H:%M")
    why = f"{step.source} {day.isoformat()}{step.offset_days:+d}d at {local} {tz_name}"
    entry.inputs["rule"] = why
    entry.result = {"until": target.isoformat(), "local": local, "date": day.isoformat()}
    it.state.context[step.node_id] = {"date": day.isoformat(), "until": target.isoformat()}
    if target < now:  # only a once-only date can be behind the customer
        entry.result["passed"] = True
        entry.summary = f"passed: {local} ({tz_name}) was before this visit"
        return PASSED
    entry.summary = f"waiting until {local} ({tz_name})"
    if target == now:
        return NEXT
    await it.park(step.node_id, "timer", target, why)
    await it.rt.wait(until=target, wake=it.interrupted)
    it.state.waiting = None
    return None if it.interrupted() else NEXT


def _failed(
    step: WaitUntilDateStep, it: "Interpreter", entry: "TraceEntry", error: str, why: str
) -> str | None:
    """Bad profile data: recorded like a failed effect, then the node's ``on_failure`` path."""
    entry.error = error
    entry.summary = f"failed: {error} — {why}"
    it.state.context[step.node_id] = {"failed": True, "error": error}
    return it.failure_port(step)


SPEC = KindSpec(
    kind=NodeKind.WAIT_UNTIL_DATE,
    node=WaitUntilDateNode,
    step=WaitUntilDateStep,
    ir_classes=(WaitUntilDateStep,),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    failure_ports={
        IrOnFailure.CONTINUE: NEXT,
        IrOnFailure.EXIT: None,
        IrOnFailure.PORT: FAILED,
    },
    context_fields=("date", "until", "failed"),
    waits=True,
    example={
        "source": "member_since",
        "mode": "anniversary",
        "offset_days": 7,
        "direction": "before",
        "at_time": "10:00",
    },
)

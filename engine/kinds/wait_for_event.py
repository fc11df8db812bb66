"""``wait_for_event``: continue when the customer does something (``matched``), or time out."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Diagnostics
from engine.document_parts import Duration, NodeBase, NodeKind, PropertyFilter, TimeUnit, _Model
from engine.ir_parts import Filter, StepBase
from engine.kinds.spec import KindSpec, ShownField, StepHead
from engine.runtime import EVENT_BUFFER_LIMIT, CustomerEventIn

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

MATCHED = "matched"
TIMEOUT = "timeout"

# --------------------------------------------------------------------------- document


class WaitForEventConfig(_Model):
    event_type: str = Field(min_length=1, max_length=64)
    filters: list[PropertyFilter] = Field(default_factory=list, max_length=20)
    timeout: Duration = Field(default_factory=lambda: Duration(amount=3, unit=TimeUnit.DAYS))


class WaitForEventNode(NodeBase):
    kind: Literal[NodeKind.WAIT_FOR_EVENT] = NodeKind.WAIT_FOR_EVENT
    config: WaitForEventConfig


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class WaitForEventStep(StepBase):
    event_type: str = ""
    filters: tuple[Filter, ...] = ()
    timeout_seconds: int = 0


# --------------------------------------------------------------------------- compile


def ports(node: WaitForEventNode) -> tuple[str, ...]:
    return (MATCHED, TIMEOUT)


def validate(node: WaitForEventNode, ctx: "Context", diags: Diagnostics) -> None:
    common.check_duration(node.id, common.label(node), "timeout", node.config.timeout, diags)
    common.check_filters(node.id, node.config.filters, diags)


def build(node: WaitForEventNode, head: StepHead) -> WaitForEventStep:
    wfe = node.config
    return WaitForEventStep(
        head.node_id,
        head.label,
        head.transitions,
        event_type=wfe.event_type,
        filters=common.filters(wfe.filters),
        timeout_seconds=common.seconds(wfe.timeout),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: WaitForEventStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    # moved here in place from an older version: still waiting since the arrival there
    since = it.arrived_at(step.node_id) or it.rt.now()
    deadline = since + timedelta(seconds=step.timeout_seconds)
    entry.inputs = {"event_type": step.event_type, "since": since.isoformat()}
    found: list[CustomerEventIn] = []

    def matched() -> bool:
        if not found:
            ev = _find_event(step, it, since)
            if ev is not None:
                found.append(ev)
        return bool(found) or it.interrupted()

    if not matched():
        await it.park(step.node_id, "event", deadline, step.event_type)
        await it.rt.wait(until=deadline, wake=matched)
        it.state.waiting = None
    if found:
        ev = found[0]
        consumed = it.state.consumed_event_ids
        consumed.append(ev.event_id)
        consumed[:] = consumed[-EVENT_BUFFER_LIMIT:]
        it.state.context[step.node_id] = {
            "event_id": ev.event_id,
            "type": ev.type,
            "occurred_at": ev.occurred_at,
            "properties": ev.properties,
        }
        entry.result = {"event_id": ev.event_id, "occurred_at": ev.occurred_at}
        entry.summary = f"{ev.type} at {ev.occurred_at[:16]}"
        return MATCHED
    if it.interrupted():
        return None
    entry.summary = f"no {step.event_type} by {deadline.isoformat(timespec='minutes')}"
    return TIMEOUT


def _find_event(
    step: WaitForEventStep, it: "Interpreter", since: datetime
) -> CustomerEventIn | None:
    for ev in it.state.events:
        if ev.event_id in it.state.consumed_event_ids:
            continue
        if not semantics.event_matches(step.event_type, step.filters, ev.type, ev.properties):
            continue
        # only what happened after the wait began counts, however early the signal came
        if semantics.parse_time(ev.occurred_at) >= since:
            return ev
    return None


SPEC = KindSpec(
    kind=NodeKind.WAIT_FOR_EVENT,
    node=WaitForEventNode,
    step=WaitForEventStep,
    ir_classes=(WaitForEventStep,),
    ports=ports,
    static_ports=(MATCHED, TIMEOUT),
    validate=validate,
    build=build,
    run=run,
    waits=True,
    example={"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
    shown_fields=(ShownField("type", "purchase"), ShownField("occurred_at", timedelta(0))),
)

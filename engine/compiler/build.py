"""Build: a validated :class:`JourneyDocument` → the frozen IR (:mod:`engine.ir`).

Runs only when the passes found no errors, so it may assume a well-formed graph.
"""

from __future__ import annotations

from collections import defaultdict

from engine import ir
from engine.compiler.passes import seconds
from engine.document import (
    AnyNode,
    AssignGuideTaskNode,
    AttributeCondition,
    BranchNode,
    Condition,
    ContextCondition,
    EntryNode,
    EventCountCondition,
    EventTrigger,
    ExitNode,
    JourneyDocument,
    ManualTrigger,
    PropertyFilter,
    RfmCondition,
    SegmentCondition,
    SendCouponNode,
    SendMessageNode,
    SplitNode,
    TagCondition,
    UpdateCustomerNode,
    WaitForEventNode,
    WaitNode,
)
from engine.ports import output_ports


def _value(v: object) -> ir.Value:
    return tuple(v) if isinstance(v, list) else v  # type: ignore[return-value]


def _filters(filters: list[PropertyFilter]) -> tuple[ir.Filter, ...]:
    return tuple(ir.Filter(f.field, ir.Op(f.op.value), _value(f.value)) for f in filters)


def _cond(c: Condition) -> ir.Cond:
    if isinstance(c, AttributeCondition):
        return ir.AttributeCond(c.field, ir.Op(c.op.value), _value(c.value))
    if isinstance(c, TagCondition):
        return ir.TagCond(c.tag, c.present)
    if isinstance(c, RfmCondition):
        return ir.RfmCond(tuple(c.classes))
    if isinstance(c, EventCountCondition):
        return ir.EventCountCond(c.event_type, c.window_days, ir.Op(c.op.value), c.value)
    if isinstance(c, ContextCondition):
        return ir.ContextCond(c.node_id, c.field, ir.Op(c.op.value), _value(c.value))
    if isinstance(c, SegmentCondition):
        return ir.SegmentCond(c.segment_id, c.member)
    raise TypeError(f"unknown condition {type(c).__name__}")  # pragma: no cover


def _minutes(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    return int(hh) * 60 + int(mm)


def _signed(offset_seconds: int, direction: str) -> int:
    return -offset_seconds if direction == "before" else offset_seconds


def _step(node: AnyNode, transitions: tuple[ir.Transition, ...]) -> ir.Step:
    base = (node.id, node.label, transitions)
    if isinstance(node, EntryNode):
        trig = node.config.trigger
        trigger: ir.EntryTrigger
        if isinstance(trig, EventTrigger):
            trigger = ir.EventEntry(trig.event_type, _filters(trig.filters))
        elif isinstance(trig, ManualTrigger):
            trigger = ir.ManualEntry()
        else:
            trigger = ir.SegmentEntry(trig.segment_id, trig.schedule, trig.at_time, trig.weekday)
        return ir.EntryStep(
            *base,
            trigger=trigger,
            reentry=ir.ReentryPolicy(node.config.reentry.policy.value),
            cooldown_days=node.config.reentry.cooldown_days,
        )
    if isinstance(node, WaitNode):
        u = node.config.until
        until: ir.WaitUntil
        if u.type == "duration":
            until = ir.DelayFor(seconds(u.duration))
        elif u.type == "context":
            until = ir.UntilContext(u.node_id, u.field, _signed(seconds(u.offset), u.direction))
        elif u.type == "customer_date":
            until = ir.UntilCustomerDate(u.field, _signed(seconds(u.offset), u.direction))
        else:
            until = ir.UntilAbsolute(u.at.isoformat())
        w = node.config.window
        window = ir.Window(_minutes(w.start), _minutes(w.end), w.timezone) if w else None
        return ir.WaitStep(*base, until=until, window=window)
    if isinstance(node, WaitForEventNode):
        wfe = node.config
        return ir.WaitForEventStep(
            *base,
            event_type=wfe.event_type,
            filters=_filters(wfe.filters),
            timeout_seconds=seconds(wfe.timeout),
        )
    if isinstance(node, BranchNode):
        rules = tuple(
            ir.Rule(r.id, r.label, r.match == "all", tuple(_cond(c) for c in r.conditions))
            for r in node.config.rules
        )
        return ir.BranchStep(*base, rules=rules)
    if isinstance(node, SplitNode):
        variants = tuple(ir.Variant(v.id, v.weight, v.holdout) for v in node.config.variants)
        return ir.SplitStep(*base, variants=variants)
    if isinstance(node, SendCouponNode):
        return ir.SendCouponStep(
            *base,
            coupon_template_id=node.config.coupon_template_id,
            on_failure=ir.OnFailure(node.config.on_failure.value),
        )
    if isinstance(node, SendMessageNode):
        msg = node.config
        return ir.SendMessageStep(
            *base,
            channel=msg.channel.value,
            subject=msg.subject,
            content=msg.content,
            webhook_url=msg.webhook_url,
            on_failure=ir.OnFailure(msg.on_failure.value),
        )
    if isinstance(node, AssignGuideTaskNode):
        t = node.config
        return ir.AssignTaskStep(
            *base,
            task_type=t.task_type.value,
            title=t.title,
            instructions=t.instructions,
            assignee=t.assignee.value,
            due_in_seconds=seconds(t.due_in),
            remind_before_seconds=seconds(t.remind_before) if t.remind_before else None,
            expire_after_seconds=seconds(t.expire_after),
            outcomes=tuple(t.outcomes),
            on_failure=ir.OnFailure(t.on_failure.value),
        )
    if isinstance(node, UpdateCustomerNode):
        upd = node.config
        return ir.UpdateCustomerStep(
            *base,
            add_tags=tuple(upd.add_tags),
            remove_tags=tuple(upd.remove_tags),
            set_attributes=tuple(sorted(upd.set_attributes.items())),
        )
    if isinstance(node, ExitNode):
        return ir.ExitStep(*base, goal_reached=node.config.goal_reached)
    raise TypeError(f"unknown node {type(node).__name__}")  # pragma: no cover


def build(doc: JourneyDocument, *, journey_id: str, version: int) -> ir.CompiledJourney:
    by_source: dict[str, list[ir.Transition]] = defaultdict(list)
    for e in doc.edges:
        by_source[e.source].append(ir.Transition(e.source_port, e.target, e.id))
    steps = []
    entry_id = ""
    for node in doc.nodes:
        order = {p: i for i, p in enumerate(output_ports(node))}
        transitions = tuple(sorted(by_source[node.id], key=lambda t: order.get(t.port, 99)))
        steps.append(_step(node, transitions))
        if isinstance(node, EntryNode):
            entry_id = node.id
    goal = None
    if doc.settings.goal is not None:
        goal = ir.Goal(doc.settings.goal.event_type, _filters(doc.settings.goal.filters))
    steps_t = tuple(steps)
    extra = (goal, doc.settings.max_node_visits, doc.settings.timezone)
    return ir.CompiledJourney(
        journey_id=journey_id,
        version=version,
        name=doc.name,
        content_hash=ir.content_hash(steps_t, extra),
        entry_node_id=entry_id,
        steps=steps_t,
        goal=goal,
        max_node_visits=doc.settings.max_node_visits,
        timezone=doc.settings.timezone,
    )

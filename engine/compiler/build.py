"""Build: a validated :class:`JourneyDocument` → the frozen IR (:mod:`engine.ir`).

Runs only when the passes found no errors, so it may assume a well-formed graph. Each
node becomes a step through its kind's ``build`` (``engine/kinds/<kind>.py``).
"""

from __future__ import annotations

from collections import defaultdict

from engine import ir
from engine.compiler.common import filters
from engine.document import EntryNode, JourneyDocument
from engine.kinds import KINDS, StepHead
from engine.ports import output_ports


def build(doc: JourneyDocument, *, journey_id: str, version: int) -> ir.CompiledJourney:
    by_source: dict[str, list[ir.Transition]] = defaultdict(list)
    for e in doc.edges:
        by_source[e.source].append(ir.Transition(e.source_port, e.target, e.id))
    steps = []
    entry_id = ""
    for node in doc.nodes:
        order = {p: i for i, p in enumerate(output_ports(node))}
        transitions = tuple(sorted(by_source[node.id], key=lambda t: order.get(t.port, 99)))
        steps.append(KINDS[node.kind].build(node, StepHead(node.id, node.label, transitions)))
        if isinstance(node, EntryNode):
            entry_id = node.id
    goal = None
    if doc.settings.goal is not None:
        goal = ir.Goal(doc.settings.goal.event_type, filters(doc.settings.goal.filters))
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

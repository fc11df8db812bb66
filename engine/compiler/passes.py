"""Validation passes, one function per rule (kedro ``_validate_*`` style).

Each pass reads the parsed document (and the graph view) and appends diagnostics; none
stops the others. The order only matters for readability of the resulting list.
"""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

import networkx as nx

from engine.compiler.common import MAX_WAIT_SECONDS, close_matches, seconds
from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.document import (
    AnyNode,
    BranchNode,
    Edge,
    EntryNode,
    JourneyDocument,
    SegmentCondition,
    SegmentTrigger,
)
from engine.kinds import KINDS
from engine.ports import output_ports

__all__ = ["MAX_WAIT_SECONDS", "PASSES", "Context", "Pass", "build_graph", "seconds"]

#: Node kinds during which a customer's time passes: a loop must contain one of them.
WAITING_KINDS = tuple(k.value for k, s in KINDS.items() if s.waits)
#: What each context field is produced by (the kinds that record it).
CONTEXT_PRODUCERS: dict[str, tuple[str, ...]] = {}
for _kind, _spec in KINDS.items():
    for _field in _spec.context_fields:
        CONTEXT_PRODUCERS[_field] = (*CONTEXT_PRODUCERS.get(_field, ()), _kind.value)
_close = close_matches


@dataclass
class Context:
    """What every pass may read: the document, its graph and outside facts."""

    doc: JourneyDocument
    graph: nx.MultiDiGraph
    nodes: dict[str, AnyNode]
    known_ids: dict[str, str]
    coupon_templates: Collection[str] | None
    segments: Collection[str] | None = None
    #: the entry, when there is exactly one (what the IR is built from)
    entry_id: str | None = None
    #: every entry node: graph checks start from all of them, so a document with two
    #: entries gets every other finding too, not MULTIPLE_ENTRIES alone
    entry_ids: tuple[str, ...] = ()
    #: whether the brand has quiet hours (its contact policy); None: unknown, so no
    #: ACTION_WITHOUT_WINDOW warnings (offline compiles, tests)
    quiet_hours: bool | None = None
    #: the chain's most points one award_points step may give (its policy row); None: the
    #: kind's default (engine.kinds.award_points.MAX_POINTS_PER_STEP)
    max_points_per_step: int | None = None


Pass = Callable[[Context, Diagnostics], None]


def build_graph(doc: JourneyDocument, known_ids: dict[str, str]) -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_nodes_from(known_ids)
    for e in doc.edges:
        if e.source in known_ids and e.target in known_ids:
            graph.add_edge(e.source, e.target, key=e.id, port=e.source_port)
    return graph


# ------------------------------------------------------------------ structure


def validate_entries(ctx: Context, diags: Diagnostics) -> None:
    entries = [n.id for n in ctx.doc.nodes if isinstance(n, EntryNode)]
    ctx.entry_ids = tuple(entries)
    if not entries:
        diags.error(
            Code.NO_ENTRY,
            "The journey has no entry node, so no customer can enter it.",
            hint="Drag an 'Entry' node onto the canvas and connect it to the first step.",
        )
    elif len(entries) > 1:
        # one journey version runs one entry (the IR has one; enrollment, re-entry and
        # the workflow id are per journey), so a second trigger is a second journey
        names = ", ".join(f"'{_name(ctx, n)}'" for n in entries)
        diags.error(
            Code.MULTIPLE_ENTRIES,
            f"The journey has {len(entries)} entry nodes ({names}); it needs exactly one.",
            nodes=entries,
            hint="Delete the extra entries, or make them separate journeys.",
        )
    else:
        ctx.entry_id = entries[0]


def validate_edges(ctx: Context, diags: Diagnostics) -> None:
    by_port: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for e in ctx.doc.edges:
        missing = [n for n in (e.source, e.target) if n not in ctx.known_ids]
        if missing:
            diags.error(
                Code.EDGE_UNKNOWN_NODE,
                f"Edge '{e.id}' connects to node(s) {', '.join(repr(m) for m in missing)} "
                "that do not exist.",
                edges=[e.id],
                nodes=[n for n in (e.source, e.target) if n in ctx.known_ids],
                hint="Delete the edge or reconnect it. " + did_you_mean(missing[0], ctx.known_ids),
            )
            continue
        target = ctx.nodes.get(e.target)
        if isinstance(target, EntryNode):
            diags.error(
                Code.EDGE_INTO_ENTRY,
                f"Edge '{e.id}' leads into the entry node; customers only enter there.",
                edges=[e.id],
                nodes=[e.target],
                hint="To send customers back to the start, connect to the entry's first step.",
            )
        source = ctx.nodes.get(e.source)
        if source is None:  # broken config: its ports are unknown, don't pile on
            continue
        ports = output_ports(source)
        if e.source_port not in ports:
            diags.error(
                Code.EDGE_UNKNOWN_PORT,
                f"Edge '{e.id}' leaves '{source.label or source.id}' from port "
                f"'{e.source_port}', which a {source.kind.value} node does not have.",
                edges=[e.id],
                nodes=[source.id],
                hint=(did_you_mean(e.source_port, ports) or "This node has no output ports.")
                if ports
                else "An exit node ends the path; it has no output ports.",
                params={"port": e.source_port},
            )
            continue
        by_port[(e.source, e.source_port)].append(e)
    for (source_id, port), edges in by_port.items():
        if len(edges) > 1:
            diags.error(
                Code.DUPLICATE_PORT_EDGE,
                f"Port '{port}' of '{_name(ctx, source_id)}' has {len(edges)} edges; "
                "an output port leads to exactly one next step.",
                nodes=[source_id],
                edges=[e.id for e in edges],
                hint="Keep one edge, or add a branch/split node to send customers different ways.",
                params={"port": port},
            )


def validate_missing_edges(ctx: Context, diags: Diagnostics) -> None:
    connected = {(e.source, e.source_port) for e in ctx.doc.edges}
    for node in ctx.doc.nodes:
        for port in output_ports(node):
            if (node.id, port) not in connected:
                diags.error(
                    Code.MISSING_EDGE,
                    f"Port '{port}' of '{node.label or node.id}' is not connected: customers "
                    "leaving that way would have nowhere to go.",
                    nodes=[node.id],
                    hint="Connect it to the next step, or to an Exit node.",
                    params={"port": port},
                )


def validate_reachability(ctx: Context, diags: Diagnostics) -> None:
    """Every node is reachable from an entry (from any of them when there are several)."""
    if not ctx.entry_ids:
        return  # NO_ENTRY says it; calling every node unreachable would only bury it
    reachable = set(ctx.entry_ids)
    for entry_id in ctx.entry_ids:
        reachable |= nx.descendants(ctx.graph, entry_id)
    where = "the entry" if len(ctx.entry_ids) == 1 else "any entry"
    for node_id in ctx.known_ids:
        if node_id not in reachable:
            diags.error(
                Code.UNREACHABLE_NODE,
                f"'{_name(ctx, node_id)}' cannot be reached from {where}.",
                nodes=[node_id],
                hint="Connect an edge into it, or delete it.",
            )


def validate_cycles(ctx: Context, diags: Diagnostics) -> None:
    for scc in nx.strongly_connected_components(ctx.graph):
        sub = ctx.graph.subgraph(scc)
        if len(scc) == 1 and not sub.number_of_edges():
            continue
        without_waits = sub.subgraph(n for n in scc if ctx.known_ids.get(n) not in WAITING_KINDS)
        try:
            cycle = nx.find_cycle(without_waits)
        except nx.NetworkXNoCycle:
            cycle = None
        if cycle:
            cycle_nodes = [u for u, *_ in cycle]
            diags.error(
                Code.CYCLE_WITHOUT_WAIT,
                "These steps form a loop with no wait in it, so a customer would go round it "
                "instantly: " + " → ".join(_name(ctx, n) for n in cycle_nodes) + ".",
                nodes=cycle_nodes,
                edges=[k for _u, _v, k in cycle],
                hint="Put a Wait (or Wait for event) node inside the loop.",
            )
        leaves = any(v not in scc for u in scc for v in ctx.graph.successors(u))
        if not leaves:
            diags.error(
                Code.LOOP_WITHOUT_EXIT,
                "Customers who enter this loop can never leave it: "
                + ", ".join(_name(ctx, n) for n in sorted(scc))
                + ".",
                nodes=sorted(scc),
                hint="Give the loop a way out, e.g. a branch with a port to an Exit node.",
            )


# ------------------------------------------------------------------ per-node configs


def validate_configs(ctx: Context, diags: Diagnostics) -> None:
    """Each node's own config checks: its kind's ``validate`` (engine/kinds/<kind>.py)."""
    for node in ctx.doc.nodes:
        KINDS[node.kind].validate(node, ctx, diags)


def validate_timezone(ctx: Context, diags: Diagnostics) -> None:
    tz = ctx.doc.settings.timezone
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        diags.error(
            Code.INVALID_TIMEZONE,
            f"Unknown time zone '{tz}' in the journey settings.",
            hint="Use an IANA name such as 'Asia/Shanghai'.",
        )


#: The action that reaches the customer the moment it runs. A coupon lands silently in the
#: wallet and a guide works a task in working hours, so only messages are warned about
#: (all three take a send window and the contact policy).
_SENDS_AT_ONCE = ("send_message",)


def validate_send_windows(ctx: Context, diags: Diagnostics) -> None:
    """Warn about a marketing message that can go out at any hour: reached from an event
    entry or a plain duration wait with no send window on the way (a wait's or an
    action's), while the brand has no quiet hours. Service messages are meant to go at
    once."""
    if ctx.quiet_hours is not False:
        return
    for node in ctx.nodes.values():
        config = getattr(node, "config", None)
        if node.kind.value not in _SENDS_AT_ONCE or config is None:
            continue
        if getattr(config, "window", None) is not None:
            continue
        category = getattr(config, "category", None)
        if category is not None and category.value == "service":
            continue
        source = _any_hour_source(ctx, node.id)
        if source is None:
            continue
        diags.warning(
            Code.ACTION_WITHOUT_WINDOW,
            f"'{_label(node)}' can run at any hour (e.g. 03:00): it follows "
            f"'{_label(ctx.nodes[source])}' with no send window on the way, and the brand has "
            "no quiet hours.",
            nodes=[node.id],
            hint="Give the step a send window, put a wait with a send window before it, or "
            "set quiet hours on the Contact policy page.",
            params={"source": source},
        )


def _any_hour_source(ctx: Context, node_id: str) -> str | None:
    """The first event entry or windowless duration wait found walking back from
    ``node_id`` without crossing a send window; None when every way in has one."""
    seen = {node_id}
    todo = [node_id]
    while todo:
        for pred in ctx.graph.predecessors(todo.pop()):
            if pred in seen or pred not in ctx.nodes:
                continue
            seen.add(pred)
            node = ctx.nodes[pred]
            config = getattr(node, "config", None)
            if getattr(config, "window", None) is not None:
                continue  # a wait's or an action's send window sets the time of day
            kind = node.kind.value
            if kind == "entry" and getattr(getattr(config, "trigger", None), "type", "") == "event":
                return pred
            if kind == "wait" and getattr(getattr(config, "until", None), "type", "") == "duration":
                return pred
            todo.append(pred)
    return None


#: The longest conversion window a goal may have: results look this far past an entry.
MAX_GOAL_WINDOW_DAYS = 180


def validate_goal(ctx: Context, diags: Diagnostics) -> None:
    """The goal's conversion window is more than nothing and at most 180 days."""
    goal = ctx.doc.settings.goal
    if goal is None or goal.window is None:
        return
    window_s = seconds(goal.window)
    if window_s <= 0 or window_s > MAX_GOAL_WINDOW_DAYS * 86400:
        diags.error(
            Code.INVALID_GOAL_WINDOW,
            f"The goal's conversion window is {goal.window.amount} {goal.window.unit.value}; "
            f"it must be more than 0 and at most {MAX_GOAL_WINDOW_DAYS} days.",
            hint="Set a window such as 14 days in the journey settings' goal.",
            params={
                "amount": goal.window.amount,
                "unit": goal.window.unit.value,
                "max_days": MAX_GOAL_WINDOW_DAYS,
            },
        )


def validate_segment_refs(ctx: Context, diags: Diagnostics) -> None:
    """The segments the entry and branch conditions name exist (when known)."""
    known = ctx.segments
    if known is None:
        return
    for node in ctx.doc.nodes:
        if isinstance(node, EntryNode) and isinstance(node.config.trigger, SegmentTrigger):
            sid = node.config.trigger.segment_id
            if sid not in known:
                diags.error(
                    Code.UNKNOWN_SEGMENT,
                    f"The entry uses segment '{sid}', which does not exist; "
                    + (did_you_mean(sid, known) or "save the segment first."),
                    nodes=[node.id],
                    hint="Build it under Segments, or pick an existing one.",
                    params={"segment": sid, "suggestions": _close(sid, known)},
                )
        elif isinstance(node, BranchNode):
            for rule in node.config.rules:
                for cond in rule.conditions:
                    if isinstance(cond, SegmentCondition) and cond.segment_id not in known:
                        sid = cond.segment_id
                        diags.error(
                            Code.UNKNOWN_SEGMENT,
                            f"Rule '{rule.label or rule.id}' of branch '{_label(node)}' tests "
                            f"segment '{sid}', which does not exist; "
                            + (did_you_mean(sid, known) or "save the segment first."),
                            nodes=[node.id],
                            hint="Build it under Segments, or pick an existing one.",
                            params={
                                "segment": sid,
                                "rule": rule.label or rule.id,
                                "suggestions": _close(sid, known),
                            },
                        )


def validate_context_refs(ctx: Context, diags: Diagnostics) -> None:
    """A node may only read context written by a node that runs before it."""
    dominators = _dominators(ctx)

    def dominates(a: str, b: str) -> bool:
        while b in dominators and dominators[b] != b:
            b = dominators[b]
            if b == a:
                return True
        return False

    for node in ctx.doc.nodes:
        for ref, field_name in _context_refs(node):
            if ref not in ctx.known_ids:
                diags.error(
                    Code.CONTEXT_NOT_UPSTREAM,
                    f"'{_label(node)}' refers to node '{ref}', which does not exist.",
                    nodes=[node.id],
                    hint=did_you_mean(ref, ctx.known_ids),
                )
                continue
            producers = CONTEXT_PRODUCERS.get(field_name or "")
            if producers and ctx.known_ids[ref] not in producers:
                diags.error(
                    Code.CONTEXT_WRONG_KIND,
                    f"'{_label(node)}' reads '{field_name}' of '{_name(ctx, ref)}', but a "
                    f"{ctx.known_ids[ref]} node does not record '{field_name}'.",
                    nodes=[node.id, ref],
                    hint=f"Point it at a {' or '.join(producers)} node.",
                )
                continue
            if node.id not in ctx.graph or ref not in ctx.graph:
                continue
            if ref == node.id or node.id not in nx.descendants(ctx.graph, ref):
                diags.error(
                    Code.CONTEXT_NOT_UPSTREAM,
                    f"'{_label(node)}' refers to '{_name(ctx, ref)}', which does not come "
                    "before it on any path, so there is nothing to read yet.",
                    nodes=[node.id, ref],
                    hint="Refer to a node upstream of this one.",
                )
            elif ctx.entry_ids and not dominates(ref, node.id):
                diags.warning(
                    Code.CONTEXT_NOT_ON_EVERY_PATH,
                    f"'{_label(node)}' refers to '{_name(ctx, ref)}', which some paths to it "
                    "skip; on those paths the value is empty.",
                    nodes=[node.id, ref],
                )


PASSES: tuple[Pass, ...] = (
    validate_entries,
    validate_edges,
    validate_missing_edges,
    validate_reachability,
    validate_cycles,
    validate_configs,
    validate_context_refs,
    validate_segment_refs,
    validate_timezone,
    validate_goal,
    validate_send_windows,
)


# ------------------------------------------------------------------ helpers


def _dominators(ctx: Context) -> dict[str, str]:
    """Immediate dominators from all entries at once (a virtual root before every entry),
    so "some paths skip it" counts the paths from each entry; {} without an entry."""
    if not ctx.entry_ids:
        return {}
    if len(ctx.entry_ids) == 1:
        return nx.immediate_dominators(ctx.graph, ctx.entry_ids[0])
    root = object()  # not a node id: nothing in the document can collide with it
    graph = nx.DiGraph(ctx.graph)
    graph.add_edges_from((root, e) for e in ctx.entry_ids)
    return {n: d for n, d in nx.immediate_dominators(graph, root).items() if n is not root}


def _label(node: AnyNode) -> str:
    return node.label or node.id


def _name(ctx: Context, node_id: str) -> str:
    node = ctx.nodes.get(node_id)
    return _label(node) if node else node_id


def _context_refs(node: AnyNode) -> list[tuple[str, str | None]]:
    return KINDS[node.kind].context_refs(node)

"""Validation passes, one function per rule (kedro ``_validate_*`` style).

Each pass reads the parsed document (and the graph view) and appends diagnostics; none
stops the others. The order only matters for readability of the resulting list.
"""

from __future__ import annotations

import difflib
import zoneinfo
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass

import networkx as nx

from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.compiler.templates import CUSTOMER_FIELDS, check_template, context_expression
from engine.document import (
    AnyNode,
    AssignGuideTaskNode,
    BranchNode,
    Channel,
    CompareOp,
    ContextCondition,
    Duration,
    Edge,
    EntryNode,
    EventTrigger,
    JourneyDocument,
    PropertyFilter,
    RfmCondition,
    SegmentCondition,
    SegmentTrigger,
    SendCouponNode,
    SendMessageNode,
    SplitNode,
    TimeUnit,
    TimeWindow,
    WaitForEventNode,
    WaitNode,
    WaitUntilContext,
)
from engine.ports import ELSE, output_ports
from engine.rfm import RFM_CLASS_NAMES

MAX_WAIT_SECONDS = 90 * 86400
_UNIT_SECONDS = {TimeUnit.MINUTES: 60, TimeUnit.HOURS: 3600, TimeUnit.DAYS: 86400}
#: Node kinds during which a customer's time passes: a loop must contain one of them.
WAITING_KINDS = ("wait", "wait_for_event", "assign_guide_task")
#: What each context field is produced by.
CONTEXT_PRODUCERS = {
    "expires_at": ("send_coupon",),
    "issued_at": ("send_coupon",),
    "redeemed": ("send_coupon",),
    "issued": ("send_coupon",),
    "due_at": ("assign_guide_task",),
    "outcome": ("assign_guide_task",),
    "failed": ("send_coupon", "send_message", "assign_guide_task"),
}


#: ``_check_duration``'s wording of a duration → the config field it is.
_DURATION_FIELDS = {"the wait": "duration", "the offset": "offset"}


def _close(word: str, choices: Collection[str]) -> list[str]:
    return difflib.get_close_matches(word, sorted(choices), n=3, cutoff=0.5)


def seconds(d: Duration) -> int:
    return d.amount * _UNIT_SECONDS[d.unit]


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
    for node in ctx.doc.nodes:
        if isinstance(node, EntryNode) and isinstance(node.config.trigger, EventTrigger):
            _check_filters(node.id, node.config.trigger.filters, diags)
            if (
                node.config.reentry.policy.value == "cooldown"
                and not node.config.reentry.cooldown_days
            ):
                diags.error(
                    Code.INVALID_CONFIG,
                    f"'{_label(node)}': a cooldown re-entry policy needs cooldown_days.",
                    nodes=[node.id],
                    hint="Set how many days must pass before a customer may enter again.",
                    params={
                        "kind": node.kind.value,
                        "errors": [
                            {"loc": ["config", "reentry", "cooldown_days"], "type": "missing"}
                        ],
                    },
                )
        elif isinstance(node, WaitNode):
            _check_wait(node, diags)
        elif isinstance(node, WaitForEventNode):
            _check_duration(node.id, _label(node), "timeout", node.config.timeout, diags)
            _check_filters(node.id, node.config.filters, diags)
        elif isinstance(node, BranchNode):
            _check_branch(node, diags)
        elif isinstance(node, SplitNode):
            _check_split(node, diags)
        elif isinstance(node, SendCouponNode):
            known = ctx.coupon_templates
            tid = node.config.coupon_template_id
            if known is not None and tid not in known:
                diags.error(
                    Code.UNKNOWN_COUPON_TEMPLATE,
                    f"'{_label(node)}' issues coupon template '{tid}', which does not exist.",
                    nodes=[node.id],
                    hint=did_you_mean(tid, known) or "Pick a coupon template in the panel.",
                    params={"template": tid, "suggestions": _close(tid, known)},
                )
        elif isinstance(node, SendMessageNode):
            for field_name in ("content", "subject"):
                _check_template_text(ctx, node, field_name, getattr(node.config, field_name), diags)
            if node.config.channel is Channel.WEBHOOK and not node.config.webhook_url:
                diags.error(
                    Code.WEBHOOK_URL_REQUIRED,
                    f"'{_label(node)}' sends through a webhook but has no webhook URL.",
                    nodes=[node.id],
                    hint="Enter the https:// URL that should receive the message.",
                )
        elif isinstance(node, AssignGuideTaskNode):
            for field_name in ("title", "instructions"):
                _check_template_text(ctx, node, field_name, getattr(node.config, field_name), diags)
            _check_duration(node.id, _label(node), "due_in", node.config.due_in, diags)
            outcomes = node.config.outcomes
            dupes = sorted({o for o in outcomes if outcomes.count(o) > 1})
            bad = [o for o in outcomes if o in ("expired", "failed") or not o.strip()]
            if dupes or bad:
                diags.error(
                    Code.DUPLICATE_PORT_ID,
                    f"'{_label(node)}': task outcomes must be unique, non-empty and not "
                    f"'expired'/'failed' (got {', '.join(dupes + bad)}).",
                    nodes=[node.id],
                )


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
    refs: list[tuple[str, str | None]] = []
    if isinstance(node, WaitNode) and isinstance(node.config.until, WaitUntilContext):
        refs.append((node.config.until.node_id, node.config.until.field))
    elif isinstance(node, BranchNode):
        for rule in node.config.rules:
            for cond in rule.conditions:
                if isinstance(cond, ContextCondition):
                    refs.append((cond.node_id, cond.field))
    elif isinstance(node, SendMessageNode | AssignGuideTaskNode):
        texts = (
            [node.config.content, node.config.subject]
            if isinstance(node, SendMessageNode)
            else [node.config.instructions, node.config.title]
        )
        for text in texts:
            refs.extend((r, None) for r in check_template(text).context_refs)
    return refs


def _check_duration(
    node_id: str, label: str, what: str, d: Duration, diags: Diagnostics, *, allow_zero=False
) -> None:
    s = seconds(d)
    if s == 0 and not allow_zero:
        diags.error(
            Code.INVALID_WAIT,
            f"'{label}': {what} must be at least 1 minute.",
            nodes=[node_id],
            params={"field": _DURATION_FIELDS.get(what, what), "problem": "zero"},
        )
    elif s > MAX_WAIT_SECONDS:
        diags.error(
            Code.INVALID_WAIT,
            f"'{label}': {what} of {d.amount} {d.unit.value} is longer than 90 days.",
            nodes=[node_id],
            hint="Waits can be at most 90 days; chain a second wait for longer pauses.",
            params={"field": _DURATION_FIELDS.get(what, what), "problem": "too_long"},
        )


def _check_wait(node: WaitNode, diags: Diagnostics) -> None:
    until = node.config.until
    if until.type == "duration":
        _check_duration(node.id, _label(node), "the wait", until.duration, diags)
    elif until.type in ("context", "customer_date"):
        _check_duration(node.id, _label(node), "the offset", until.offset, diags, allow_zero=True)
    if node.config.window is not None:
        _check_window(node.id, _label(node), node.config.window, diags)


def _check_window(node_id: str, label: str, window: TimeWindow, diags: Diagnostics) -> None:
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


def _check_filters(node_id: str, filters: list[PropertyFilter], diags: Diagnostics) -> None:
    for f in filters:
        if f.op in (CompareOp.IN, CompareOp.NOT_IN) and not isinstance(f.value, list):
            diags.error(
                Code.INVALID_FILTER,
                f"Filter on '{f.field}' uses '{f.op.value}' but its value is not a list.",
                nodes=[node_id],
                hint='Give a list, e.g. ["A", "B"].',
                params={"property": f.field, "problem": "not_a_list"},
            )
        elif (
            f.op not in (CompareOp.EXISTS, CompareOp.NOT_EXISTS, CompareOp.IN, CompareOp.NOT_IN)
            and f.value is None
        ):
            diags.error(
                Code.INVALID_FILTER,
                f"Filter on '{f.field}' ({f.op.value}) needs a value.",
                nodes=[node_id],
                params={"property": f.field, "problem": "no_value"},
            )


def _check_branch(node: BranchNode, diags: Diagnostics) -> None:
    rules = node.config.rules
    if not rules:
        diags.error(
            Code.EMPTY_RULES,
            f"Branch '{_label(node)}' has no rules, so everyone would take 'else'.",
            nodes=[node.id],
            hint="Add a rule, or remove the branch.",
        )
    ids = [r.id for r in rules]
    for rid in sorted({i for i in ids if ids.count(i) > 1}):
        diags.error(
            Code.DUPLICATE_PORT_ID,
            f"Branch '{_label(node)}' has two rules with the id '{rid}'.",
            nodes=[node.id],
        )
    for rule in rules:
        if rule.id == ELSE:
            diags.error(
                Code.RESERVED_PORT_ID,
                f"Branch '{_label(node)}': a rule cannot be called 'else'; that port is "
                "for customers no rule matches.",
                nodes=[node.id],
            )
        if not rule.conditions:
            diags.error(
                Code.EMPTY_RULE,
                f"Rule '{rule.label or rule.id}' of branch '{_label(node)}' has no conditions.",
                nodes=[node.id],
                hint="Add at least one condition to the rule.",
                params={"rule": rule.label or rule.id},
            )
        for cond in rule.conditions:
            if isinstance(cond, RfmCondition):
                for cls in cond.classes:
                    if cls not in RFM_CLASS_NAMES:
                        diags.error(
                            Code.UNKNOWN_RFM_CLASS,
                            f"Rule '{rule.label or rule.id}' uses unknown RFM class '{cls}'.",
                            nodes=[node.id],
                            hint=did_you_mean(cls, RFM_CLASS_NAMES),
                            params={"rfm_class": cls, "rule": rule.label or rule.id},
                        )


def _check_split(node: SplitNode, diags: Diagnostics) -> None:
    variants = node.config.variants
    if len(variants) < 2:
        diags.error(
            Code.SPLIT_WEIGHTS,
            f"Split '{_label(node)}' needs at least two variants.",
            nodes=[node.id],
            params={"problem": "too_few"},
        )
    total = sum(v.weight for v in variants)
    if variants and total != 100:
        diags.error(
            Code.SPLIT_WEIGHTS,
            f"The weights of split '{_label(node)}' add up to {total}%, not 100%.",
            nodes=[node.id],
            hint="Adjust the variant weights so they sum to 100.",
            params={"total": total},
        )
    ids = [v.id for v in variants]
    for vid in sorted({i for i in ids if ids.count(i) > 1}):
        diags.error(
            Code.DUPLICATE_PORT_ID,
            f"Split '{_label(node)}' has two variants with the id '{vid}'.",
            nodes=[node.id],
        )


def _check_template_text(
    ctx: Context,
    node: SendMessageNode | AssignGuideTaskNode,
    field_name: str,
    text: str,
    diags: Diagnostics,
) -> None:
    if not text:
        return
    check = check_template(text)
    if check.error:
        diags.error(
            Code.TEMPLATE_SYNTAX,
            f"'{_label(node)}': the {field_name} template does not parse ({check.error}).",
            nodes=[node.id],
            hint="Variables look like {{ customer.name }} or {{ ctx.<node id>.expires_at }}.",
            params={"field": field_name, "error": check.error},
        )
        return
    if check.unknown_customer_fields:
        unknown = sorted(check.unknown_customer_fields)
        diags.warning(
            Code.TEMPLATE_SYNTAX,
            f"'{_label(node)}': unknown customer field(s) {', '.join(unknown)} render as empty.",
            nodes=[node.id],
            params={"field": field_name, "unknown_fields": unknown},
        )
    for placeholder in check.single_braces:
        fix = _placeholder_fix(ctx, node.id, placeholder)
        diags.warning(
            Code.SINGLE_BRACE_PLACEHOLDER,
            f"'{_label(node)}': the {field_name} has the placeholder {placeholder}, which is "
            "sent as written: placeholders take double braces"
            + (f"; write {fix}." if fix else ", e.g. {{ customer.name }}."),
            nodes=[node.id],
            hint=f"Replace {placeholder} with {fix or '{{ customer.<field> }}'}.",
            params={"field": field_name, "placeholder": placeholder, "fix": fix},
        )


#: What marketers used to write in single braces, and the coupon field it meant.
_COUPON_WORDS = {
    "coupon": "code",
    "coupon_code": "code",
    "code": "code",
    "coupon_value": "face_value",
    "face_value": "face_value",
    "amount": "face_value",
    "coupon_expiry": "expires_at",
    "expiry": "expires_at",
    "expires_at": "expires_at",
    "expire_date": "expires_at",
}


def _placeholder_fix(ctx: Context, node_id: str, placeholder: str) -> str:
    """The double-brace placeholder ``{name}`` most likely meant, or "" when unclear."""
    name = placeholder.strip("{} ")
    if name.startswith(("customer.", "ctx.")):
        return "{{ " + name + " }}"
    if name in CUSTOMER_FIELDS:
        return "{{ customer." + name + " }}"
    coupon_field = _COUPON_WORDS.get(name)
    if coupon_field:
        upstream = nx.ancestors(ctx.graph, node_id) if node_id in ctx.graph else set()
        coupons = [
            n.id for n in ctx.doc.nodes if n.id in upstream and isinstance(n, SendCouponNode)
        ]
        expr = (
            context_expression(coupons[0], coupon_field)
            if coupons
            else f"ctx.<coupon step>.{coupon_field}"
        )
        return "{{ " + (expr + "[:10]" if coupon_field == "expires_at" else expr) + " }}"
    close = difflib.get_close_matches(name, sorted(CUSTOMER_FIELDS), n=1, cutoff=0.6)
    return "{{ customer." + close[0] + " }}" if close else ""

"""A journey's results: the per-step funnel, goal conversions and revenue (issue 14, items
1, 2 and 7).

* **Who counts.** The customers who *entered* in the period (a cohort): their runs
  (``journey_run``) for the totals, their node visits (``node_visit``, recorded with the
  runs' reports since release ``journey-node-visits``) for the funnel. Runs recorded
  before that release count in the totals but leave no visits.
* **The funnel.** Per node: ``passes`` (visits that left by a port), per port its count
  and its share of the node's entrants, ``ended`` (visits the run ended at: an exit, a goal
  or a stop while waiting there, the visit limit), ``waiting`` (runs of the cohort waiting
  there now) and ``entered = passes + ended + waiting``. The port counts add up to the
  passes by construction.
* **Conversion.** A run converts when an event matching the goal (``settings.goal``:
  event type and filters) happens within ``window`` after its entry (default
  :data:`DEFAULT_WINDOW`), whether or not the run is still going; ``value_property`` of
  those events sums to revenue. An event counts once: for the customer's latest entry
  before it. Everything is read from the database, so restarts change nothing.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func
from sqlalchemy import select as sa_select
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from db.models import CustomerEvent, JourneyRun, JourneyVersion, NodeVisit
from engine import semantics
from engine.compiler.common import filters as compile_filters
from engine.document import GoalConfig, JourneyDocument
from engine.ports import output_ports
from services.periods import (
    DEFAULT_WINDOW,
    MAX_PERIOD_DAYS,
    PeriodError,
    period,
)

_UNIT_SECONDS = {"minutes": 60, "hours": 3600, "days": 86400}
_CHUNK = 500


@dataclass(frozen=True)
class PortResult:
    port: str
    count: int
    #: percent of the node's entrants, one decimal
    share: float


@dataclass(frozen=True)
class NodeResult:
    node_id: str
    kind: str
    label: str
    entered: int
    waiting: int
    passes: int
    ended: int
    #: of the runs that ended here, how many converted
    converted: int
    ports: tuple[PortResult, ...]


@dataclass(frozen=True)
class Goal:
    """The goal as results read it (``settings.goal`` of the newest version asked for)."""

    event_type: str
    filters: tuple[Any, ...]
    window: timedelta
    value_property: str | None


@dataclass(frozen=True)
class JourneyResults:
    journey_id: str
    version: int | None
    start: datetime
    end: datetime
    goal: Goal | None
    entered: int
    conversions: int
    revenue: float
    nodes: tuple[NodeResult, ...]

    @property
    def conversion_rate(self) -> float:
        """Percent of the cohort that converted (0 without entries)."""
        return round(100 * self.conversions / self.entered, 1) if self.entered else 0.0

    @property
    def has_data(self) -> bool:
        return self.entered > 0 or any(n.entered for n in self.nodes)


def versions(session: Session, journey_id: str, version: int | None) -> list[JourneyVersion]:
    """The published versions asked for, newest first (empty: none / unknown version)."""
    stmt = sa_select(JourneyVersion).where(col(JourneyVersion.journey_id) == journey_id)
    if version is not None:
        stmt = stmt.where(col(JourneyVersion.version) == version)
    return list(session.scalars(stmt.order_by(col(JourneyVersion.version).desc())))


def goal_of(document: Mapping[str, Any]) -> Goal | None:
    """The goal of a journey document, its window defaulting to :data:`DEFAULT_WINDOW`."""
    raw = (document.get("settings") or {}).get("goal")
    if not raw:
        return None
    goal = GoalConfig.model_validate(raw)
    window = DEFAULT_WINDOW
    if goal.window is not None and goal.window.amount > 0:
        window = timedelta(seconds=goal.window.amount * _UNIT_SECONDS[goal.window.unit.value])
    return Goal(goal.event_type, compile_filters(goal.filters), window, goal.value_property)


def journey_results(
    *,
    session: Session,
    journey_id: str,
    version: int | None,
    start: datetime,
    end: datetime,
    now: datetime | None = None,
) -> JourneyResults:
    """Results of the customers who entered ``journey_id`` (one version, or all) in
    ``[start, end)``. An unknown journey or version simply has no data: callers check."""
    found = versions(session, journey_id, version)
    nodes_meta = _nodes(found)
    goal = goal_of(found[0].document or {}) if found else None
    entry_ids = [n for n, (kind, _l, _p) in nodes_meta.items() if kind == "entry"]

    runs = _cohort_runs(session, journey_id, version, start, end)
    run_conv = _conversions(session, goal, [(c, at) for c, at in runs], now=now)
    conversions = sum(1 for k in run_conv if run_conv[k][0])
    revenue = round(sum(v for _c, v in run_conv.values()), 2)

    port_counts = _port_counts(session, journey_id, version, entry_ids, start, end)
    ended_runs = _ended_runs(session, journey_id, version, entry_ids, start, end)
    ended_conv = _conversions(session, goal, [(c, at) for _n, c, at in ended_runs], now=now)
    converted_at: dict[str, int] = defaultdict(int)
    for node_id, customer_id, at in ended_runs:
        if ended_conv.get((customer_id, at), (False, 0.0))[0]:
            converted_at[node_id] += 1
    waiting = _waiting(session, journey_id, version, start, end)

    seen = set(nodes_meta) | {n for n, _p in port_counts} | set(waiting)
    results = []
    for node_id in [*nodes_meta, *sorted(seen - set(nodes_meta))]:
        kind, label, ports = nodes_meta.get(node_id, ("", node_id, ()))
        counts = {p: c for (n, p), c in port_counts.items() if n == node_id and p is not None}
        ended = port_counts.get((node_id, None), 0)
        passes = sum(counts.values())
        entered = passes + ended + waiting.get(node_id, 0)
        names = [*ports, *sorted(set(counts) - set(ports))]
        results.append(
            NodeResult(
                node_id=node_id,
                kind=kind,
                label=label,
                entered=entered,
                waiting=waiting.get(node_id, 0),
                passes=passes,
                ended=ended,
                converted=converted_at.get(node_id, 0),
                ports=tuple(
                    PortResult(p, counts.get(p, 0), _share(counts.get(p, 0), entered))
                    for p in names
                ),
            )
        )
    return JourneyResults(
        journey_id=journey_id,
        version=version,
        start=start,
        end=end,
        goal=goal,
        entered=len(runs),
        conversions=conversions,
        revenue=revenue,
        nodes=tuple(results),
    )


def results_csv(results: JourneyResults) -> str:
    """The results as CSV (UTF-8 with BOM, so Excel reads the Chinese labels): the totals,
    then one row per node and port."""
    buf = io.StringIO()
    buf.write("\ufeff")
    out = csv.writer(buf)
    out.writerow(["journey", "version", "from", "to", "entered", "conversions", "revenue"])
    out.writerow(
        [
            results.journey_id,
            results.version if results.version is not None else "all",
            results.start.isoformat(),
            results.end.isoformat(),
            results.entered,
            results.conversions,
            f"{results.revenue:.2f}",
        ]
    )
    out.writerow([])
    out.writerow(
        [
            "node",
            "label",
            "kind",
            "entered",
            "waiting",
            "passes",
            "ended",
            "converted",
            "port",
            "port_count",
            "port_share_pct",
        ]  # fmt: skip
    )
    for n in results.nodes:
        head = [n.node_id, n.label, n.kind, n.entered, n.waiting, n.passes, n.ended, n.converted]
        if not n.ports:
            out.writerow([*head, "", "", ""])
        for p in n.ports:
            out.writerow([*head, p.port, p.count, f"{p.share:.1f}"])
    return buf.getvalue()


# ------------------------------------------------------------------ reads


def _share(count: int, entered: int) -> float:
    return round(100 * count / entered, 1) if entered else 0.0


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _nodes(found: Sequence[JourneyVersion]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """node id → (kind, label, output ports) over the versions, the newest's words first."""
    meta: dict[str, tuple[str, str, tuple[str, ...]]] = {}
    for v in found:
        try:
            doc = JourneyDocument.model_validate(v.document or {})
        except ValueError:  # a version stored under an older schema: words from raw JSON
            for raw in (v.document or {}).get("nodes", []):
                if raw.get("id") not in meta:
                    meta[raw["id"]] = (str(raw.get("kind", "")), str(raw.get("label") or ""), ())
            continue
        for node in doc.nodes:
            if node.id not in meta:
                meta[node.id] = (node.kind.value, node.label or node.id, output_ports(node))
    return meta


def _cohort_runs(
    session: Session, journey_id: str, version: int | None, start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    stmt = sa_select(col(JourneyRun.customer_id), col(JourneyRun.entered_at)).where(
        col(JourneyRun.journey_id) == journey_id,
        col(JourneyRun.entered_at) >= start,
        col(JourneyRun.entered_at) < end,
    )
    if version is not None:
        stmt = stmt.where(col(JourneyRun.journey_version) == version)
    return [(str(c), _utc(at)) for c, at in session.execute(stmt)]


def _entries(
    journey_id: str, version: int | None, entry_ids: list[str], start: datetime, end: datetime
) -> tuple[Any, list[Any], Any]:
    """The cohort's entry visits (an alias of ``node_visit``) and the join condition."""
    e = aliased(NodeVisit)
    cond = [
        col(e.journey_id) == journey_id,
        col(e.node_id).in_(entry_ids),
        col(e.visit) == 1,
        col(e.at) >= start,
        col(e.at) < end,
    ]
    if version is not None:
        cond.append(col(e.journey_version) == version)
    join = and_(
        col(e.workflow_id) == col(NodeVisit.workflow_id),
        col(e.enrollment_id) == col(NodeVisit.enrollment_id),
    )
    return e, cond, join


def _port_counts(
    session: Session,
    journey_id: str,
    version: int | None,
    entry_ids: list[str],
    start: datetime,
    end: datetime,
) -> dict[tuple[str, str | None], int]:
    """(node, port or None) → visits of the cohort's runs."""
    if not entry_ids:
        return {}
    e, cond, join = _entries(journey_id, version, entry_ids, start, end)
    stmt = (
        sa_select(col(NodeVisit.node_id), col(NodeVisit.port), func.count())
        .select_from(NodeVisit)
        .join(e, join)
        .where(*cond)
        .group_by(col(NodeVisit.node_id), col(NodeVisit.port))
    )
    return {(str(n), p): int(c) for n, p, c in session.execute(stmt)}


def _ended_runs(
    session: Session,
    journey_id: str,
    version: int | None,
    entry_ids: list[str],
    start: datetime,
    end: datetime,
) -> list[tuple[str, str, datetime]]:
    """(node ended at, customer, entered at) of the cohort's runs that ended."""
    if not entry_ids:
        return []
    e, cond, join = _entries(journey_id, version, entry_ids, start, end)
    stmt = (
        sa_select(col(NodeVisit.node_id), col(e.customer_id), col(e.at))
        .select_from(NodeVisit)
        .join(e, join)
        .where(*cond, col(NodeVisit.port).is_(None))
    )
    return [(str(n), str(c), _utc(at)) for n, c, at in session.execute(stmt)]


def _waiting(
    session: Session, journey_id: str, version: int | None, start: datetime, end: datetime
) -> dict[str, int]:
    """node → the cohort's runs in it now (``journey_run.current_node`` of running runs)."""
    stmt = (
        sa_select(col(JourneyRun.current_node), func.count())
        .where(
            col(JourneyRun.journey_id) == journey_id,
            col(JourneyRun.status) == "running",
            col(JourneyRun.entered_at) >= start,
            col(JourneyRun.entered_at) < end,
            col(JourneyRun.current_node).is_not(None),
        )
        .group_by(col(JourneyRun.current_node))
    )
    if version is not None:
        stmt = stmt.where(col(JourneyRun.journey_version) == version)
    return {str(n): int(c) for n, c in session.execute(stmt)}


def _conversions(
    session: Session,
    goal: Goal | None,
    entries: Iterable[tuple[str, datetime]],
    *,
    now: datetime | None,
) -> dict[tuple[str, datetime], tuple[bool, float]]:
    """(customer, entered at) → (converted, revenue) for each entry; an event counts for
    the customer's latest entry at or before it whose window holds it."""
    by_customer: dict[str, list[datetime]] = defaultdict(list)
    for customer_id, at in entries:
        by_customer[customer_id].append(at)
    out: dict[tuple[str, datetime], tuple[bool, float]] = {
        (c, at): (False, 0.0) for c, ats in by_customer.items() for at in ats
    }
    if goal is None or not by_customer:
        return out
    first = min(at for ats in by_customer.values() for at in ats)
    last = max(at for ats in by_customer.values() for at in ats) + goal.window
    if now is not None:
        last = min(last, now)
    customers = sorted(by_customer)
    for i in range(0, len(customers), _CHUNK):
        stmt = sa_select(
            col(CustomerEvent.customer_id),
            col(CustomerEvent.occurred_at),
            col(CustomerEvent.properties),
        ).where(
            col(CustomerEvent.customer_id).in_(customers[i : i + _CHUNK]),
            col(CustomerEvent.type) == goal.event_type,
            col(CustomerEvent.occurred_at) >= first,
            col(CustomerEvent.occurred_at) <= last,
        )
        for customer_id, occurred, props in session.execute(stmt):
            occurred = _utc(occurred)
            props = props or {}
            if not semantics.event_matches(goal.event_type, goal.filters, goal.event_type, props):
                continue
            starts = [at for at in by_customer[str(customer_id)] if at <= occurred]
            if not starts:
                continue
            entry = max(starts)
            if occurred > entry + goal.window:
                continue
            key = (str(customer_id), entry)
            _done, value = out[key]
            out[key] = (True, value + _value(props, goal.value_property))
    return out


def _value(props: Mapping[str, Any], field: str | None) -> float:
    """The event's ``field`` (dotted) as a number; 0 when absent or not a number."""
    if not field:
        return 0.0
    found: Any = props
    for part in field.split("."):
        if not isinstance(found, Mapping):
            return 0.0
        found = found.get(part)
    if isinstance(found, bool) or not isinstance(found, int | float | str):
        return 0.0
    try:
        return float(found)
    except ValueError:
        return 0.0


__all__ = [
    "DEFAULT_WINDOW",
    "MAX_PERIOD_DAYS",
    "Goal",
    "JourneyResults",
    "NodeResult",
    "PeriodError",
    "PortResult",
    "goal_of",
    "journey_results",
    "period",
    "results_csv",
    "versions",
]

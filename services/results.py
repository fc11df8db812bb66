"""A journey's results: the per-step funnel, goal conversions and revenue (issue 14, items
1, 2 and 7), read from the maintained sums of :mod:`services.results_store`.

* **Who counts.** The runs *entered* in the period's days (a cohort, by
  ``journey_run.entered_at`` in the chain's time zone), and their node visits
  (``node_visit``, recorded with the runs' reports since release ``journey-node-visits``)
  for the funnel. Runs recorded before that release count in the totals but leave no
  visits.
* **The funnel.** Per node: ``passes`` (visits that left by a port), per port its count
  and its share of the node's entrants, ``ended`` (visits the run ended at: an exit, a goal
  or a stop while waiting there, the visit limit), ``waiting`` (runs of the cohort waiting
  there now) and ``entered = passes + ended + waiting``. The port counts add up to the
  passes by construction. A step visited twice by one run (a loop) counts both visits.
* **Conversion** (:mod:`services.goals`): a run converts when its version's goal — a
  matching event, or any order when the version has none — happens within the window after
  its entry, whether or not the run is still going; the goal's ``value_property`` (the
  order's amount) sums to revenue. An event counts once: for the customer's latest entry
  into the journey before it. Everything is read from the database, so restarts change
  nothing; call :func:`services.results_store.catch_up` first to count the newest rows.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from db.crud import results as sums
from db.models import JourneyVersion
from engine.document import JourneyDocument
from engine.ports import output_ports
from services.goals import ANY_ORDER, Goal, goal_of
from services.periods import (
    DEFAULT_WINDOW,
    MAX_PERIOD_DAYS,
    PeriodError,
    period,
)
from services.results_store import store_days


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
class JourneyResults:
    journey_id: str
    version: int | None
    start: datetime
    end: datetime
    #: what converts (the newest version asked for; :data:`ANY_ORDER` without a goal)
    goal: Goal
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


def journey_results(
    *,
    session: Session,
    journey_id: str,
    version: int | None,
    start: datetime,
    end: datetime,
) -> JourneyResults:
    """Results of the runs that entered ``journey_id`` (one version, or all) in
    ``[start, end)``, whole days of the time zone the results store counts in (the chain's:
    a period from :func:`services.periods.period`). An unknown journey or version simply
    has no data: callers check."""
    found = versions(session, journey_id, version)
    nodes_meta = _nodes(found)
    goal = (goal_of(found[0].document) if found else None) or ANY_ORDER
    first, last = store_days(session=session, start=start, end=end)
    args: dict[str, Any] = {"session": session, "journey_id": journey_id, "version": version}
    days = sums.day_totals(**args, first=first, last=last)
    counts = sums.node_totals(**args, first=first, last=last)
    waiting = sums.waiting(**args, start=start, end=end)

    seen = set(nodes_meta) | {n for n, _p in counts} | set(waiting)
    out = []
    for node_id in [*nodes_meta, *sorted(seen - set(nodes_meta))]:
        kind, label, ports = nodes_meta.get(node_id, ("", node_id, ()))
        by_port = {p: c[0] for (n, p), c in counts.items() if n == node_id and p}
        ended, converted = counts.get((node_id, ""), (0, 0))
        passes = sum(by_port.values())
        entered = passes + ended + waiting.get(node_id, 0)
        names = [*ports, *sorted(set(by_port) - set(ports))]
        out.append(
            NodeResult(
                node_id=node_id,
                kind=kind,
                label=label,
                entered=entered,
                waiting=waiting.get(node_id, 0),
                passes=passes,
                ended=ended,
                converted=converted,
                ports=tuple(
                    PortResult(p, by_port.get(p, 0), _share(by_port.get(p, 0), entered))
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
        entered=sum(d[1] for d in days),
        conversions=sum(d[2] for d in days),
        revenue=round(sum(d[3] for d in days), 2),
        nodes=tuple(out),
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


__all__ = [
    "DEFAULT_WINDOW",
    "MAX_PERIOD_DAYS",
    "JourneyResults",
    "NodeResult",
    "PeriodError",
    "PortResult",
    "journey_results",
    "period",
    "results_csv",
    "versions",
]

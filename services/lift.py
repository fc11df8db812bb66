"""Variant and holdout lift of a journey's splits (issue 14, item 5).

Per split node, per variant: how many customers entered it, how many converted, the
conversion rate and revenue per customer; then each variant against the baseline (the
split's holdout, or its first variant when it has none): the lift in conversion rate with a
95 % confidence interval and a p-value.

* **Who took which side.** ``journey_run_variant`` (written by the run recorder from
  ``RunRecord.variants``, runs of release ``journey-semantics-v4`` on). Sides are stable
  per (journey, customer) since that release, so the unit is the customer: their first
  entry in the period counts, later entries do not add customers.
* **Conversion.** With a journey goal (``settings.goal``): an event of its type matching
  its filters within ``window`` after that entry (``settings.goal.window``, else
  :data:`DEFAULT_WINDOW`, 14 days), its ``value_property`` summed as revenue — the goal's
  meaning, as ``services.results`` counts it. Without a goal: an order within the window,
  its amount summed. A caller with another definition passes ``conversions``.
* **Statistics.** statsmodels' two-independent-proportions Wald interval and test on the
  difference of rates (``confint_proportions_2indep`` / ``test_proportions_2indep``,
  ``method="wald"``: the interval and the p-value agree), and the log interval on the
  ratio for the relative lift. Below :data:`MIN_CUSTOMERS_PER_ARM` customers in either arm
  the comparison is ``not_enough_data`` and carries no numbers.
"""

from __future__ import annotations

import bisect
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Protocol, TypeVar

from sqlalchemy import ColumnElement, Select
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from db.models import CustomerEvent, JourneyRun, JourneyRunVariant, JourneyVersion, Order
from engine import ir, semantics
from engine.compiler.common import filters
from engine.document_parts import PropertyFilter
from services.periods import (
    DEFAULT_WINDOW,
)

_Stmt = TypeVar("_Stmt", bound=Any)  # a Select of any columns

#: Fewer customers than this in a variant or its baseline: "not enough data yet".
MIN_CUSTOMERS_PER_ARM = 100
#: Two-sided confidence level of the intervals.
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Exposure:
    """A customer's first entry into one side of a split within the period."""

    run_id: int
    customer_id: str
    node_id: str
    variant: str
    entered_at: datetime


@dataclass(frozen=True)
class Conversion:
    converted: bool
    revenue: float = 0.0


class ConversionLookup(Protocol):
    """``{run_id: Conversion}`` of ``exposures`` (absent run ids did not convert).
    ``customers``, when given, is a SQL select of the exposures' customer ids (one query
    instead of lists of ids)."""

    def __call__(
        self,
        session: Session,
        exposures: Sequence[Exposure],
        window: timedelta,
        customers: Select[Any] | None = None,
    ) -> Mapping[int, Conversion]: ...


@dataclass(frozen=True)
class VariantStats:
    variant: str
    label: str
    holdout: bool
    entered: int
    conversions: int
    revenue: float

    @property
    def conversion_rate(self) -> float:
        return self.conversions / self.entered if self.entered else 0.0

    @property
    def revenue_per_customer(self) -> float:
        return self.revenue / self.entered if self.entered else 0.0


@dataclass(frozen=True)
class Lift:
    """One variant against the baseline. Rates and lifts are fractions (0.07 = 7 points)."""

    variant: str
    baseline: str
    status: str  # "ok" | "not_enough_data"
    #: conversion rate difference (variant − baseline) and its interval
    lift: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = None
    #: variant rate / baseline rate − 1 and its interval (None when a rate is 0)
    relative_lift: float | None = None
    relative_ci_low: float | None = None
    relative_ci_high: float | None = None

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 1 - CONFIDENCE


@dataclass(frozen=True)
class SplitResult:
    node_id: str
    label: str
    baseline: str | None
    variants: tuple[VariantStats, ...]
    lifts: tuple[Lift, ...]


@dataclass(frozen=True)
class DayPoint:
    day: date
    entries: int
    conversions: int
    revenue: float


@dataclass(frozen=True)
class VariantReport:
    journey_id: str
    version: int | None
    start: datetime
    end: datetime
    window: timedelta
    min_customers: int
    splits: tuple[SplitResult, ...]
    #: entries per day of entry, and their conversions and revenue (whole journey)
    days: tuple[DayPoint, ...]
    #: the goal's event type when its events convert; ``None``: orders convert
    goal_event_type: str | None = None


# ------------------------------------------------------------------ statistics


def compare(
    variant: VariantStats, baseline: VariantStats, *, min_customers: int = MIN_CUSTOMERS_PER_ARM
) -> Lift:
    """``variant`` against ``baseline`` (statsmodels; see the module docstring)."""
    if min(variant.entered, baseline.entered) < min_customers:
        return Lift(variant.variant, baseline.variant, "not_enough_data")
    from statsmodels.stats.proportion import (  # heavy import: only when there is data
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    args = (variant.conversions, variant.entered, baseline.conversions, baseline.entered)
    alpha = 1 - CONFIDENCE
    with warnings.catch_warnings():
        # 0 or all conversions on both sides: the Wald variance is 0 and statsmodels
        # warns about 0/0; the result is nan, reported as "no interval"
        warnings.simplefilter("ignore", RuntimeWarning)
        low, high = confint_proportions_2indep(*args, method="wald", compare="diff", alpha=alpha)
        p = test_proportions_2indep(*args, method="wald", compare="diff").pvalue
        rel: tuple[float | None, float | None, float | None] = (None, None, None)
        if variant.conversions and baseline.conversions:
            r_low, r_high = confint_proportions_2indep(
                *args, method="log", compare="ratio", alpha=alpha
            )
            ratio = variant.conversion_rate / baseline.conversion_rate
            rel = (ratio - 1, _num(r_low, -1), _num(r_high, -1))
    return Lift(
        variant.variant,
        baseline.variant,
        "ok",
        lift=variant.conversion_rate - baseline.conversion_rate,
        ci_low=_num(low),
        ci_high=_num(high),
        p_value=_num(p),
        relative_lift=rel[0],
        relative_ci_low=rel[1],
        relative_ci_high=rel[2],
    )


def _num(value: Any, shift: float = 0.0) -> float | None:
    v = float(value)
    return None if math.isnan(v) or math.isinf(v) else v + shift


def split_result(
    node_id: str,
    label: str,
    variants: Sequence[VariantStats],
    *,
    min_customers: int = MIN_CUSTOMERS_PER_ARM,
) -> SplitResult:
    """The split's variants and each one's lift against the holdout (else the first)."""
    base = next((v for v in variants if v.holdout), variants[0] if variants else None)
    lifts = tuple(
        compare(v, base, min_customers=min_customers)
        for v in variants
        if base is not None and v is not base
    )
    return SplitResult(node_id, label, base.variant if base else None, tuple(variants), lifts)


# ------------------------------------------------------------------ from the database


def orders_within_window(
    session: Session,
    exposures: Sequence[Exposure],
    window: timedelta,
    customers: Select[Any] | None = None,
) -> dict[int, Conversion]:
    """The conversion without a goal: any order of the customer in ``[entered_at,
    entered_at + window)``; revenue is their amounts summed."""
    if not exposures:
        return {}
    first = min(e.entered_at for e in exposures)
    last = max(e.entered_at for e in exposures) + window
    orders: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
    for among in _among(col(Order.customer_id), exposures, customers):
        stmt = sa_select(col(Order.customer_id), col(Order.created_at), col(Order.amount)).where(
            among, col(Order.created_at) >= first, col(Order.created_at) < last
        )
        for cid, at, amount in session.execute(stmt):
            orders[cid].append((_utc(at), float(amount)))
    return _within(exposures, orders, window)


def _among(
    column: Any, exposures: Sequence[Exposure], customers: Select[Any] | None
) -> Iterable[ColumnElement[bool]]:
    """``column`` restricted to the exposures' customers: by ``customers`` (one query),
    else by lists of ids."""
    if customers is not None:
        yield column.in_(customers)
        return
    for chunk in _chunks(sorted({e.customer_id for e in exposures}), 500):
        yield column.in_(chunk)


def _within(
    exposures: Sequence[Exposure],
    found: Mapping[str, list[tuple[datetime, float]]],
    window: timedelta,
) -> dict[int, Conversion]:
    """Each exposure whose customer has a moment in ``[entered_at, entered_at + window)``,
    with those moments' values summed."""
    out: dict[int, Conversion] = {}
    for e in exposures:
        mine = sorted(found.get(e.customer_id, ()))
        if not mine:
            continue
        times = [t for t, _ in mine]
        lo = bisect.bisect_left(times, e.entered_at)
        hi = bisect.bisect_left(times, e.entered_at + window)
        if hi > lo:
            out[e.run_id] = Conversion(True, sum(a for _, a in mine[lo:hi]))
    return out


def variant_report(
    *,
    session: Session,
    journey_id: str,
    version: int | None,
    start: datetime,
    end: datetime,
    window: timedelta | None = None,
    conversions: ConversionLookup | None = None,
    min_customers: int = MIN_CUSTOMERS_PER_ARM,
    tz: tzinfo = UTC,
) -> VariantReport:
    """Every split of ``journey_id`` (one version, or all with ``version=None``) for the
    customers who entered in ``[start, end)``. A period without runs gives empty splits
    (variants at zero), never an error. Days of the daily series are days in ``tz``."""
    start, end = _utc(start), _utc(end)
    versions = _versions(session, journey_id, version)
    newest = versions[0].document if versions else {}
    window = window or goal_window(newest)
    goal = goal_of(newest)
    if conversions is None:
        conversions = orders_within_window if goal is None else goal_events_within_window(goal)
    runs = _runs(session, journey_id, version, start, end)
    sides = _sides(session, journey_id, version, start, end)

    exposures: list[Exposure] = []
    seen: set[tuple[str, str]] = set()
    for run_id, customer_id, entered_at in runs:  # oldest first: a customer's first entry
        for node_id, variant in sides.get(run_id, ()):
            if (node_id, customer_id) in seen:
                continue
            seen.add((node_id, customer_id))
            exposures.append(Exposure(run_id, customer_id, node_id, variant, entered_at))
    every_entry = [
        Exposure(run_id, cid, "", "", at) for run_id, cid, at in runs
    ]  # the daily series counts every entry
    converted = conversions(session, every_entry, window, _cohort(journey_id, version, start, end))

    splits = []
    for node_id, label, defined in _split_nodes(versions):
        counts: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
        for e in exposures:
            if e.node_id != node_id:
                continue
            c = counts[e.variant]
            c[0] += 1
            conv = converted.get(e.run_id)
            if conv is not None and conv.converted:
                c[1] += 1
                c[2] += conv.revenue
        names = [v for v, _, _ in defined] + sorted(set(counts) - {v for v, _, _ in defined})
        info = {v: (lab, hold) for v, lab, hold in defined}
        stats = [
            VariantStats(
                v,
                info.get(v, (v, False))[0] or v,
                info.get(v, (v, False))[1],
                int(counts[v][0]) if v in counts else 0,
                int(counts[v][1]) if v in counts else 0,
                round(counts[v][2], 2) if v in counts else 0.0,
            )
            for v in names
        ]
        splits.append(split_result(node_id, label, stats, min_customers=min_customers))

    return VariantReport(
        journey_id=journey_id,
        version=version,
        start=start,
        end=end,
        window=window,
        min_customers=min_customers,
        splits=tuple(splits),
        days=_days(every_entry, converted, tz),
        goal_event_type=goal.event_type if goal else None,
    )


@dataclass(frozen=True)
class GoalSpec:
    """What converts: an event of ``event_type`` matching ``filters``; ``value_property``
    of its properties (dotted) is its revenue."""

    event_type: str
    filters: tuple[ir.Filter, ...] = ()
    value_property: str | None = None


def goal_of(document: Mapping[str, Any]) -> GoalSpec | None:
    """The goal of a (published, valid) journey document, or ``None``."""
    goal = (document.get("settings") or {}).get("goal")
    if not isinstance(goal, Mapping) or not goal.get("event_type"):
        return None
    found = [PropertyFilter.model_validate(f) for f in goal.get("filters") or []]
    value = goal.get("value_property")
    return GoalSpec(str(goal["event_type"]), filters(found), str(value) if value else None)


def goal_events_within_window(goal: GoalSpec) -> ConversionLookup:
    """The conversion lookup of ``goal``: any matching event of the customer in
    ``[entered_at, entered_at + window)``; revenue is their ``value_property`` summed."""

    def lookup(
        session: Session,
        exposures: Sequence[Exposure],
        window: timedelta,
        customers: Select[Any] | None = None,
    ) -> dict[int, Conversion]:
        if not exposures:
            return {}
        first = min(e.entered_at for e in exposures)
        last = max(e.entered_at for e in exposures) + window
        events: dict[str, list[tuple[datetime, float]]] = defaultdict(list)
        for among in _among(col(CustomerEvent.customer_id), exposures, customers):
            stmt = sa_select(
                col(CustomerEvent.customer_id),
                col(CustomerEvent.occurred_at),
                col(CustomerEvent.properties),
            ).where(
                among,
                col(CustomerEvent.type) == goal.event_type,
                col(CustomerEvent.occurred_at) >= first,
                col(CustomerEvent.occurred_at) < last,
            )
            for cid, at, props in session.execute(stmt):
                props = props or {}
                if semantics.event_matches(goal.event_type, goal.filters, goal.event_type, props):
                    events[str(cid)].append((_utc(at), _number(props, goal.value_property)))
        return _within(exposures, events, window)

    return lookup


def _number(props: Mapping[str, Any], path: str | None) -> float:
    """``props``' dotted ``path`` as a number; 0 when absent or not a number."""
    found: Any = props
    for part in (path or "").split(".") if path else ():
        found = found.get(part) if isinstance(found, Mapping) else None
    if isinstance(found, bool) or not isinstance(found, int | float):
        return 0.0
    return float(found)


def goal_window(document: Mapping[str, Any]) -> timedelta:
    """``settings.goal.window`` of a journey document (a duration ``{amount, unit}``), else
    :data:`DEFAULT_WINDOW`."""
    goal = (document.get("settings") or {}).get("goal") or {}
    win = goal.get("window") if isinstance(goal, Mapping) else None
    if isinstance(win, Mapping):
        unit = {"minutes": 60, "hours": 3600, "days": 86400}.get(str(win.get("unit") or "days"), 0)
        amount = win.get("amount")
        if unit and isinstance(amount, int | float) and amount > 0:
            return timedelta(seconds=float(amount) * unit)
    return DEFAULT_WINDOW


def _versions(session: Session, journey_id: str, version: int | None) -> list[JourneyVersion]:
    stmt = sa_select(JourneyVersion).where(col(JourneyVersion.journey_id) == journey_id)
    if version is not None:
        stmt = stmt.where(col(JourneyVersion.version) == version)
    return list(session.scalars(stmt.order_by(col(JourneyVersion.version).desc())))


def _split_nodes(
    versions: Sequence[JourneyVersion],
) -> list[tuple[str, str, list[tuple[str, str, bool]]]]:
    """(node id, label, [(variant, label, holdout)]) of every split, newest version's
    definition first."""
    found: dict[str, tuple[str, str, list[tuple[str, str, bool]]]] = {}
    for v in versions:  # newest first: its labels win
        for node in (v.document or {}).get("nodes", []):
            if node.get("kind") != "split" or node.get("id") in found:
                continue
            variants = [
                (str(x.get("id")), str(x.get("label") or ""), bool(x.get("holdout")))
                for x in (node.get("config") or {}).get("variants", [])
            ]
            found[node["id"]] = (node["id"], str(node.get("label") or node["id"]), variants)
    return list(found.values())


def _in_period(
    stmt: _Stmt, journey_id: str, version: int | None, start: datetime, end: datetime
) -> _Stmt:
    stmt = stmt.where(
        col(JourneyRun.journey_id) == journey_id,
        col(JourneyRun.entered_at) >= start,
        col(JourneyRun.entered_at) < end,
    )
    if version is not None:
        stmt = stmt.where(col(JourneyRun.journey_version) == version)
    return stmt


def _runs(
    session: Session, journey_id: str, version: int | None, start: datetime, end: datetime
) -> list[tuple[int, str, datetime]]:
    stmt = sa_select(col(JourneyRun.id), col(JourneyRun.customer_id), col(JourneyRun.entered_at))
    stmt = _in_period(stmt, journey_id, version, start, end)
    stmt = stmt.order_by(col(JourneyRun.entered_at), col(JourneyRun.id))
    return [(int(i), str(c), _utc(at)) for i, c, at in session.execute(stmt)]


def _cohort(journey_id: str, version: int | None, start: datetime, end: datetime) -> Select[Any]:
    """The customer ids of the period's runs, as SQL (for the conversion lookups)."""
    return _in_period(sa_select(col(JourneyRun.customer_id)), journey_id, version, start, end)


def _sides(
    session: Session, journey_id: str, version: int | None, start: datetime, end: datetime
) -> dict[int, list[tuple[str, str]]]:
    """run id -> its (split node, variant) pairs, for the period's runs (one query)."""
    stmt = sa_select(
        col(JourneyRunVariant.run_id),
        col(JourneyRunVariant.node_id),
        col(JourneyRunVariant.variant),
    ).join(JourneyRun, col(JourneyRun.id) == col(JourneyRunVariant.run_id))
    stmt = _in_period(stmt, journey_id, version, start, end)
    out: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for run_id, node_id, variant in session.execute(stmt):
        out[int(run_id)].append((str(node_id), str(variant)))
    return out


def _days(
    entries: Iterable[Exposure], converted: Mapping[int, Conversion], tz: tzinfo
) -> tuple[DayPoint, ...]:
    acc: dict[date, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for e in entries:
        a = acc[e.entered_at.astimezone(tz).date()]
        a[0] += 1
        conv = converted.get(e.run_id)
        if conv is not None and conv.converted:
            a[1] += 1
            a[2] += conv.revenue
    return tuple(DayPoint(d, int(a[0]), int(a[1]), round(a[2], 2)) for d, a in sorted(acc.items()))


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

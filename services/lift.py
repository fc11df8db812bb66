"""Variant and holdout lift of a journey's splits (issue 14, item 5).

Per split node, per variant: how many customers entered it, how many converted, the
conversion rate and revenue per customer; then each variant against the baseline (the
split's holdout, or its first variant when it has none): the lift in conversion rate with a
95 % confidence interval and a p-value.

* **Who took which side.** ``journey_run_variant`` (written by the run recorder from
  ``RunRecord.variants``, runs of release ``journey-semantics-v4`` on). Sides are stable
  per (journey, customer) since that release, so the unit is the customer at their first
  exposure: a period counts the customers whose first run to take a side of the split
  entered in it, and whether that run converted; later entries add nobody.
* **Conversion** (:mod:`services.goals`, as the results count it): the goal's event within
  its window after entry (``settings.goal.window``, else :data:`DEFAULT_WINDOW`, 14 days),
  its ``value_property`` summed as revenue; without a goal, an order within the window, its
  amount summed. The numbers are the results store's sums
  (:mod:`services.results_store`; call its ``catch_up`` first for the newest rows).
* **Statistics.** statsmodels' two-independent-proportions Wald interval and test on the
  difference of rates (``confint_proportions_2indep`` / ``test_proportions_2indep``,
  ``method="wald"``: the interval and the p-value agree), and the log interval on the
  ratio for the relative lift. Below :data:`MIN_CUSTOMERS_PER_ARM` customers in either arm
  the comparison is ``not_enough_data`` and carries no numbers.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from db.crud import results as sums
from db.models import JourneyVersion
from services.goals import ANY_ORDER, goal_of
from services.results_store import store_days

#: Fewer customers than this in a variant or its baseline: "not enough data yet".
MIN_CUSTOMERS_PER_ARM = 100
#: Two-sided confidence level of the intervals.
CONFIDENCE = 0.95


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


def variant_report(
    *,
    session: Session,
    journey_id: str,
    version: int | None,
    start: datetime,
    end: datetime,
    min_customers: int = MIN_CUSTOMERS_PER_ARM,
) -> VariantReport:
    """Every split of ``journey_id`` (one version, or all with ``version=None``) for the
    runs entered in ``[start, end)`` — whole days of the results store's time zone (a
    period from :func:`services.periods.period`). A period without runs gives empty splits
    (variants at zero), never an error."""
    versions = _versions(session, journey_id, version)
    goal = (goal_of(versions[0].document) if versions else None) or ANY_ORDER
    first, last = store_days(session=session, start=start, end=end)
    args: dict[str, Any] = {"session": session, "journey_id": journey_id, "version": version}
    sides = sums.variant_totals(**args, first=first, last=last)
    splits = []
    for node_id, label, defined in _split_nodes(versions):
        seen = {v for n, v in sides if n == node_id}
        names = [v for v, _, _ in defined] + sorted(seen - {v for v, _, _ in defined})
        info = {v: (lab, hold) for v, lab, hold in defined}
        stats = []
        for v in names:
            customers, conversions, revenue = sides.get((node_id, v), (0, 0, 0.0))
            lab, hold = info.get(v, (v, False))
            stats.append(VariantStats(v, lab or v, hold, customers, conversions, round(revenue, 2)))
        splits.append(split_result(node_id, label, stats, min_customers=min_customers))
    return VariantReport(
        journey_id=journey_id,
        version=version,
        start=start,
        end=end,
        window=goal.window,
        min_customers=min_customers,
        splits=tuple(splits),
        days=tuple(
            DayPoint(d, entered, conversions, round(revenue, 2))
            for d, entered, conversions, revenue in sums.day_totals(**args, first=first, last=last)
            if entered or conversions
        ),
        goal_event_type=goal.event_type,
    )


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

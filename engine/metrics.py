"""Customer metrics: one :class:`MetricSpec` entry each, and every layer reads them here.

A metric is a number about a customer that a branch compares (``MetricCondition``) and a
segment filters on (:mod:`audiences.fields`). Two sorts:

* **stored** — computed from the customer's orders (``from_orders``) and kept in the
  ``customer_metrics`` column of the metric's name: :mod:`audiences.metrics` recomputes it
  at every purchase and at a full rebuild, :func:`activities.facts.profile_facts` hands it
  to the interpreter in ``CustomerFacts.metrics``, the segment compiler filters on the
  column, the backtest recomputes it as of each moment from the customer's recorded
  orders. Adding one is this entry, its column on
  :class:`db.models.segments.CustomerMetrics` (+ a migration) and its label's translations;
  docs/architecture.md walks through it.
* **live** — read from the facts a run already loads (``read``), and filtered on by a
  segment field of its own (``segment_field``): the 智能回访 numbers, which
  :mod:`engine.contact_policy` keeps from the contact ledger.

A customer without the metric (fewer than two purchases: no cycle; never contacted: no
days since) matches only ``not_exists`` (and ``ne``), in branches and segments alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from statistics import median
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from engine.effect_parts import CustomerFacts

#: A number's sort: a count (whole), an amount (decimal, e.g. money) or a length in days.
Unit = Literal["count", "amount", "days"]
Value = float | int | None


@dataclass(frozen=True)
class Purchase:
    """One of the customer's orders, as a stored metric sees it."""

    at: datetime
    amount: float


@dataclass(frozen=True)
class MetricSpec:
    """One customer metric."""

    name: str
    #: English label (a msgid: the UI translates it; tests check both catalogs have it).
    label: str
    unit: Unit
    #: The segment builder's group ("value", "behaviour", "contact").
    group: str = "value"
    #: Stored metrics: the value from the customer's orders up to now (oldest first).
    from_orders: Callable[[Sequence[Purchase]], Value] | None = None
    #: Its value in a run's facts; default ``facts.metrics[name]`` (stored metrics).
    read: Callable[[CustomerFacts], Value] | None = None
    #: Live metrics: the segment field that filters on it (stored: the metric's name).
    segment_field: str = ""

    @property
    def stored(self) -> bool:
        return self.from_orders is not None

    @cached_property
    def empty(self) -> Value:
        """A stored metric's value for a customer with no orders (no metrics row yet)."""
        return self.from_orders(()) if self.from_orders is not None else None

    def value(self, facts: CustomerFacts) -> Value:
        """The metric in ``facts`` (``None``: the customer has no such value)."""
        if self.read is not None:
            return self.read(facts)
        return facts.metrics.get(self.name, self.empty)


# --------------------------------------------------------------------- computations


def interval_median_days(purchases: Sequence[datetime]) -> float | None:
    """The median of the days between consecutive purchases (any order given), or ``None``."""
    if len(purchases) < 2:
        return None
    ordered = sorted(purchases)
    gaps = [(b - a).total_seconds() / 86400 for a, b in zip(ordered, ordered[1:], strict=False)]
    return round(float(median(gaps)), 1)


def _cycle(orders: Sequence[Purchase]) -> float | None:
    return interval_median_days([o.at for o in orders])


def _average_amount(orders: Sequence[Purchase]) -> float | None:
    """The mean order amount to the cent, halves up (as money is rounded, and as SQL's
    ``ROUND`` does: migration 0028 fills the column that way)."""
    if not orders:
        return None
    mean = Decimal(repr(sum(o.amount for o in orders) / len(orders)))
    return float(mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def days_since(moment: str | None, as_of: str) -> int | None:
    """Whole days from ``moment`` to ``as_of`` (ISO instants); ``None`` without a moment."""
    if not moment or not as_of:
        return None
    return max(0, (parse_time(as_of) - parse_time(moment)) // timedelta(days=1))


def parse_time(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=ZoneInfo("UTC"))
    return dt


# ------------------------------------------------------------------------ registry

#: Every metric, in the order pickers show them. A recorded history keeps the names it
#: used: rename nothing here, add.
METRICS: dict[str, MetricSpec] = {
    m.name: m
    for m in (
        MetricSpec(
            "purchase_interval_median_days",
            "Own purchase cycle (median days between purchases)",
            "days",
            from_orders=_cycle,
            # its own facts field since before ``metrics`` (recorded histories carry it
            # there; the purchase-cycle wait reads it too)
            read=lambda facts: facts.purchase_interval_median_days,
        ),
        MetricSpec("purchases_count", "Purchases (all time)", "count", "behaviour", len),
        MetricSpec(
            "avg_order_amount",
            "Average order amount (all time)",
            "amount",
            from_orders=_average_amount,
        ),
        MetricSpec(
            "days_since_last_contact",
            "Days since the last contact",
            "days",
            "contact",
            read=lambda facts: days_since(facts.last_contacted_at, facts.as_of),
            segment_field="contact_days",
        ),
        MetricSpec(
            "contacts_7d",
            "Contacts in the last 7 days",
            "count",
            "contact",
            read=lambda facts: facts.contacts_7d,
            segment_field="contacts_7d",
        ),
        MetricSpec(
            "contacts_30d",
            "Contacts in the last 30 days",
            "count",
            "contact",
            read=lambda facts: facts.contacts_30d,
            segment_field="contacts_30d",
        ),
    )
}

#: The metrics kept in ``customer_metrics`` columns, computed from orders.
STORED_METRICS: tuple[MetricSpec, ...] = tuple(m for m in METRICS.values() if m.stored)

if TYPE_CHECKING:
    MetricName = str
else:
    #: A metric's name, as the document model validates it (a select in the panel).
    MetricName = Literal[tuple(METRICS)]


def stored_values(orders: Sequence[Purchase]) -> dict[str, Value]:
    """Every stored metric of a customer with ``orders`` (oldest first)."""
    return {m.name: m.from_orders(orders) for m in STORED_METRICS if m.from_orders is not None}


def cycle_of(values: dict[str, Value]) -> float | None:
    """The purchase cycle among a customer's stored metrics (``CustomerFacts`` keeps it in
    a field of its own; the lifecycle stage reads it)."""
    cycle = values.get("purchase_interval_median_days")
    return float(cycle) if cycle is not None else None


def metric_value(name: str, facts: CustomerFacts) -> Value:
    """Metric ``name`` in ``facts``; ``None`` for a name no entry has."""
    spec = METRICS.get(name)
    return spec.value(facts) if spec is not None else None

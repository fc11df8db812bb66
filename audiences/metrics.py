"""Customer metrics that segments filter on, kept current as orders and events arrive.

What is kept where, and how it is computed:

* **R, F, M, L and the RFM class** live on ``customer`` and follow :mod:`db.rfm` exactly
  (R = whole days since the last purchase; F / M = orders / spend in the last
  ``period_days`` days, 365 by default; L = whole days between first and last purchase;
  the class compares R, F, M with the brand's medians stored in ``rfm_baseline``).
  Segments compare R live against ``last_purchase_at``, so "90+ days dormant" is exact
  between recomputes.
* **customer_metrics**: last store visit, last browse, the stored metrics of
  :mod:`engine.metrics` (lifetime purchases, the customer's own purchase cycle — median
  days between purchases —, average order amount …: one column each, computed from the
  orders by the registry's functions) and lifecycle stage (:mod:`audiences.lifecycle`). A
  stage change from a known stage is returned as a :class:`StageChange` for the caller to
  announce as a ``lifecycle_stage_changed`` event (a customer's first stage is not a
  change: a new install must not start journeys for everyone).
* **Coupons** held / expiring within N days / redeemed are read live from the coupon ledger
  by the segment compiler (always exact, indexed by customer).

Incremental: :func:`on_event` (called by ``services.events.ingest`` for each new event)
and :func:`record_order`. A ``purchase`` event with a numeric ``amount`` whose
``order_id`` is unknown becomes an order (orders are the source of truth for RFM), then the
customer is re-scored against the latest baseline. Full: :func:`recompute` re-scores
everyone (new medians) and rebuilds ``customer_metrics`` in two SQL statements.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from audiences.lifecycle import DECLINE_DAYS, Stage, stage_of
from db import crud
from db.crud._util import aware
from db.models import Customer, CustomerEvent, Order, OrderCreate, RfmBaseline, utcnow
from db.models.segments import CustomerMetrics
from db.rfm import (
    DEFAULT_PERIOD_DAYS,
    latest_baseline,
    recompute_all,
    rescore_customer,
    rescore_from_orders,
)
from db.session import begin_write
from engine.metrics import STORED_METRICS, Purchase, Value, cycle_of, stored_values

log = logging.getLogger(__name__)

#: Event type → the metrics column whose "last at" it moves.
LAST_AT = {"browse": "last_browse_at", "store_visit": "last_store_visit_at"}


@dataclass(frozen=True)
class StageChange:
    """A customer's lifecycle stage moved from ``old`` to ``new`` at ``at``."""

    customer_id: str
    old: str
    new: str
    at: datetime


@dataclass(frozen=True)
class RecomputeSummary:
    """What a full recompute did."""

    customers_scored: int
    metrics_rows: int
    period_days: int
    medians: tuple[float, float, float]
    stage_changes: tuple[StageChange, ...] = ()


def recompute(
    *, session: Session, now: datetime, period_days: int = DEFAULT_PERIOD_DAYS
) -> RecomputeSummary:
    """Re-score every customer (new medians) and rebuild ``customer_metrics``."""
    baseline: RfmBaseline = recompute_all(session=session, now=now, period_days=period_days)
    rows, changes = rebuild_metrics(session=session, now=now)
    return RecomputeSummary(
        customers_scored=baseline.customers_scored,
        metrics_rows=rows,
        period_days=period_days,
        medians=(baseline.median_r, baseline.median_f, baseline.median_m),
        stage_changes=tuple(changes),
    )


def rebuild_metrics(*, session: Session, now: datetime) -> tuple[int, list[StageChange]]:
    """``customer_metrics`` from scratch: one row per customer, from orders and events;
    → the row count and the lifecycle stages that changed."""
    previous = {
        cid: (stage, aware(changed_at))
        for cid, stage, changed_at in session.execute(
            select(
                col(CustomerMetrics.customer_id),
                col(CustomerMetrics.lifecycle_stage),
                col(CustomerMetrics.lifecycle_changed_at),
            )
        )
    }

    def last_event(event_type: str) -> Any:
        return (
            select(func.max(CustomerEvent.occurred_at))
            .where(
                col(CustomerEvent.customer_id) == col(Customer.id),
                col(CustomerEvent.type) == event_type,
                col(CustomerEvent.occurred_at) <= now,
            )
            .scalar_subquery()
        )

    source = select(
        col(Customer.id),
        last_event("store_visit"),
        last_event("browse"),
        literal(now, CustomerMetrics.__table__.c.updated_at.type),  # type: ignore[attr-defined]
    )
    session.execute(delete(CustomerMetrics))
    session.execute(
        insert(CustomerMetrics).from_select(
            ["customer_id", "last_store_visit_at", "last_browse_at", "updated_at"], source
        )
    )
    changes = _rebuild_cycles_and_stages(session, now, previous)
    session.commit()
    count = int(session.execute(select(func.count()).select_from(CustomerMetrics)).scalar_one())
    return count, changes


def _rebuild_cycles_and_stages(
    session: Session, now: datetime, previous: dict[str, tuple[str | None, datetime | None]]
) -> list[StageChange]:
    """The stored metrics (engine.metrics) and lifecycle stage of every metrics row: one
    ordered pass over the orders (streamed, never all in memory at once), then one
    executemany of updates."""
    #: customer → (first purchase, last purchase, purchases, stored metrics) from orders
    bought: dict[str, tuple[datetime, datetime, int, dict[str, Value]]] = {}
    current: str | None = None
    orders: list[Purchase] = []

    def close() -> None:
        if current is not None and orders:
            bought[current] = (orders[0].at, orders[-1].at, len(orders), stored_values(orders))

    ordered = (
        select(col(Order.customer_id), col(Order.created_at), col(Order.amount))
        .where(col(Order.created_at) <= now)
        .order_by(col(Order.customer_id), col(Order.created_at))
        .execution_options(yield_per=5000)
    )
    for cid, at, amount in session.execute(ordered):
        if cid != current:
            close()
            current, orders = cid, []
        orders.append(Purchase(aware(at) or now, float(amount)))
    close()
    none = stored_values(())
    updates: list[dict[str, Any]] = []
    changes: list[StageChange] = []
    for (cid,) in session.execute(select(col(CustomerMetrics.customer_id))).all():
        first_at, last_at, purchases, values = bought.get(cid, (None, None, 0, none))
        stage = stage_of(
            purchases=purchases,
            first_at=first_at,
            last_at=last_at,
            cycle_days=cycle_of(values),
            now=now,
        ).value
        old, old_at = previous.get(cid, (None, None))
        changed_at = old_at if old == stage else now
        if old is not None and old != stage:
            changes.append(StageChange(customer_id=cid, old=old, new=stage, at=now))
        updates.append(
            {
                **values,
                "customer_id": cid,
                "lifecycle_stage": stage,
                "lifecycle_changed_at": changed_at,
            }
        )
    if updates:
        session.execute(update(CustomerMetrics), updates)
    return changes


def _metrics_row(session: Session, customer_id: str) -> CustomerMetrics:
    row = session.get(CustomerMetrics, customer_id)
    if row is None:
        row = CustomerMetrics(customer_id=customer_id)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:  # created meanwhile by another writer
            session.rollback()
            found = session.get(CustomerMetrics, customer_id)
            if found is None:
                raise
            row = found
    return row


def row_metrics(row: CustomerMetrics | None) -> dict[str, Value]:
    """The stored metrics (engine.metrics) of a metrics row by name, as
    ``CustomerFacts.metrics`` holds them; no row (no orders yet): none, each metric then
    reads its no-orders value (``MetricSpec.empty``)."""
    return {m.name: getattr(row, m.name) for m in STORED_METRICS} if row is not None else {}


def stored_metrics_of(*, session: Session, customer_ids: list[str]) -> dict[str, dict[str, Value]]:
    """:func:`row_metrics` of each of ``customer_ids`` in one query."""
    rows = {
        row.customer_id: row
        for row in session.scalars(
            select(CustomerMetrics).where(col(CustomerMetrics.customer_id).in_(customer_ids))
        )
    }
    return {cid: row_metrics(rows.get(cid)) for cid in customer_ids}


def moves_metrics(event_type: str) -> bool:
    """Whether an event of ``event_type`` moves any metric (:func:`on_event` ignores the
    rest)."""
    return event_type == "purchase" or event_type in LAST_AT


def on_event(
    *,
    session: Session,
    customer_id: str,
    event_type: str,
    occurred_at: datetime,
    properties: dict[str, Any],
    now: datetime | None = None,
) -> StageChange | None:
    """Move the customer's metrics for one newly recorded event; → the lifecycle stage
    change it caused, if any.

    Never raises: a failed update is logged and rolled back (the event itself is stored,
    and the next full :func:`recompute` catches the metrics up).
    """
    now = now or utcnow()
    if not moves_metrics(event_type):
        return None
    try:
        begin_write(session)
        if event_type == "purchase":
            return _purchase_event(session, customer_id, occurred_at, properties, now)
        _last_at(session, customer_id, event_type, occurred_at, now)
    except Exception:  # noqa: BLE001 - metrics must not block event ingestion
        session.rollback()
        log.exception("metrics update failed for %s (%s)", customer_id, event_type)
    return None


def _last_at(
    session: Session, customer_id: str, event_type: str, occurred_at: datetime, now: datetime
) -> None:
    column = LAST_AT.get(event_type)
    if column is None:
        return
    row = _metrics_row(session, customer_id)
    current = aware(getattr(row, column))
    if current is None or occurred_at > current:
        setattr(row, column, occurred_at)
    row.updated_at = now
    session.add(row)
    session.commit()


def _purchase_event(
    session: Session,
    customer_id: str,
    occurred_at: datetime,
    properties: dict[str, Any],
    now: datetime,
) -> StageChange | None:
    amount = properties.get("amount")
    order_id = properties.get("order_id")
    known = isinstance(order_id, int) and session.get(Order, order_id) is not None
    if not known and isinstance(amount, int | float) and not isinstance(amount, bool):
        store_id = properties.get("store_id")
        return _record_order(
            session=session,
            order_create=OrderCreate(
                customer_id=customer_id,
                amount=float(amount),
                channel=str(properties.get("channel") or "store")[:16],
                store_id=store_id if isinstance(store_id, str) else None,
                created_at=occurred_at,
            ),
            now=now,
        )[1]
    return refresh_purchases(session=session, customer_id=customer_id, now=now)


def record_order(
    *, session: Session, order_create: OrderCreate, now: datetime | None = None
) -> Order:
    """Insert an order, then bring the customer's RFM class and metrics up to date."""
    return _record_order(session=session, order_create=order_create, now=now or utcnow())[0]


def _record_order(
    *, session: Session, order_create: OrderCreate, now: datetime
) -> tuple[Order, StageChange | None]:
    if (
        order_create.store_id is not None
        and crud.get_store(session=session, store_id=order_create.store_id) is None
    ):
        order_create = order_create.model_copy(update={"store_id": None})
    # held until the scores are written: the session's identity map keeps an unchanged
    # object only while something references it, and the order and the scores read the
    # customer — once, this way
    customer = session.get(Customer, order_create.customer_id)
    order = crud.create_order(session=session, order_create=order_create)
    change = refresh_purchases(session=session, customer_id=order_create.customer_id, now=now)
    del customer
    return order, change


def refresh_purchases(*, session: Session, customer_id: str, now: datetime) -> StageChange | None:
    """Re-score one customer against the latest baseline, recompute their stored metrics
    (engine.metrics: purchases, cycle, average order …) and lifecycle stage; → the stage
    change, if any.

    One unit of work: the scores and the metrics are committed together, or — should any
    of it fail — neither (the caller's savepoint; the next full recompute catches up).
    Before the brand's first full scoring (no RFM baseline yet) that scoring runs first
    and commits on its own (:func:`db.rfm.rescore_customer`)."""
    baseline = latest_baseline(session=session)
    if baseline is None:
        rescore_customer(session=session, customer_id=customer_id, now=now)
    begin_write(session)
    # the metrics row first: creating it may roll the transaction back (another writer
    # created it meanwhile), which must not undo the scores below
    row = _metrics_row(session, customer_id)
    # the orders are read once, for the RFM scores and the stored metrics alike
    orders = [
        Purchase(aware(at) or now, float(amount))
        for at, amount in session.execute(
            select(col(Order.created_at), col(Order.amount))
            .where(col(Order.customer_id) == customer_id, col(Order.created_at) <= now)
            .order_by(col(Order.created_at))
        )
    ]
    if baseline is not None:
        rescore_from_orders(
            session=session,
            customer_id=customer_id,
            baseline=baseline,
            orders=orders,
            now=now,
        )
    values = stored_values(orders)
    for name, value in values.items():
        setattr(row, name, value)
    change = _set_stage(
        row,
        stage_of(
            purchases=len(orders),
            first_at=orders[0].at if orders else None,
            last_at=orders[-1].at if orders else None,
            cycle_days=cycle_of(values),
            now=now,
        ).value,
        now,
    )
    row.updated_at = now
    session.add(row)
    session.commit()
    return change


def _set_stage(row: CustomerMetrics, stage: str, now: datetime) -> StageChange | None:
    old = row.lifecycle_stage
    if old == stage:
        return None
    row.lifecycle_stage = stage
    row.lifecycle_changed_at = now
    if old is None:
        return None
    return StageChange(customer_id=row.customer_id, old=old, new=stage, at=now)


def sweep_declines(*, session: Session, now: datetime, limit: int = 5000) -> list[StageChange]:
    """Move customers who stopped buying into decline as time passes (no event marks it).

    Cheap enough to run often: only customers not in decline whose last purchase is older
    than the shortest decline threshold are looked at.
    """
    stmt = (
        select(CustomerMetrics, col(Customer.first_purchase_at), col(Customer.last_purchase_at))
        .join(Customer, col(Customer.id) == col(CustomerMetrics.customer_id))
        .where(
            col(Customer.last_purchase_at) < now - timedelta(days=DECLINE_DAYS),
            (col(CustomerMetrics.lifecycle_stage).is_(None))
            | (col(CustomerMetrics.lifecycle_stage) != Stage.DECLINE.value),
        )
        .limit(limit)
    )
    begin_write(session)
    changes: list[StageChange] = []
    for row, first_at, last_at in session.execute(stmt).all():
        stage = stage_of(
            purchases=row.purchases_count,
            first_at=aware(first_at),
            last_at=aware(last_at),
            cycle_days=row.purchase_interval_median_days,
            now=now,
        ).value
        change = _set_stage(row, stage, now)
        if row.lifecycle_changed_at == now:
            row.updated_at = now
            session.add(row)
        if change is not None:
            changes.append(change)
    session.commit()
    return changes

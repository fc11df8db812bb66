"""Customer metrics that segments filter on, kept current as orders and events arrive.

What is kept where, and how it is computed:

* **R, F, M, L and the RFM class** live on ``customer`` and follow :mod:`db.rfm` exactly
  (R = whole days since the last purchase; F / M = orders / spend in the last
  ``period_days`` days, 365 by default; L = whole days between first and last purchase;
  the class compares R, F, M with the brand's medians stored in ``rfm_baseline``).
  Segments compare R live against ``last_purchase_at``, so "90+ days dormant" is exact
  between recomputes.
* **customer_metrics**: lifetime purchases count, last store visit, last browse.
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
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from db import crud
from db.crud._util import aware
from db.models import Customer, CustomerEvent, Order, OrderCreate, RfmBaseline, utcnow
from db.models.segments import CustomerMetrics
from db.rfm import DEFAULT_PERIOD_DAYS, recompute_all, rescore_customer
from db.session import begin_write

log = logging.getLogger(__name__)

#: Event type → the metrics column whose "last at" it moves.
LAST_AT = {"browse": "last_browse_at", "store_visit": "last_store_visit_at"}


@dataclass(frozen=True)
class RecomputeSummary:
    """What a full recompute did."""

    customers_scored: int
    metrics_rows: int
    period_days: int
    medians: tuple[float, float, float]


def recompute(
    *, session: Session, now: datetime, period_days: int = DEFAULT_PERIOD_DAYS
) -> RecomputeSummary:
    """Re-score every customer (new medians) and rebuild ``customer_metrics``."""
    baseline: RfmBaseline = recompute_all(session=session, now=now, period_days=period_days)
    rows = rebuild_metrics(session=session, now=now)
    return RecomputeSummary(
        customers_scored=baseline.customers_scored,
        metrics_rows=rows,
        period_days=period_days,
        medians=(baseline.median_r, baseline.median_f, baseline.median_m),
    )


def rebuild_metrics(*, session: Session, now: datetime) -> int:
    """``customer_metrics`` from scratch: one row per customer, from orders and events."""

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

    purchases = (
        select(func.count(col(Order.id)))
        .where(col(Order.customer_id) == col(Customer.id), col(Order.created_at) <= now)
        .scalar_subquery()
    )
    source = select(
        col(Customer.id),
        purchases,
        last_event("store_visit"),
        last_event("browse"),
        literal(now, CustomerMetrics.__table__.c.updated_at.type),  # type: ignore[attr-defined]
    )
    session.execute(delete(CustomerMetrics))
    session.execute(
        insert(CustomerMetrics).from_select(
            [
                "customer_id",
                "purchases_count",
                "last_store_visit_at",
                "last_browse_at",
                "updated_at",
            ],
            source,
        )
    )
    session.commit()
    return int(session.execute(select(func.count()).select_from(CustomerMetrics)).scalar_one())


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


def _count_purchases(session: Session, customer_id: str) -> int:
    stmt = select(func.count(col(Order.id))).where(col(Order.customer_id) == customer_id)
    return int(session.execute(stmt).scalar_one())


def on_event(
    *,
    session: Session,
    customer_id: str,
    event_type: str,
    occurred_at: datetime,
    properties: dict[str, Any],
    now: datetime | None = None,
) -> None:
    """Move the customer's metrics for one newly recorded event.

    Never raises: a failed update is logged and rolled back (the event itself is stored,
    and the next full :func:`recompute` catches the metrics up).
    """
    now = now or utcnow()
    if event_type != "purchase" and event_type not in LAST_AT:
        return
    try:
        begin_write(session)
        if event_type == "purchase":
            _purchase_event(session, customer_id, occurred_at, properties, now)
        else:
            _last_at(session, customer_id, event_type, occurred_at, now)
    except Exception:  # noqa: BLE001 - metrics must not block event ingestion
        session.rollback()
        log.exception("metrics update failed for %s (%s)", customer_id, event_type)


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
) -> None:
    amount = properties.get("amount")
    order_id = properties.get("order_id")
    known = isinstance(order_id, int) and session.get(Order, order_id) is not None
    if not known and isinstance(amount, int | float) and not isinstance(amount, bool):
        store_id = properties.get("store_id")
        record_order(
            session=session,
            order_create=OrderCreate(
                customer_id=customer_id,
                amount=float(amount),
                channel=str(properties.get("channel") or "store")[:16],
                store_id=store_id if isinstance(store_id, str) else None,
                created_at=occurred_at,
            ),
            now=now,
        )
        return
    refresh_purchases(session=session, customer_id=customer_id, now=now)


def record_order(
    *, session: Session, order_create: OrderCreate, now: datetime | None = None
) -> Order:
    """Insert an order, then bring the customer's RFM class and metrics up to date."""
    now = now or utcnow()
    if (
        order_create.store_id is not None
        and crud.get_store(session=session, store_id=order_create.store_id) is None
    ):
        order_create = order_create.model_copy(update={"store_id": None})
    order = crud.create_order(session=session, order_create=order_create)
    refresh_purchases(session=session, customer_id=order_create.customer_id, now=now)
    return order


def refresh_purchases(*, session: Session, customer_id: str, now: datetime) -> None:
    """Re-score one customer against the latest baseline and recount their purchases."""
    rescore_customer(session=session, customer_id=customer_id, now=now)
    begin_write(session)
    row = _metrics_row(session, customer_id)
    row.purchases_count = _count_purchases(session, customer_id)
    row.updated_at = now
    session.add(row)
    session.commit()

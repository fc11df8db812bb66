"""Aggregates over guide tasks for the dashboards (all numbers come from these tables)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func, select
from sqlmodel import Session, col

from db.models import GuideTask, Order, Store

S = TypeVar("S", bound=Select)


@dataclass(frozen=True)
class TaskFilter:
    """Which tasks a report covers: created in ``[since, until)``, optionally one journey and
    some stores (``None``: all), or one guide."""

    since: datetime
    until: datetime
    journey_id: str | None = None
    store_ids: Sequence[str] | None = None
    guide_id: str | None = None


@dataclass(frozen=True)
class GuideCounts:
    region_id: str
    store_id: str
    guide_id: str
    issued: int
    open: int
    completed: int
    expired: int
    cancelled: int
    overdue_open: int
    chased: int


def _where(stmt: S, f: TaskFilter) -> S:
    stmt = stmt.where(col(GuideTask.created_at) >= f.since, col(GuideTask.created_at) < f.until)
    if f.journey_id is not None:
        stmt = stmt.where(col(GuideTask.journey_id) == f.journey_id)
    if f.store_ids is not None:
        stmt = stmt.where(col(GuideTask.store_id).in_(list(f.store_ids)))
    if f.guide_id is not None:
        stmt = stmt.where(col(GuideTask.guide_id) == f.guide_id)
    return stmt


def counts_by_guide(
    *, session: Session, task_filter: TaskFilter, now: datetime
) -> list[GuideCounts]:
    """Issued / open / completed / expired / cancelled / overdue / chased per guide."""

    def n_status(status: str) -> Any:
        return func.sum(case((col(GuideTask.status) == status, 1), else_=0))

    stmt = (
        select(
            col(Store.region_id),
            col(GuideTask.store_id),
            col(GuideTask.guide_id),
            func.count(),
            n_status("open"),
            n_status("completed"),
            n_status("expired"),
            n_status("cancelled"),
            func.sum(
                case(
                    (and_(col(GuideTask.status) == "open", col(GuideTask.due_at) < now), 1), else_=0
                )
            ),
            func.sum(case((col(GuideTask.chased_count) > 0, 1), else_=0)),
        )
        .join(Store, col(Store.id) == col(GuideTask.store_id))
        .group_by(col(Store.region_id), col(GuideTask.store_id), col(GuideTask.guide_id))
        .order_by(col(Store.region_id), col(GuideTask.store_id), col(GuideTask.guide_id))
    )
    rows = session.execute(_where(stmt, task_filter)).all()
    return [GuideCounts(r[0], r[1], r[2], *(int(v or 0) for v in r[3:])) for r in rows]


def task_moments(
    *, session: Session, task_filter: TaskFilter
) -> list[tuple[datetime, datetime | None, str]]:
    """``(created_at, completed_at, status)`` of every task in the filter (for the chart)."""
    stmt = select(col(GuideTask.created_at), col(GuideTask.completed_at), col(GuideTask.status))
    return [(r[0], r[1], r[2]) for r in session.execute(_where(stmt, task_filter)).all()]


def conversion_by_completion(
    *, session: Session, task_filter: TaskFilter, window: timedelta
) -> dict[bool, tuple[int, int]]:
    """``{completed?: (tasks, tasks whose customer bought within window of the task)}``.

    Matched in Python (two indexed queries) rather than with SQL interval arithmetic, which
    SQLite and PostgreSQL spell differently.
    """
    stmt = select(col(GuideTask.customer_id), col(GuideTask.created_at), col(GuideTask.status))
    tasks = session.execute(_where(stmt, task_filter)).all()
    customers = sorted({t[0] for t in tasks})
    purchases: dict[str, list[datetime]] = {}
    for start in range(0, len(customers), 500):
        orders = (
            select(col(Order.customer_id), col(Order.created_at))
            .where(col(Order.customer_id).in_(customers[start : start + 500]))
            .where(col(Order.created_at) >= task_filter.since)
            .where(col(Order.created_at) < task_filter.until + window)
        )
        for customer_id, at in session.execute(orders):
            purchases.setdefault(customer_id, []).append(_utc(at))
    result = {True: [0, 0], False: [0, 0]}
    for customer_id, created_at, status in tasks:
        start_at = _utc(created_at)
        bought = any(start_at <= at < start_at + window for at in purchases.get(customer_id, ()))
        bucket = result[status == "completed"]
        bucket[0] += 1
        bucket[1] += int(bought)
    return {k: (v[0], v[1]) for k, v in result.items()}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)

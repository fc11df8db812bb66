"""Run a compiled segment: count it, sample it, page through it by customer id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlmodel import Session, col

from audiences.compile import DEFAULT_TIMEZONE, CompiledSegment, compile_segment
from audiences.rules import SegmentDefinition
from db.models import Customer
from db.models.segments import CustomerMetrics


def audience_select(compiled: CompiledSegment, *columns: Any) -> Select[Any]:
    """``SELECT columns FROM customer [LEFT JOIN customer_metrics] WHERE <segment>``."""
    stmt = select(*columns).select_from(Customer)
    if compiled.uses_metrics:
        stmt = stmt.outerjoin(CustomerMetrics, col(CustomerMetrics.customer_id) == col(Customer.id))
    return stmt.where(compiled.where)


def count(session: Session, compiled: CompiledSegment) -> int:
    """How many customers match."""
    stmt = audience_select(compiled, func.count())
    return int(session.execute(stmt).scalar_one())


@dataclass(frozen=True)
class SampleRow:
    """What the builder shows of a matching customer."""

    id: str
    name: str
    member_level: str
    store_id: str | None
    rfm_class: str | None
    tags: list[str]
    last_purchase_at: datetime | None
    m_amount: float


def sample(session: Session, compiled: CompiledSegment, limit: int = 10) -> list[SampleRow]:
    """The first ``limit`` matching customers by id."""
    stmt = (
        audience_select(
            compiled,
            col(Customer.id),
            col(Customer.name),
            col(Customer.member_level),
            col(Customer.store_id),
            col(Customer.rfm_class),
            col(Customer.tags),
            col(Customer.last_purchase_at),
            col(Customer.m_amount),
        )
        .order_by(col(Customer.id))
        .limit(limit)
    )
    return [SampleRow(*row) for row in session.execute(stmt)]


def page_ids(
    session: Session, compiled: CompiledSegment, *, after: str = "", limit: int = 500
) -> list[str]:
    """Matching customer ids greater than ``after``, ascending (keyset pagination: each
    page is an index range scan, and customers added later are picked up in id order)."""
    stmt = audience_select(compiled, col(Customer.id))
    if after:
        stmt = stmt.where(col(Customer.id) > after)
    stmt = stmt.order_by(col(Customer.id)).limit(limit)
    return list(session.execute(stmt).scalars())


def matches(
    session: Session,
    definition: SegmentDefinition,
    customer_ids: list[str],
    *,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> set[str]:
    """Which of ``customer_ids`` are in the segment (for a branch on segment membership)."""
    if not customer_ids:
        return set()
    compiled = compile_segment(definition, now=now, timezone=timezone)
    stmt = audience_select(compiled, col(Customer.id)).where(col(Customer.id).in_(customer_ids))
    return set(session.execute(stmt).scalars())

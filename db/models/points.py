"""The points ledger (积分): every earn and spend of a customer's points is one row.

A customer's balance is never stored: it is the sum of the ledger's deltas that have not
expired (see :func:`db.crud.points.points_balance`), so it is right after any restart and
can be read in SQL by segments. Earning is exactly-once per ``idempotency_key`` (a journey
step's key is workflow id + node id + visit), like the coupon ledger.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow


class PointsEntry(SQLModel, table=True):
    """One earn (positive ``delta``) or spend (negative) of points."""

    __tablename__ = "points_entry"
    __table_args__ = (Index("ix_points_entry_customer_expires", "customer_id", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", max_length=32)
    delta: int
    #: Why: "journey" (a journey step), "order", "adjustment", "redemption".
    reason: str = Field(default="journey", max_length=32)
    idempotency_key: str = Field(unique=True, max_length=255)
    journey_id: str | None = Field(default=None, index=True, max_length=64)
    node_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Earned points lapse at this moment (``None``: never). Spends never expire.
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

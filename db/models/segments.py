"""Audiences: saved segments, per-customer behaviour metrics, segment enrollments and the
entry limits of segment-entered journeys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow

ENROLLMENT_STATUSES = ("running", "completed", "paused", "failed", "cancelled")
ENROLLMENT_TRIGGERS = ("publish", "schedule", "manual")


class SegmentBase(SQLModel):
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=2000)
    #: An :class:`audiences.rules.SegmentDefinition` as JSON (validated before it is saved).
    definition: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)


class SegmentCreate(SegmentBase):
    id: str = Field(max_length=64)


class Segment(SegmentBase, table=True):
    __tablename__ = "segment"

    id: str = Field(primary_key=True, max_length=64)  # e.g. "dormant_90d"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=64)
    updated_by: str = Field(default="", max_length=64)
    #: Audience size when last counted (the list shows it without re-running every query).
    last_count: int | None = None
    last_counted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SegmentPublic(SegmentBase):
    id: str
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    last_count: int | None
    last_counted_at: datetime | None


class CustomerMetrics(SQLModel, table=True):
    """Behaviour facts segments filter on that the customer row does not hold.

    Each stored metric of :mod:`engine.metrics` is the column of its name here.

    R/F/M/L and the RFM class live on ``customer`` (:mod:`db.rfm`); these are kept current
    by :mod:`audiences.metrics` as orders and events arrive, and rebuilt on demand.
    """

    __tablename__ = "customer_metrics"

    customer_id: str = Field(primary_key=True, foreign_key="customer.id", max_length=32)
    purchases_count: int = Field(default=0, index=True)
    last_store_visit_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_browse_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The median of the days between the customer's consecutive purchases (their own
    #: purchase cycle); ``None`` with fewer than two purchases.
    purchase_interval_median_days: float | None = None
    #: The mean amount of the customer's orders (客单价); ``None`` before the first order.
    avg_order_amount: float | None = None
    #: identify / develop / stable / decline (:mod:`audiences.lifecycle`), and since when.
    lifecycle_stage: str | None = Field(default=None, max_length=16, index=True)
    lifecycle_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SegmentEnrollment(SQLModel, table=True):
    """One pass of a segment's audience into a journey (at publish, by schedule, by hand).

    The enrollment workflow writes absolute counters here after every page, so the journey
    page and the CLI show progress without asking Temporal.
    """

    __tablename__ = "segment_enrollment"
    __table_args__ = (
        UniqueConstraint("workflow_id", "first_run_id"),
        Index("ix_segment_enrollment_journey_started", "journey_id", "started_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", max_length=64)
    journey_version: int
    segment_id: str = Field(max_length=64)
    workflow_id: str = Field(max_length=255)
    first_run_id: str = Field(max_length=64)
    trigger: str = Field(default="publish", max_length=16)  # ENROLLMENT_TRIGGERS
    status: str = Field(default="running", max_length=16)  # ENROLLMENT_STATUSES
    total: int = 0
    entered: int = 0
    skipped: int = 0
    cursor: str = Field(default="", max_length=32)
    as_of: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    message: str = Field(default="", max_length=255)

    @property
    def key(self) -> str:
        """The ``journey_run.enrollment_id`` of the runs this enrollment started."""
        return f"seg-{self.id}"


class SegmentEnrollmentPublic(SQLModel):
    id: int
    journey_id: str
    journey_version: int
    segment_id: str
    workflow_id: str
    trigger: str
    status: str
    total: int
    entered: int
    skipped: int
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    message: str


class JourneyEntryLimits(SQLModel, table=True):
    """Entry limits of a segment-entered journey; absent = unlimited."""

    __tablename__ = "journey_entry_limits"

    journey_id: str = Field(primary_key=True, foreign_key="journey.id", max_length=64)
    max_per_run: int | None = None
    max_per_hour: int | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

"""What-if backtests (issue 17 item 1): a version or draft against the live version on
recorded customers; one row per backtest, its progress and, when done, its report."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow

#: queued → running → done | failed
BACKTEST_STATUSES = ("queued", "running", "done", "failed")


class JourneyBacktest(SQLModel, table=True):
    __tablename__ = "journey_backtest"

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", index=True, max_length=64)
    baseline_version: int
    #: "draft" or "vN"; the draft's document is kept as it was when the backtest began
    candidate: str = Field(max_length=16)
    candidate_version: int | None = None
    candidate_document: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    source: str = Field(default="entered", max_length=16)  # "entered" | "segment"
    segment_id: str | None = Field(default=None, max_length=64)
    period_start: datetime = Field(sa_type=UTCDateTime)
    period_end: datetime = Field(sa_type=UTCDateTime)
    status: str = Field(default="queued", max_length=16)  # BACKTEST_STATUSES
    total: int = 0
    done: int = 0
    result: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    error: str = Field(default="", max_length=2000)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: a queued or running backtest's process renews this while it works; once it is past,
    #: the process is gone (a restart) and the reconciler marks the backtest failed
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

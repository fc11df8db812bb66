"""Maintained aggregates of journey results (issue 14): what the results, variant and
funnel reports read instead of scanning every run, visit and event of a period.

``services.results_store`` keeps them: it walks the rows added since its watermarks
(runs, node visits, split sides, goal events, orders) and recomputes the run facts of
every customer those rows touch, applying the difference to the per-day sums. A day is a
day in the chain's time zone (``ResultsState.timezone``); when that setting changes the
aggregates are rebuilt.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index, PrimaryKeyConstraint
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime


class ResultsState(SQLModel, table=True):
    """The one row saying how far the aggregates got: the highest id of each source
    table already counted, and the time zone the days are in."""

    __tablename__ = "results_state"

    id: int = Field(default=1, primary_key=True)
    timezone: str = Field(max_length=64)
    run_id: int = 0
    visit_id: int = 0
    variant_id: int = 0
    event_id: int = 0
    order_id: int = 0
    refreshed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: the attribution rule the order claims follow (``ClaimRule.key``); another rebuilds
    claim_rule: str = Field(default="", max_length=64, sa_column_kwargs={"server_default": ""})
    #: guide tasks completed up to here have been looked at (with a margin: see the store)
    tasks_seen: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JourneyRunResult(SQLModel, table=True):
    """What one run counts for: its day of entry, whether it converted and with what
    revenue, the node it ended at, and the splits at which it is the customer's first
    exposure (``[[node, variant], …]``). The difference between a run's old and new facts
    is what a refresh adds to the day sums."""

    __tablename__ = "journey_run_result"
    __table_args__ = (Index("ix_journey_run_result_customer", "customer_id"),)

    run_id: int = Field(primary_key=True, foreign_key="journey_run.id")
    journey_id: str = Field(max_length=64)
    journey_version: int
    customer_id: str = Field(max_length=32)
    day: date
    converted: bool = False
    revenue: float = 0.0
    ended_node: str | None = Field(default=None, max_length=64)
    exposures: list[Any] = Field(default_factory=list, sa_type=JSONType)


class JourneyDayStat(SQLModel, table=True):
    """Runs entered on one day: how many, how many converted, their revenue."""

    __tablename__ = "journey_day_stat"
    __table_args__ = (PrimaryKeyConstraint("journey_id", "day", "journey_version"),)

    journey_id: str = Field(max_length=64)
    day: date
    journey_version: int
    entered: int = 0
    conversions: int = 0
    revenue: float = 0.0


class JourneyDayNode(SQLModel, table=True):
    """Visits of the runs entered on one day, per node and port (``""``: the run ended
    there), and of the ended ones how many converted."""

    __tablename__ = "journey_day_node"
    __table_args__ = (
        PrimaryKeyConstraint("journey_id", "day", "journey_version", "node_id", "port"),
    )

    journey_id: str = Field(max_length=64)
    day: date
    journey_version: int
    node_id: str = Field(max_length=64)
    port: str = Field(max_length=64)
    visits: int = 0
    converted: int = 0


class JourneyDayVariant(SQLModel, table=True):
    """Customers first exposed to a split's variant by a run entered on one day, and of
    them how many converted (in that run) with what revenue."""

    __tablename__ = "journey_day_variant"
    __table_args__ = (
        PrimaryKeyConstraint("journey_id", "day", "journey_version", "node_id", "variant"),
    )

    journey_id: str = Field(max_length=64)
    day: date
    journey_version: int
    node_id: str = Field(max_length=64)
    variant: str = Field(max_length=40)
    customers: int = 0
    conversions: int = 0
    revenue: float = 0.0


class OrderClaim(SQLModel, table=True):
    """The journey touch an order is credited to (attribution): the customer's run or
    completed guide task whose window holds the order, the latest (or earliest, by the
    chain's rule) winning. Orders no journey claims have no row. The order's own columns
    ride along so a report reads a period's claims from one index."""

    __tablename__ = "order_claim"
    __table_args__ = (
        Index(
            "ix_order_claim_created",
            "created_at",
            "journey_id",
            "journey_version",
            "run_id",
            "amount",
            "channel",
            "store_id",
            "bound_guide_id",
        ),
        Index("ix_order_claim_customer", "customer_id"),
    )

    order_id: int = Field(primary_key=True)
    customer_id: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    amount: float
    channel: str = Field(max_length=16)
    store_id: str | None = Field(default=None, max_length=32)
    bound_guide_id: str | None = Field(default=None, max_length=32)
    journey_id: str = Field(max_length=64)
    journey_version: int
    #: the claiming run; None when a guide task of the journey claimed it
    run_id: int | None = None
    touch_at: datetime = Field(sa_type=UTCDateTime)

"""Experiments: the side each split gave each run, for variant results and lift."""

from __future__ import annotations

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class JourneyRunVariant(SQLModel, table=True):
    """The variant a split node gave one run (runs of release ``journey-semantics-v4`` on;
    written by the run recorder from ``RunRecord.variants``). Older runs have no row: their
    side is only in their Temporal history, so variant results count from that release."""

    __tablename__ = "journey_run_variant"
    __table_args__ = (
        UniqueConstraint("run_id", "node_id", name="uq_journey_run_variant_run_node"),
        Index("ix_journey_run_variant_journey_node", "journey_id", "node_id", "variant"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="journey_run.id")
    journey_id: str = Field(max_length=64)
    journey_version: int
    node_id: str = Field(max_length=64)
    variant: str = Field(max_length=40)

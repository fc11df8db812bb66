"""Journeys: the editable draft, its immutable published versions, and customers' runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapper
from sqlmodel import Field, SQLModel

from db.errors import ImmutableVersionError
from db.models._base import JSONType, UTCDateTime, utcnow

JOURNEY_STATUSES = ("draft", "live", "paused", "archived")
RUN_STATUSES = ("running", "exited", "stopped", "failed")


class JourneyBase(SQLModel):
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=2000)


class JourneyCreate(JourneyBase):
    draft_document: dict[str, Any] = Field(default_factory=dict)
    source_template_id: str | None = None
    source_journey_id: str | None = None
    source_version: int | None = None


class JourneyUpdate(SQLModel):
    name: str | None = None
    description: str | None = None


class Journey(JourneyBase, table=True):
    __tablename__ = "journey"

    id: str = Field(primary_key=True, max_length=64)
    status: str = Field(default="draft", max_length=16, index=True)  # JOURNEY_STATUSES
    draft_document: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    live_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=64)
    updated_by: str = Field(default="", max_length=64)
    source_template_id: str | None = Field(default=None, max_length=64)
    source_journey_id: str | None = Field(default=None, max_length=64)
    source_version: int | None = None
    #: The campaign's entry window (issue 17): customers enter from ``starts_at`` and no
    #: longer after ``ends_at`` (either open-ended when None); see services.campaign.
    starts_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class JourneyPublic(JourneyBase):
    id: str
    status: str
    draft_document: dict[str, Any]
    live_version: int | None
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str
    source_template_id: str | None
    source_journey_id: str | None
    source_version: int | None


class JourneyListItem(JourneyPublic):
    """A journey with its run counts, for the journey list."""

    running: int = 0
    entered: int = 0
    goal_reached: int = 0


class JourneyVersion(SQLModel, table=True):
    """A published version. Immutable once written (an ORM update raises, see below)."""

    __tablename__ = "journey_version"
    __table_args__ = (UniqueConstraint("journey_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", max_length=64)
    version: int
    document: dict[str, Any] = Field(sa_type=JSONType)
    compiled: dict[str, Any] = Field(sa_type=JSONType)  # the IR as engine.ir.to_dict
    content_hash: str = Field(max_length=128)
    published_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    published_by: str = Field(default="", max_length=64)


class JourneyRun(SQLModel, table=True):
    """One customer's path through one journey version (one Temporal workflow run)."""

    __tablename__ = "journey_run"
    __table_args__ = (
        Index("ix_journey_run_customer_status", "customer_id", "status"),
        # Also the results' "waiting here now": a journey's running runs entered in a period.
        Index("ix_journey_run_journey_status", "journey_id", "status", "entered_at"),
        # Attribution (services.attribution): a period's orders find their customer's runs
        # entered within the conversion window from this index alone, never the table.
        Index(
            "ix_journey_run_customer_entered",
            "customer_id",
            "entered_at",
            "journey_id",
            "journey_version",
            "id",
        ),
        # At most one running row per workflow id: the database, not just the code, says so.
        Index(
            "uq_journey_run_running_workflow",
            "workflow_id",
            unique=True,
            sqlite_where=text("status = 'running'"),
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=255, index=True)
    run_id: str | None = Field(default=None, max_length=64)
    journey_id: str = Field(foreign_key="journey.id", max_length=64)
    journey_version: int
    customer_id: str = Field(max_length=32)
    enrollment_id: str | None = Field(default=None, max_length=64)
    status: str = Field(default="running", max_length=16)  # one of RUN_STATUSES
    current_node: str | None = Field(default=None, max_length=64)
    entered_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    exited_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    exit_reason: str | None = Field(default=None, max_length=255)
    goal_reached: bool = False


@event.listens_for(JourneyVersion, "before_update")
def _refuse_version_update(mapper: Mapper[Any], connection: Connection, target: Any) -> None:
    # Running workflows and audit trails point at (journey_id, version): rewriting one would
    # silently change what "version 3" meant. Publish a new version instead.
    raise ImmutableVersionError(target.journey_id, target.version)


class NodeVisit(SQLModel, table=True):
    """One finished node visit of a run: the per-step funnel's raw data.

    Written by the run recorder with the run's reports (``RunRecord.visits``), so a
    retried report writes nothing twice: (workflow, enrollment, node, visit) is unique.
    ``port`` is the output taken; ``None`` when the run ended at the node. ``run_id`` is
    the ``journey_run`` row the visit belongs to (visits recorded before it was written
    have none: the results store finds their run by workflow id and time).
    """

    __tablename__ = "node_visit"
    __table_args__ = (
        UniqueConstraint(
            "workflow_id", "enrollment_id", "node_id", "visit", name="uq_node_visit_key"
        ),
        Index("ix_node_visit_journey_at", "journey_id", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=255)
    enrollment_id: str = Field(max_length=64)
    journey_id: str = Field(max_length=64)
    journey_version: int
    customer_id: str = Field(max_length=32)
    run_id: int | None = None
    node_id: str = Field(max_length=64)
    visit: int
    port: str | None = Field(default=None, max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)

"""Moving waiting customers to a newer version (issue 17 item 3): one row per move pass, its
node map, who asked, and its progress (resumable from ``cursor``), and the lease of the
process running it (a running pass whose lease lapsed lost its process: the reconciler of
another one claims it and goes on from ``cursor``)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow

#: running → done | failed (a failed or interrupted pass resumes from its cursor)
MOVE_STATUSES = ("running", "done", "failed")


class JourneyVersionMove(SQLModel, table=True):
    __tablename__ = "journey_version_move"

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", index=True, max_length=64)
    from_version: int
    to_version: int
    #: node of ``from_version`` → node of ``to_version``; nodes left out stay on the old one
    node_map: dict[str, str] = Field(default_factory=dict, sa_type=JSONType)
    status: str = Field(default="running", max_length=16)  # MOVE_STATUSES
    #: runs waiting at a mapped node when the pass began
    total: int = 0
    #: runs told to move; runs Temporal no longer had (ended meanwhile)
    moved: int = 0
    skipped: int = 0
    #: the last ``journey_run.id`` told: a resumed pass goes on after it
    cursor: int = 0
    error: str = Field(default="", max_length=2000)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: who runs a running pass ("host:pid:token", one token per claim) and until when: the
    #: pass renews it after each page; ``None`` or past means nobody does
    lease_owner: str = Field(default="", max_length=64)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)

"""The audit log and launch approvals (issue 17 items 4 and 5)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow

#: What the log records changes of.
AUDIT_OBJECT_TYPES = (
    "journey",
    "segment",
    "policy",
    "priority_group",
    "account",
    # WeCom / WeChat ids set by hand (services.contact_ids)
    "customer",
    "guide",
)
#: Every action the log knows (the page's filter lists them).
AUDIT_ACTIONS = (
    "create",
    "save",
    "publish",
    "pause",
    "resume",
    "archive",
    "restore",
    "submit",
    "approve",
    "reject",
    "migrate",
    "campaign",
    "update",
    "delete",
    "password",
    "activate",
    "deactivate",
)
APPROVAL_STATUSES = ("pending", "approved", "rejected", "withdrawn")


class AuditEntry(SQLModel, table=True):
    """One change: who, when, what (action on an object), and for settings the values
    before and after. Append-only; written in the transaction of the change itself."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_object", "object_type", "object_id", "at"),
        Index("ix_audit_entry_actor_at", "actor", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=32)  # AUDIT_ACTIONS
    object_type: str = Field(max_length=32)  # AUDIT_OBJECT_TYPES
    object_id: str = Field(max_length=120)
    summary: str = Field(default="", max_length=500)
    before: Any | None = Field(default=None, sa_type=JSONType)
    after: Any | None = Field(default=None, sa_type=JSONType)


class JourneyApproval(SQLModel, table=True):
    """A version submitted for launch: the draft as submitted (what goes live when
    approved, whatever the draft became meanwhile), its diff against the live version, the
    latest backtest when there is one, and the approver's decision."""

    __tablename__ = "journey_approval"
    __table_args__ = (Index("ix_journey_approval_status", "status", "submitted_at"),)

    id: int | None = Field(default=None, primary_key=True)
    journey_id: str = Field(foreign_key="journey.id", max_length=64, index=True)
    status: str = Field(default="pending", max_length=16)  # APPROVAL_STATUSES
    document: dict[str, Any] = Field(sa_type=JSONType)
    #: the live version the diff is against (None: nothing was live)
    base_version: int | None = None
    diff: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    backtest: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    note: str = Field(default="", max_length=2000)
    submitted_by: str = Field(max_length=64)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_comment: str = Field(default="", max_length=2000)
    published_version: int | None = None

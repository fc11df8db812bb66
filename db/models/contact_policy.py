"""The brand's contact policy (issue 15): the policy itself, its change log, and the contact
ledger every journey's actions are counted in (engine.contact_policy decides)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow
from engine.kinds.award_points import MAX_POINTS_PER_STEP

#: The one policy row's id (a brand has one policy).
POLICY_ROW_ID = 1
#: What the ledger records per decision: the action went out, or a cap held it back.
LEDGER_OUTCOMES = ("sent", "capped", "void")


class ContactPolicyRow(SQLModel, table=True):
    """Quiet hours (local times in the customer's zone; both empty: none) and the caps,
    each ``{"id", "channel", "max_contacts", "window_days", "category"}``."""

    __tablename__ = "contact_policy"

    id: int = Field(default=POLICY_ROW_ID, primary_key=True)
    quiet_start: str | None = Field(default=None, max_length=5)
    quiet_end: str | None = Field(default=None, max_length=5)
    #: The zone of customers with none of their own and no store's (None: HQ's
    #: ``settings.timezone``).
    fallback_timezone: str | None = Field(default=None, max_length=64)
    caps: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_by: str = Field(default="", max_length=64)
    #: The chain's launch rule (issue 17): a version goes live only once an approver other
    #: than its submitter signs it off (services.approvals).
    publish_requires_approval: bool = False
    #: The most points one award_points step may give (issue 13; the compiler checks it).
    max_points_per_step: int = MAX_POINTS_PER_STEP


class PolicyChange(SQLModel, table=True):
    """One change of the policy (or of a guide's daily capacity): who, when, old → new.

    Values are kept plain for machines (the page words them): quiet hours ``"21:00-08:00"``,
    a cap ``"2/7/message/all"`` (max / days / channel / category), a zone, a capacity; ``""``
    for none."""

    __tablename__ = "policy_change"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    by: str = Field(max_length=64)
    #: "quiet_hours", "fallback_timezone", "cap:<id>", "guide_capacity:<guide id>"
    subject: str = Field(max_length=100)
    old: str = Field(default="", max_length=500)
    new: str = Field(default="", max_length=500)


class ContactLedgerEntry(SQLModel, table=True):
    """One decision of the policy that let an action go out (``sent``, counted by caps) or
    held it back (``capped``), once per decision key: a retried activity reads its row."""

    __tablename__ = "contact_ledger"
    __table_args__ = (Index("ix_contact_ledger_customer_at", "customer_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    decision_key: str = Field(unique=True, max_length=300)
    customer_id: str = Field(max_length=32)
    channel: str = Field(max_length=32)
    category: str = Field(max_length=16)
    outcome: str = Field(max_length=16)  # LEDGER_OUTCOMES
    rule: str = Field(default="", max_length=64)
    until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    detail: str = Field(default="", max_length=200)
    at: datetime = Field(sa_type=UTCDateTime)
    journey_id: str | None = Field(default=None, max_length=64)
    node_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)

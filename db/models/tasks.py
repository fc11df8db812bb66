"""Guide tasks (导购任务) created by journeys, and the reminders/escalations sent about them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow

TASK_STATUSES = ("open", "completed", "expired", "cancelled")
NOTICE_KINDS = ("created", "reminder", "escalation", "expired", "chase", "cancelled")
#: Where a notice's push to the guide's phone stands (``activities.guide_notices``):
#: ``pending`` (to push, from ``push_next_at``), ``sending`` (claimed until ``push_next_at``),
#: ``sent`` (WeCom took it), ``recorded`` (no WeCom configured: kept, as before),
#: ``failed`` (refused for good, ``push_detail`` says why).
PUSH_STATUSES = ("pending", "sending", "sent", "recorded", "failed")
#: Why a task went to its guide (see db.assignment).
ASSIGN_REASONS = (
    "bound_guide",  # the customer's own guide
    "store_manager",  # the node asked for the manager, or the customer has no active guide
    "overflow_next_day",  # the guide was full today: the task waits for the next free day
    "overflow_other_guide",  # the guide was full: another guide of the store took it
    "reassigned",  # the store manager moved it
)
#: What a guide can record after contacting the customer (besides the task's own outcomes).
CONTACT_CHANNELS = ("call", "wecom", "message")


class GuideTaskBase(SQLModel):
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    guide_id: str = Field(foreign_key="guide.id", max_length=32)
    store_id: str | None = Field(default=None, foreign_key="store.id", max_length=32)
    journey_id: str | None = Field(default=None, index=True, max_length=64)
    journey_version: int | None = None
    node_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)
    task_type: str = Field(max_length=32)
    title: str = Field(max_length=120)
    instructions: str = ""  # rendered, ready to read on the phone
    status: str = Field(default="open", max_length=16)  # one of TASK_STATUSES
    outcome: str | None = Field(default=None, max_length=64)
    note: str = ""
    outcomes: list[str] = Field(default_factory=list, sa_type=JSONType)
    due_at: datetime = Field(sa_type=UTCDateTime)
    remind_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    escalated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    chased_count: int = 0
    last_chased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The guide's work day the task belongs to (store time); later than the creation day
    # when the guide's daily capacity was full.
    scheduled_for: date | None = None
    assigned_reason: str = Field(default="bound_guide", max_length=32)  # ASSIGN_REASONS
    original_guide_id: str | None = Field(default=None, max_length=32)  # before overflow/move
    snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    contact_count: int = 0
    last_contact_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GuideTask(GuideTaskBase, table=True):
    __tablename__ = "guide_task"
    __table_args__ = (
        Index("ix_guide_task_guide_status", "guide_id", "status"),
        Index("ix_guide_task_store_status", "store_id", "status"),
        Index("ix_guide_task_guide_day", "guide_id", "scheduled_for"),
        Index("ix_guide_task_status_told", "status", "journey_told_at"),
        # Attribution (services.attribution): the tasks completed within a period's
        # conversion windows, then their customers' orders; and the workbench's month.
        Index("ix_guide_task_status_completed", "status", "completed_at"),
    )

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(unique=True, max_length=255)
    #: when the journey run was told the outcome (None while a completed task's signal is
    #: still owed: the reconciler sends it, so an outcome is never lost to a crash or outage)
    journey_told_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class GuideTaskPublic(GuideTaskBase):
    id: str


class TaskNotice(SQLModel, table=True):
    __tablename__ = "task_notice"
    __table_args__ = (Index("ix_task_notice_push_due", "push_status", "push_next_at"),)

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(foreign_key="guide_task.id", index=True, max_length=40)
    kind: str = Field(max_length=16)  # one of NOTICE_KINDS
    to_guide_id: str | None = Field(default=None, foreign_key="guide.id", max_length=32)
    idempotency_key: str = Field(unique=True, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    by_user: str | None = Field(default=None, max_length=64)
    push_status: str = Field(default="pending", max_length=16)  # one of PUSH_STATUSES
    push_attempts: int = 0
    push_next_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    pushed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    push_message_id: str | None = Field(default=None, max_length=128)
    push_detail: str = Field(default="", max_length=500)


class TaskContact(SQLModel, table=True):
    """One contact attempt logged from the workbench (call, WeCom chat, prepared message)."""

    __tablename__ = "task_contact"

    id: int | None = Field(default=None, primary_key=True)
    task_id: str = Field(foreign_key="guide_task.id", index=True, max_length=40)
    channel: str = Field(max_length=16)  # one of CONTACT_CHANNELS
    result: str = Field(max_length=64)  # reached / not_reached / a task outcome / sent
    note: str = ""
    by_user: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TaskChase(SQLModel, table=True):
    """One click of 一键催办: who chased which scope when; a ``chase`` notice per task."""

    __tablename__ = "task_chase"

    id: int | None = Field(default=None, primary_key=True)
    by_user: str = Field(max_length=64)
    scope: str = Field(max_length=16)  # "journey" | "store" | "guide"
    scope_id: str = Field(max_length=64)
    tasks_chased: int = 0
    guides_chased: list[str] = Field(default_factory=list, sa_type=JSONType)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)

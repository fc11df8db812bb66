"""The outbox: every message a journey sent (or tried to), one row per idempotency key."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow

MESSAGE_STATUSES = ("recorded", "sent", "failed")


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(unique=True, max_length=255)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    channel: str = Field(max_length=32)
    subject: str = Field(default="", max_length=200)
    body: str
    status: str = Field(default="recorded", max_length=16)  # one of MESSAGE_STATUSES
    provider_response: str = ""
    journey_id: str | None = Field(default=None, index=True, max_length=64)
    node_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: A test send from the message panel (to the sender's own phone / WeCom account): kept
    #: for the record, never counted in results, caps or reports, never part of a run.
    is_test: bool = False

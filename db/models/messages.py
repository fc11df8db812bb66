"""The outbox: every message a journey sent (or tried to), one row per idempotency key; and
the per-provider send-rate buckets every worker shares."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow

#: ``recorded``: in the outbox, not handed to a provider (the outbox provider stops here);
#: ``sent``: a provider accepted it; ``delivered`` / ``failed``: final, from the provider's
#: answer or its delivery receipt.
MESSAGE_STATUSES = ("recorded", "sent", "delivered", "failed")
#: Statuses a receipt never moves a message out of (see ``db.crud.outbox.record_receipt``).
FINAL_STATUSES = ("delivered", "failed")


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: str = Field(primary_key=True, max_length=40)
    idempotency_key: str = Field(unique=True, max_length=255)
    # No foreign key: a test send from the message panel to a synthetic customer has none
    # ("" here, ``is_test``); a journey's message always names a real one.
    customer_id: str = Field(index=True, max_length=32)
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
    #: The provider the message was handed to (``aliyun_sms``, ``smtp``, …); set before the
    #: call, so a retry knows an earlier attempt may have reached it.
    provider: str = Field(default="", max_length=32)
    #: When the latest attempt was handed to ``provider`` (``None``: not handed over). A
    #: retry that cannot find that attempt at a provider whose look-up lags waits for its
    #: report until this plus the provider's report window before sending again.
    handed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The provider's id of the message (Aliyun BizId, Tencent SerialNo, …): receipts name it.
    provider_message_id: str | None = Field(default=None, index=True, max_length=128)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    failed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The latest receipt's words (a carrier error code, "DELIVRD", …).
    status_detail: str = Field(default="", max_length=500)


class ProviderRateBucket(SQLModel, table=True):
    """One provider's send-rate bucket, shared by every worker process (see
    ``db.crud.rate_limits``): the moment the next send may go, as a virtual schedule."""

    __tablename__ = "provider_rate_bucket"

    provider: str = Field(primary_key=True, max_length=32)
    #: Seconds since the epoch (float, for sub-millisecond slots) of the next free slot.
    next_slot: float = 0.0

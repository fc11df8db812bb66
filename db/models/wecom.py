"""WeCom (企业微信) contact events as received, once each (``services.wecom_contacts``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow

#: The ``change_external_contact`` change types acted on.
CONTACT_CHANGE_TYPES = ("add_external_contact", "del_external_contact", "del_follow_user")


class WeComContactEvent(SQLModel, table=True):
    """One ``change_external_contact`` callback. WeCom repeats a callback it got no answer
    to within 5 s (three times), so ``event_key`` (corp, change, member, contact, time) is
    unique: a repeat finds its row and changes nothing."""

    __tablename__ = "wecom_contact_event"
    __table_args__ = (
        Index("ix_wecom_contact_event_contact_time", "external_user_id", "event_time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(unique=True, max_length=255)
    change_type: str = Field(max_length=32)
    user_id: str = Field(max_length=64)  # the member (guide) side
    external_user_id: str = Field(max_length=64)
    #: the customer it was matched to (None: not a known customer)
    customer_id: str | None = Field(default=None, max_length=32)
    guide_id: str | None = Field(default=None, max_length=32)
    event_time: datetime = Field(sa_type=UTCDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: what was done: bound / unbound / tagged / unknown_customer / unknown_guide / stale
    outcome: str = Field(default="", max_length=32)
    state: str = Field(default="", max_length=64)

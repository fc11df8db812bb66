"""Customer events whose processing is still pending (the intake's transactional outbox).

A row is written in the same transaction as the event itself and deleted once the event
has reached every running journey of the customer and started every event entry it
triggers. Whatever is left here — Temporal was down, the web process died mid-request —
is delivered again by :mod:`services.reconcile` (and by the producer's retry), so an event
is never lost; the workflows drop an event id they have already seen, so it is never
processed twice.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow


class EventDelivery(SQLModel, table=True):
    __tablename__ = "event_delivery"

    event_id: str = Field(primary_key=True, max_length=128)
    customer_id: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: until when one process owns the delivery; a lapsed lease is anyone's to retry
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attempts: int = 0
    last_error: str = Field(default="", max_length=500)

"""Per-channel opt-outs (issue 16 item 3): which channel a customer left, how and when.

``customer.opted_out_channels`` stays the list journeys read (facts, simulation, the send
check); this table is where each entry came from (an SMS reply of "TD", a provider's
unsubscribe callback, HQ on the customer card) and since when. ``db.crud.opt_outs`` keeps
the two in step.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime

#: Where an opt-out came from; free text is allowed (a provider's own name), these are the
#: ones the product writes and words on the customer card.
OPT_OUT_SOURCES = ("sms_reply", "provider_callback", "hq", "customer_profile", "import")


class CustomerChannelOptOut(SQLModel, table=True):
    __tablename__ = "customer_channel_opt_out"
    __table_args__ = (
        UniqueConstraint("customer_id", "channel", name="uq_customer_channel_opt_out"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    channel: str = Field(max_length=32)
    source: str = Field(max_length=64)
    at: datetime = Field(sa_type=UTCDateTime)

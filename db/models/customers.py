"""Customers, their orders and behavioural events, and the RFM baseline they are scored on."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow
from engine.rfm import RFM_CLASSES as ENGINE_RFM_CLASSES

MEMBER_LEVELS = ("regular", "silver", "gold", "diamond")
#: How customers and guides call the levels (what message templates print).
MEMBER_LEVEL_NAMES = {"regular": "普通", "silver": "银卡", "gold": "金卡", "diamond": "钻石"}

#: The eight RFM classes (DOMAIN.md), keyed by (recent, high F, high M); one definition,
#: in the engine, which branch rules and the compiler also use.
RFM_CLASSES = ENGINE_RFM_CLASSES


class CustomerBase(SQLModel):
    name: str = Field(max_length=64)
    phone: str = Field(default="", max_length=32, index=True)
    gender: str = Field(default="", max_length=8)  # "F" | "M" | ""
    birthday: date | None = None
    member_level: str = Field(default="regular", max_length=16)  # one of MEMBER_LEVELS
    store_id: str | None = Field(default=None, foreign_key="store.id", index=True, max_length=32)
    guide_id: str | None = Field(default=None, foreign_key="guide.id", index=True, max_length=32)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    tags: list[str] = Field(default_factory=list, sa_type=JSONType)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    opted_out_channels: list[str] = Field(default_factory=list, sa_type=JSONType)


class CustomerCreate(CustomerBase):
    id: str = Field(max_length=32)


class CustomerUpdate(SQLModel):
    """Fields an operator may change; ``None`` leaves a field as it is."""

    name: str | None = None
    phone: str | None = None
    member_level: str | None = None
    guide_id: str | None = None
    tags: list[str] | None = None
    attributes: dict[str, Any] | None = None
    opted_out_channels: list[str] | None = None


class Customer(CustomerBase, table=True):
    __tablename__ = "customer"

    id: str = Field(primary_key=True, max_length=32)  # e.g. "C000123"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    first_purchase_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_purchase_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rfm_class: str | None = Field(default=None, max_length=8, index=True)
    r_days: int | None = None
    f_count: int = 0
    m_amount: float = 0.0
    l_days: int | None = None
    #: The customer as a WeCom external contact (企业微信 ``external_userid``), set by the
    #: contact events (``services.wx_callbacks``) or an import; WeCom messages need it.
    wecom_external_userid: str | None = Field(default=None, index=True, max_length=64)
    #: The customer's openid on the brand's WeChat official account (template messages).
    wechat_openid: str | None = Field(default=None, index=True, max_length=64)


class CustomerPublic(CustomerBase):
    id: str
    created_at: datetime
    first_purchase_at: datetime | None
    last_purchase_at: datetime | None
    rfm_class: str | None
    r_days: int | None
    f_count: int
    m_amount: float
    l_days: int | None


class OrderBase(SQLModel):
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    store_id: str | None = Field(default=None, foreign_key="store.id", max_length=32)
    guide_id: str | None = Field(default=None, foreign_key="guide.id", max_length=32)
    amount: float
    channel: str = Field(default="store", max_length=16)  # "store" | "online"
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    #: The guide the customer was bound to when they ordered (``customer_guide_binding``),
    #: stamped by ``db.crud.create_order`` when not given: bindings move, and online sales
    #: belong to the guide of that moment, not to whoever holds the customer today.
    #: ``guide_id`` stays what the source says (the guide who served the sale, if any).
    bound_guide_id: str | None = Field(default=None, max_length=32)


class OrderCreate(OrderBase):
    pass


class Order(OrderBase, table=True):
    __tablename__ = "orders"  # "order" is reserved in SQL
    __table_args__ = (
        # Covers the attribution report of a period (services.attribution): one range scan
        # of the index, grouped (or joined to the customer's journey runs by customer_id),
        # without touching the table's rows.
        Index(
            "ix_orders_created_attribution",
            "created_at",
            "channel",
            "store_id",
            "bound_guide_id",
            "amount",
            "customer_id",
        ),
        # A customer's orders within a window after a guide task (attribution, the
        # workbench's per-task conversion), read from the index alone.
        Index("ix_orders_customer_created", "customer_id", "created_at", "amount"),
    )

    id: int | None = Field(default=None, primary_key=True)


class OrderPublic(OrderBase):
    id: int


class CustomerGuideBinding(SQLModel, table=True):
    """One period a customer was bound to a guide: ``bound_from`` up to ``bound_to``
    (``None``: still bound). Written whenever ``customer.guide_id`` changes
    (``db.crud.bindings``), so an order is attributed to the guide of its moment."""

    __tablename__ = "customer_guide_binding"
    __table_args__ = (
        Index("ix_customer_guide_binding_customer_from", "customer_id", "bound_from"),
    )

    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(foreign_key="customer.id", max_length=32)
    # No foreign key: the history outlives a guide row's changes, as task reports do.
    guide_id: str = Field(max_length=32, index=True)
    bound_from: datetime = Field(sa_type=UTCDateTime)
    bound_to: datetime | None = Field(default=None, sa_type=UTCDateTime)


class CustomerEventBase(SQLModel):
    event_id: str = Field(unique=True, max_length=128)
    # No foreign key: events may arrive before the profile sync that creates the customer.
    customer_id: str = Field(max_length=32)
    type: str = Field(max_length=64)
    properties: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    occurred_at: datetime = Field(sa_type=UTCDateTime)


class CustomerEventCreate(CustomerEventBase):
    pass


class CustomerEvent(CustomerEventBase, table=True):
    __tablename__ = "customer_event"
    __table_args__ = (
        Index("ix_customer_event_customer_type_time", "customer_id", "type", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class CustomerEventPublic(CustomerEventBase):
    id: int
    received_at: datetime


class RfmBaseline(SQLModel, table=True):
    """The medians of one full RFM recompute; incremental updates classify against the latest."""

    __tablename__ = "rfm_baseline"

    id: int | None = Field(default=None, primary_key=True)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    period_days: int
    median_r: float
    median_f: float
    median_m: float
    customers_scored: int

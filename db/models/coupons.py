"""Coupon templates (what HQ can hand out) and the ledger of coupons actually issued."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow


class CouponTemplateBase(SQLModel):
    name: str = Field(max_length=120)
    face_value: float
    min_spend: float = 0.0
    validity_days: int = 30
    stock: int | None = None  # None = unlimited
    active: bool = True


class CouponTemplateCreate(CouponTemplateBase):
    id: str = Field(max_length=64)  # e.g. "NEW20"


class CouponTemplate(CouponTemplateBase, table=True):
    __tablename__ = "coupon_template"

    id: str = Field(primary_key=True, max_length=64)
    issued_count: int = 0


class CouponTemplatePublic(CouponTemplateBase):
    id: str
    issued_count: int


class IssuedCoupon(SQLModel, table=True):
    """One coupon in a customer's hands; ``idempotency_key`` makes issuing exactly-once."""

    __tablename__ = "issued_coupon"

    id: str = Field(primary_key=True, max_length=40)
    code: str = Field(unique=True, max_length=40)
    template_id: str = Field(foreign_key="coupon_template.id", index=True, max_length=64)
    customer_id: str = Field(foreign_key="customer.id", index=True, max_length=32)
    idempotency_key: str = Field(unique=True, max_length=255)
    journey_id: str | None = Field(default=None, index=True, max_length=64)
    node_id: str | None = Field(default=None, max_length=64)
    workflow_id: str | None = Field(default=None, max_length=255)
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    redeemed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    order_id: int | None = Field(default=None, foreign_key="orders.id")

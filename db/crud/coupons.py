"""Coupon templates and the issued-coupon ledger.

:func:`issue_coupon` is the only way a coupon comes into existence: it is exactly-once per
idempotency key and never oversells a template's stock, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.crud._util import find_by, read_back
from db.errors import CouponStockExhaustedError, CouponTemplateInactiveError, NotFoundError
from db.models import CouponTemplate, CouponTemplateCreate, Customer, IssuedCoupon
from db.session import begin_write

# No 0/O/1/I: codes are read aloud at the till.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def list_coupon_templates(*, session: Session, active_only: bool = False) -> list[CouponTemplate]:
    """Coupon templates by id."""
    stmt = select(CouponTemplate).order_by(col(CouponTemplate.id))
    if active_only:
        stmt = stmt.where(col(CouponTemplate.active).is_(True))
    return list(session.exec(stmt))


def get_coupon_template(*, session: Session, template_id: str) -> CouponTemplate | None:
    """The template ``template_id``, or ``None``."""
    return session.get(CouponTemplate, template_id)


def create_coupon_template(
    *, session: Session, template_create: CouponTemplateCreate
) -> CouponTemplate:
    """Insert a coupon template."""
    template = CouponTemplate.model_validate(template_create)
    session.add(template)
    session.commit()
    read_back(session, template)
    return template


def get_issued_coupon(*, session: Session, coupon_id: str) -> IssuedCoupon | None:
    """The issued coupon ``coupon_id``, or ``None``."""
    return session.get(IssuedCoupon, coupon_id)


def get_issued_coupons(*, session: Session, coupon_ids: Sequence[str]) -> list[IssuedCoupon]:
    """The issued coupons among ``coupon_ids`` that exist."""
    if not coupon_ids:
        return []
    stmt = select(IssuedCoupon).where(col(IssuedCoupon.id).in_(list(coupon_ids)))
    return list(session.exec(stmt))


def list_issued_coupons(
    *,
    session: Session,
    customer_id: str | None = None,
    journey_id: str | None = None,
    limit: int = 100,
) -> list[IssuedCoupon]:
    """Issued coupons, newest first, optionally of one customer and/or journey."""
    stmt = select(IssuedCoupon)
    if customer_id is not None:
        stmt = stmt.where(IssuedCoupon.customer_id == customer_id)
    if journey_id is not None:
        stmt = stmt.where(IssuedCoupon.journey_id == journey_id)
    stmt = stmt.order_by(col(IssuedCoupon.issued_at).desc()).limit(limit)
    return list(session.exec(stmt))


def issue_coupon(
    *,
    session: Session,
    template_id: str,
    customer_id: str,
    idempotency_key: str,
    issued_at: datetime,
    journey_id: str | None = None,
    node_id: str | None = None,
    workflow_id: str | None = None,
) -> tuple[IssuedCoupon, bool]:
    """Issue one coupon of ``template_id`` to ``customer_id``; ``(coupon, created)``.

    A known ``idempotency_key`` returns the coupon issued the first time, whatever the
    template's stock is now. Otherwise, in one transaction: take one unit of stock with a
    guarded ``UPDATE`` (so two workers can never both take the last one), then insert the
    ledger row. If another worker inserted the same key meanwhile, the unique index rejects
    ours, the rollback returns our unit of stock, and the winner's coupon is returned.

    Raises :class:`NotFoundError` (template or customer), :class:`CouponTemplateInactiveError`,
    :class:`CouponStockExhaustedError`.
    """
    begin_write(session)
    existing = find_by(session, IssuedCoupon, IssuedCoupon.idempotency_key, idempotency_key)
    if existing is not None:
        session.rollback()
        return existing, False
    template = session.get(CouponTemplate, template_id)
    if template is None:
        session.rollback()
        raise NotFoundError("coupon template", template_id)
    if not template.active:
        session.rollback()
        raise CouponTemplateInactiveError(template_id)
    if session.get(Customer, customer_id) is None:
        session.rollback()
        raise NotFoundError("customer", customer_id)

    taken = session.execute(
        update(CouponTemplate)
        .where(col(CouponTemplate.id) == template_id)
        .where(
            or_(
                col(CouponTemplate.stock).is_(None),
                col(CouponTemplate.issued_count) < col(CouponTemplate.stock),
            )
        )
        .values(issued_count=col(CouponTemplate.issued_count) + 1)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        session.rollback()
        raise CouponStockExhaustedError(template_id, template.stock or 0)

    coupon = IssuedCoupon(
        id=uuid.uuid4().hex,
        code=_new_code(template_id),
        template_id=template_id,
        customer_id=customer_id,
        idempotency_key=idempotency_key,
        journey_id=journey_id,
        node_id=node_id,
        workflow_id=workflow_id,
        issued_at=issued_at,
        expires_at=issued_at + timedelta(days=template.validity_days),
    )
    session.add(coupon)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        winner = find_by(session, IssuedCoupon, IssuedCoupon.idempotency_key, idempotency_key)
        if winner is None:
            raise
        return winner, False
    return coupon, True


def redeem_coupon(
    *, session: Session, coupon_id: str, order_id: int | None, at: datetime
) -> IssuedCoupon:
    """Mark ``coupon_id`` redeemed by ``order_id`` (a second call keeps the first redemption)."""
    coupon = session.get(IssuedCoupon, coupon_id)
    if coupon is None:
        raise NotFoundError("issued coupon", coupon_id)
    if coupon.redeemed_at is None:
        coupon.redeemed_at = at
        coupon.order_id = order_id
        session.add(coupon)
        session.commit()
        read_back(session, coupon)
    return coupon


def _new_code(template_id: str) -> str:
    suffix = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
    return f"{template_id[:12]}-{suffix}"

"""Read the customer facts a branch or wait needs (the ``load_facts`` local activity)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session

from activities._time import iso, parse_instant
from audiences import matches, parse_definition
from audiences.metrics import row_metrics
from db import crud
from db.crud.contact_policy import contact_recency
from db.crud.points import points_balance
from db.models import Customer
from db.models.segments import CustomerMetrics
from engine.contact_policy import ContactRecency
from engine.effects import CouponState, CustomerFacts, FactsRequest


def load_facts(session: Session, request: FactsRequest) -> CustomerFacts:
    """The customer's profile, event counts over ``[as_of - window_days, as_of]``, the
    states of the coupons and the segment memberships asked about. ``found=False`` for an
    unknown customer."""
    customer = crud.get_customer(session=session, customer_id=request.customer_id)
    if customer is None:
        return CustomerFacts(customer_id=request.customer_id, found=False, as_of=request.as_of)
    as_of = parse_instant(request.as_of)
    store = (
        crud.get_store(session=session, store_id=customer.store_id) if customer.store_id else None
    )
    counts = {
        query.key: crud.count_events(
            session=session,
            customer_id=customer.id,
            event_type=query.event_type,
            since=as_of - timedelta(days=query.window_days),
            until=as_of,
        )
        for query in request.event_counts
    }
    coupons = {
        c.id: CouponState(
            coupon_id=c.id,
            # Redeemed "as of" the workflow's clock, so a replayed branch decides the same.
            redeemed=c.redeemed_at is not None and c.redeemed_at <= as_of,
            expires_at=iso(c.expires_at),
        )
        for c in crud.get_issued_coupons(session=session, coupon_ids=request.coupon_ids)
        if c.customer_id == customer.id
    }
    return profile_facts(
        customer,
        store_timezone=store.timezone if store else customer.timezone,
        metrics=session.get(CustomerMetrics, customer.id),
        points=points_balance(session=session, customer_id=customer.id, as_of=as_of),
        seen=contact_recency(session=session, customer_id=customer.id, as_of=as_of),
        as_of=request.as_of,
        segments=_memberships(session, customer.id, request.segment_ids, as_of),
        event_counts=counts,
        coupons=coupons,
    )


def profile_facts(
    customer: Customer,
    *,
    store_timezone: str,
    metrics: CustomerMetrics | None,
    points: int,
    seen: ContactRecency,
    as_of: str,
    segments: dict[str, bool] | None = None,
    event_counts: dict[str, int] | None = None,
    coupons: dict[str, CouponState] | None = None,
) -> CustomerFacts:
    """A found customer's facts from what the caller read: ``load_facts`` for one customer,
    the enrollment pages' snapshots for a page of them (set-based reads). One builder, so a
    new profile fact or metric reaches both."""
    return CustomerFacts(
        customer_id=customer.id,
        found=True,
        name=customer.name,
        member_level=customer.member_level,
        store_id=customer.store_id,
        guide_id=customer.guide_id,
        tags=list(customer.tags),
        attributes=dict(customer.attributes),
        rfm_class=customer.rfm_class,
        birthday=customer.birthday.isoformat() if customer.birthday else None,
        timezone=customer.timezone,
        store_timezone=store_timezone,
        opted_out_channels=list(customer.opted_out_channels),
        as_of=as_of,
        member_since=member_since(customer),
        last_purchase_at=iso(customer.last_purchase_at) if customer.last_purchase_at else None,
        purchase_interval_median_days=metrics.purchase_interval_median_days if metrics else None,
        lifecycle_stage=metrics.lifecycle_stage if metrics else None,
        points_balance=points,
        last_contacted_at=iso(seen.last_at) if seen.last_at else None,
        last_contacted_channel=seen.last_channel,
        contacts_7d=seen.contacts_7d,
        contacts_30d=seen.contacts_30d,
        metrics=row_metrics(metrics),
        segments=segments or {},
        event_counts=event_counts or {},
        coupons=coupons or {},
    )


def member_since(customer: Customer) -> str:
    """The day the customer joined (YYYY-MM-DD in their zone)."""
    zone = _zone(customer.timezone)
    return parse_instant(iso(customer.created_at)).astimezone(zone).date().isoformat()


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Shanghai")


def _memberships(
    session: Session, customer_id: str, segment_ids: list[str], as_of: datetime
) -> dict[str, bool]:
    """Is the customer in each segment, by its rules as of ``as_of``? A segment that no
    longer exists (deletion is refused while a journey uses it) counts as "not in it"."""
    found: dict[str, bool] = {}
    for segment_id in segment_ids:
        segment = crud.get_segment(session=session, segment_id=segment_id)
        found[segment_id] = segment is not None and customer_id in matches(
            session, parse_definition(segment.definition), [customer_id], now=as_of
        )
    return found

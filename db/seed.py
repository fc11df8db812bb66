"""Demo data: a mother-and-baby / women's-wear chain with a year of history.

Four regions, twelve stores, forty guides (one manager per store), ~20,000 customers and
their orders, purchase/browse/visit events and coupon templates; RFM classes computed at
the end. Segments are chosen so every demo journey has an audience: first-time buyers this
week (新客二回), dormant customers 90+ days (沉睡唤醒), browsers who never bought (潜客激活),
birthdays spread over the year.

Fast (core ``insert()`` of lists of dicts, one transaction) and idempotent: a database that
already has a region is left alone.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, text
from sqlmodel import Session

from db import seed_data as data
from db.models import (
    CouponTemplate,
    Customer,
    CustomerEvent,
    CustomerGuideBinding,
    Guide,
    Order,
    Region,
    Store,
    utcnow,
)
from db.rfm import recompute_all

_CHUNK = 5_000


@dataclass
class SeedSummary:
    """What :func:`seed_demo` did (``created`` False: the data was already there)."""

    created: bool
    regions: int = 0
    stores: int = 0
    guides: int = 0
    customers: int = 0
    orders: int = 0
    events: int = 0
    coupon_templates: int = 0
    rfm_classes: dict[str, int] = field(default_factory=dict)


def seed_demo(
    *,
    session_or_engine: Session | Engine,
    seed: int = 42,
    customers: int = 20_000,
    now: datetime | None = None,
) -> SeedSummary:
    """Fill an empty, migrated database with the demo chain; a no-op if it has a region."""
    if isinstance(session_or_engine, Session):
        return _seed(session_or_engine, seed, customers, now or utcnow())
    with Session(session_or_engine, expire_on_commit=False) as session:
        return _seed(session, seed, customers, now or utcnow())


def _seed(session: Session, seed: int, n_customers: int, now: datetime) -> SeedSummary:
    if session.execute(select(func.count()).select_from(Region)).scalar_one() > 0:
        return SeedSummary(created=False, **_counts(session))
    rng = random.Random(seed)
    conn = session.connection()

    conn.execute(insert(Region), [{"id": rid, "name": name} for rid, name in data.REGIONS])
    guides_by_store = _insert_stores_and_guides(session, rng)
    conn.execute(
        insert(CouponTemplate),
        [
            {
                "id": tid,
                "name": name,
                "face_value": face,
                "min_spend": min_spend,
                "validity_days": days,
                "stock": stock,
                "issued_count": 0,
                "active": True,
            }
            for tid, name, face, min_spend, days, stock in data.COUPON_TEMPLATES
        ],
    )
    customer_rows, order_rows, event_rows = _generate_people(rng, n_customers, now, guides_by_store)
    binding_rows = _bindings(rng, customer_rows, order_rows, guides_by_store, now)
    for table, rows in (
        (Customer, customer_rows),
        (CustomerGuideBinding, binding_rows),
        (Order, order_rows),
        (CustomerEvent, event_rows),
    ):
        for start in range(0, len(rows), _CHUNK):
            conn.execute(insert(table), rows[start : start + _CHUNK])
    if conn.dialect.name == "postgresql":
        # Orders were inserted with explicit ids; move the serial past them.
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('orders', 'id'), "
                "(SELECT COALESCE(MAX(id), 1) FROM orders))"
            )
        )
    session.commit()
    recompute_all(session=session, now=now)
    return SeedSummary(created=True, **_counts(session))


def _insert_stores_and_guides(session: Session, rng: random.Random) -> dict[str, list[str]]:
    """Stores, then their managers and guides; returns store id → its (non-manager) guides."""
    conn = session.connection()
    stores, guides = [], []
    guides_by_store: dict[str, list[str]] = {}
    n = 0
    for store_id, region_id, name, city, n_guides in data.STORES:
        n += 1
        manager_id = f"G{n:03d}"
        guides.append(_guide(rng, manager_id, store_id, "store_manager", capacity=20))
        guides_by_store[store_id] = []
        for _ in range(n_guides):
            n += 1
            guide_id = f"G{n:03d}"
            guides.append(_guide(rng, guide_id, store_id, "guide", capacity=30))
            guides_by_store[store_id].append(guide_id)
        stores.append(
            {
                "id": store_id,
                "region_id": region_id,
                "name": name,
                "city": city,
                "timezone": "Asia/Shanghai",
                "manager_guide_id": manager_id,
            }
        )
    conn.execute(insert(Store), stores)
    conn.execute(insert(Guide), guides)
    return guides_by_store


def _guide(
    rng: random.Random, guide_id: str, store_id: str, role: str, capacity: int
) -> dict[str, Any]:
    return {
        "id": guide_id,
        "store_id": store_id,
        "name": _name(rng, "F"),
        "role": role,
        "phone": _phone(rng),
        "daily_capacity": capacity,
        "active": True,
    }


def _generate_people(
    rng: random.Random, n: int, now: datetime, guides_by_store: dict[str, list[str]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    store_ids = list(guides_by_store)
    # Flagship stores have more members.
    store_weights = [3 if len(guides_by_store[s]) == 3 else 2 for s in store_ids]
    levels, level_weights = zip(*data.MEMBER_LEVEL_WEIGHTS.items(), strict=True)
    customers: list[dict[str, Any]] = []
    orders: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i in range(1, n + 1):
        cid = f"C{i:06d}"
        gender = "F" if rng.random() < 0.82 else "M"
        store_id = rng.choices(store_ids, store_weights)[0]
        level = rng.choices(levels, level_weights)[0]
        guide_id = rng.choice(guides_by_store[store_id]) if rng.random() < 0.85 else None
        segment = rng.choices(("never", "new", "dormant", "active"), (8, 3, 17, 72))[0]
        tags = [t for t, share in data.TAGS.items() if rng.random() < share]
        order_times = _order_times(rng, segment, now)
        if segment == "new":
            tags.append("新客")
        first = min(order_times) if order_times else None
        created_at = (first or now) - timedelta(
            days=rng.randint(0, 20 if segment == "new" else 400)
        )
        for at in order_times:
            amount = round(data.TICKET[level] * rng.lognormvariate(0, 0.45))
            channel = "online" if rng.random() < 0.3 else "store"
            order_id = len(orders) + 1
            orders.append(
                {
                    "id": order_id,
                    "customer_id": cid,
                    "store_id": store_id,
                    "guide_id": guide_id,
                    "amount": float(amount),
                    "channel": channel,
                    "created_at": at,
                }
            )
            events.append(
                _event(
                    f"order-{order_id}",
                    cid,
                    "purchase",
                    at,
                    {
                        "order_id": order_id,
                        "amount": float(amount),
                        "channel": channel,
                        "store_id": store_id,
                    },
                )
            )
        events.extend(_browse_and_visits(rng, cid, segment, store_id, now))
        customers.append(
            {
                "id": cid,
                "name": _name(rng, gender),
                "phone": _phone(rng),
                "gender": gender,
                "birthday": _birthday(rng),
                "member_level": level,
                "store_id": store_id,
                "guide_id": guide_id,
                "timezone": "Asia/Shanghai",
                "tags": tags,
                "attributes": {"source": rng.choice(data.SOURCES)},
                "opted_out_channels": ["sms"] if rng.random() < 0.03 else [],
                "created_at": created_at,
                "first_purchase_at": first,
                "last_purchase_at": max(order_times) if order_times else None,
                "rfm_class": None,
                "r_days": None,
                "f_count": 0,
                "m_amount": 0.0,
                "l_days": None,
            }
        )
    return customers, orders, events


#: Share of bound customers whose guide changed once (a guide left, the manager moved them):
#: their older orders belong to the guide of that time.
REBOUND_SHARE = 0.08


def _bindings(
    rng: random.Random,
    customers: list[dict[str, Any]],
    orders: list[dict[str, Any]],
    guides_by_store: dict[str, list[str]],
    now: datetime,
) -> list[dict[str, Any]]:
    """Each bound customer's binding history (one period, or two when the guide changed),
    and each order stamped with the guide bound at its moment (``bound_guide_id``)."""
    rows: list[dict[str, Any]] = []
    switched: dict[str, tuple[datetime, str]] = {}  # customer → (switch moment, old guide)
    for c in customers:
        guide, since = c["guide_id"], c["created_at"]
        if guide is None:
            continue
        others = [g for g in guides_by_store[c["store_id"]] if g != guide]
        if others and rng.random() < REBOUND_SHARE:
            moment = now - timedelta(days=rng.uniform(20, 200))
            if moment > since:
                old = rng.choice(others)
                rows.append(_binding(c["id"], old, since, moment))
                switched[c["id"]] = (moment, old)
                since = moment
        rows.append(_binding(c["id"], guide, since, None))
    for o in orders:
        o["bound_guide_id"] = o["guide_id"]
        change = switched.get(o["customer_id"])
        if change is not None and o["created_at"] < change[0]:
            o["bound_guide_id"] = change[1]
    return rows


def _binding(
    customer_id: str, guide_id: str, since: datetime, until: datetime | None
) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "guide_id": guide_id,
        "bound_from": since,
        "bound_to": until,
    }


def _order_times(rng: random.Random, segment: str, now: datetime) -> list[datetime]:
    """Purchase moments in the past year that make the customer fit ``segment``."""
    if segment == "never":
        return []
    if segment == "new":
        return [_in_store_hours(rng, now - timedelta(days=rng.uniform(0.2, 6.5)))]
    if segment == "dormant":
        last = rng.uniform(90, 330)
        count = rng.choices((1, 2, 3, 4), (45, 30, 15, 10))[0]
        days = [last] + [rng.uniform(last, 365) for _ in range(count - 1)]
    else:
        count = rng.choices((1, 2, 3, 4, 5, 6), (22, 26, 20, 14, 10, 8))[0]
        last = rng.uniform(0.5, 89)
        days = [last] + [rng.uniform(last, 365) for _ in range(count - 1)]
    return sorted(_in_store_hours(rng, now - timedelta(days=d)) for d in days)


def _in_store_hours(rng: random.Random, moment: datetime) -> datetime:
    # 10:00-21:00 Beijing time is 02:00-13:00 UTC.
    day = moment.astimezone(UTC).replace(hour=2, minute=0, second=0, microsecond=0)
    at = day + timedelta(minutes=rng.randint(0, 11 * 60 - 1))
    return min(at, moment)


def _browse_and_visits(
    rng: random.Random, cid: str, segment: str, store_id: str, now: datetime
) -> list[dict[str, Any]]:
    events = []
    browse_share = 0.5 if segment == "never" else 0.12
    if rng.random() < browse_share:
        for k in range(rng.randint(1, 3)):
            at = now - timedelta(days=rng.uniform(0, 14))
            events.append(
                _event(
                    f"browse-{cid}-{k}",
                    cid,
                    "browse",
                    at,
                    {"category": rng.choice(data.BROWSE_CATEGORIES), "source": "mini_program"},
                )
            )
    if rng.random() < 0.05:
        at = now - timedelta(days=rng.uniform(0, 30))
        events.append(_event(f"visit-{cid}", cid, "store_visit", at, {"store_id": store_id}))
    return events


def _event(
    event_id: str, cid: str, type_: str, at: datetime, props: dict[str, Any]
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "customer_id": cid,
        "type": type_,
        "properties": props,
        "occurred_at": at,
        "received_at": at,
    }


def _name(rng: random.Random, gender: str) -> str:
    given = data.GIVEN_FEMALE if gender == "F" else data.GIVEN_MALE
    length = 1 if rng.random() < 0.3 else 2
    return rng.choice(data.SURNAMES) + "".join(rng.choice(given) for _ in range(length))


def _phone(rng: random.Random) -> str:
    return rng.choice(("138", "139", "135", "136", "150", "158", "186", "188", "177")) + (
        f"{rng.randint(0, 99_999_999):08d}"
    )


def _birthday(rng: random.Random) -> date | None:
    if rng.random() < 0.1:
        return None
    return date(rng.randint(1975, 2002), 1, 1) + timedelta(days=rng.randint(0, 364))


def _counts(session: Session) -> dict[str, Any]:
    def count(model: Any) -> int:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())

    classes = session.execute(
        select(Customer.rfm_class, func.count())  # type: ignore[call-overload]
        .where(Customer.rfm_class.is_not(None))  # type: ignore[union-attr]
        .group_by(Customer.rfm_class)
    ).all()
    return {
        "regions": count(Region),
        "stores": count(Store),
        "guides": count(Guide),
        "customers": count(Customer),
        "orders": count(Order),
        "events": count(CustomerEvent),
        "coupon_templates": count(CouponTemplate),
        "rfm_classes": dict(Counter({cls: int(n) for cls, n in classes})),
    }

"""RFM(L) scoring and the eight RFM classes of DOMAIN.md.

For each customer, as of ``now`` and over a period of ``period_days`` (365 by default):

* **R** (recency) = whole days from the last purchase (ever) to ``now``;
* **F** (frequency) = number of orders in ``(now - period_days, now]``;
* **M** (monetary) = sum of those orders' amounts;
* **L** (lifetime) = whole days between the first and the last purchase (ever).

The brand's medians of R, F and M are taken over the customers with at least one order in
the period (people who never bought, or not this period, would drag every median to 0).
Then, per customer:

* *recent* ⇔ ``R < median R`` (strictly below: a customer exactly at the median is not
  "recent");
* *high F* ⇔ ``F >= median F``; *high M* ⇔ ``M >= median M``;

and :data:`db.models.RFM_CLASSES` maps (recent, high F, high M) to the class name, e.g.
(True, True, True) → 重要价值. Customers with purchases but none in the period score F = 0,
M = 0 (→ 一般挽留 unless the medians are 0); customers who never bought get no class.

:func:`recompute_all` scores everyone and stores the medians in ``rfm_baseline``;
:func:`rescore_customer` re-scores one customer (after an order) against the latest
baseline, so a single purchase does not move everyone else's class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import fsum
from statistics import median

from sqlalchemy import case, func, select, update
from sqlmodel import Session, col

from db.models import RFM_CLASSES, Customer, Order, RfmBaseline
from engine.metrics import Purchase

DEFAULT_PERIOD_DAYS = 365


@dataclass(frozen=True)
class RfmScore:
    """One customer's raw scores (``r_days``/``l_days`` are ``None`` if they never bought)."""

    customer_id: str
    r_days: int | None
    f_count: int
    m_amount: float
    l_days: int | None


@dataclass(frozen=True)
class Medians:
    r: float
    f: float
    m: float


def classify(score: RfmScore, medians: Medians) -> str | None:
    """The RFM class of ``score`` against ``medians`` (``None``: never bought)."""
    if score.r_days is None:
        return None
    recent = score.r_days < medians.r
    high_f = score.f_count >= medians.f
    high_m = score.m_amount >= medians.m
    return RFM_CLASSES[(recent, high_f, high_m)]


def compute_medians(scores: list[RfmScore]) -> Medians:
    """Medians of R, F, M over the customers who bought in the period."""
    active = [s for s in scores if s.f_count > 0 and s.r_days is not None]
    if not active:
        return Medians(r=0.0, f=0.0, m=0.0)
    return Medians(
        r=float(median(s.r_days for s in active if s.r_days is not None)),
        f=float(median(s.f_count for s in active)),
        m=float(median(s.m_amount for s in active)),
    )


def _days(later: datetime, earlier: datetime) -> int:
    return max(0, (later - earlier).days)


def score_customers(
    *,
    session: Session,
    now: datetime,
    period_days: int = DEFAULT_PERIOD_DAYS,
    customer_ids: list[str] | None = None,
) -> list[RfmScore]:
    """Raw R/F/M/L of every customer who ever ordered (or of ``customer_ids``), in SQL."""
    since = now - timedelta(days=period_days)
    in_period = (col(Order.created_at) > since) & (col(Order.created_at) <= now)
    stmt = select(
        col(Order.customer_id),
        func.min(Order.created_at),
        func.max(Order.created_at),
        func.sum(case((in_period, 1), else_=0)),
        func.sum(case((in_period, col(Order.amount)), else_=0.0)),
    ).where(col(Order.created_at) <= now)
    if customer_ids is not None:
        stmt = stmt.where(col(Order.customer_id).in_(customer_ids))
    stmt = stmt.group_by(col(Order.customer_id))
    scores = []
    for cid, first, last, f, m in session.execute(stmt):
        first_at, last_at = _as_utc(first), _as_utc(last)
        scores.append(
            RfmScore(
                customer_id=cid,
                r_days=_days(now, last_at),
                f_count=int(f or 0),
                m_amount=round(float(m or 0.0), 2),
                l_days=_days(last_at, first_at),
            )
        )
    return scores


def score_orders(
    customer_id: str,
    orders: Sequence[Purchase],
    *,
    now: datetime,
    period_days: int = DEFAULT_PERIOD_DAYS,
) -> RfmScore | None:
    """:func:`score_customers` of one customer from their ``orders`` (aware moments, in any
    order; those after ``now`` are left out, as the query does) without a query: for a
    caller that has read them already. ``None``: no order up to ``now``."""
    upto = [o for o in orders if o.at <= now]
    if not upto:
        return None
    since = now - timedelta(days=period_days)
    first_at = _as_utc(min(o.at for o in upto))
    last_at = _as_utc(max(o.at for o in upto))
    in_period = [o.amount for o in upto if o.at > since]
    return RfmScore(
        customer_id=customer_id,
        r_days=_days(now, last_at),
        f_count=len(in_period),
        m_amount=round(fsum(in_period), 2),
        l_days=_days(last_at, first_at),
    )


def _as_utc(value: object) -> datetime:
    # Defensive: should an aggregate bypass the column type, SQLite hands back its string.
    parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def recompute_all(
    *, session: Session, now: datetime, period_days: int = DEFAULT_PERIOD_DAYS
) -> RfmBaseline:
    """Score every customer, store the new class on each, and record the medians."""
    scores = score_customers(session=session, now=now, period_days=period_days)
    medians = compute_medians(scores)
    # Customers without orders lose any stale class first; then one executemany of updates.
    session.execute(
        update(Customer).values(rfm_class=None, r_days=None, f_count=0, m_amount=0.0, l_days=None)
    )
    if scores:
        session.execute(
            update(Customer),
            [
                {
                    "id": s.customer_id,
                    "rfm_class": classify(s, medians),
                    "r_days": s.r_days,
                    "f_count": s.f_count,
                    "m_amount": s.m_amount,
                    "l_days": s.l_days,
                }
                for s in scores
            ],
        )
    baseline = RfmBaseline(
        computed_at=now,
        period_days=period_days,
        median_r=medians.r,
        median_f=medians.f,
        median_m=medians.m,
        customers_scored=len(scores),
    )
    session.add(baseline)
    session.commit()
    session.refresh(baseline)
    return baseline


def latest_baseline(*, session: Session) -> RfmBaseline | None:
    """The medians of the most recent full recompute."""
    stmt = select(RfmBaseline).order_by(col(RfmBaseline.id).desc()).limit(1)
    return session.execute(stmt).scalars().first()


def rescore_customer(*, session: Session, customer_id: str, now: datetime) -> str | None:
    """Re-score one customer against the latest baseline; returns the new class.

    Without a baseline yet, this runs :func:`recompute_all` instead.
    """
    baseline = latest_baseline(session=session)
    if baseline is None:
        recompute_all(session=session, now=now)
        customer = session.get(Customer, customer_id)
        return customer.rfm_class if customer else None
    found = score_customers(
        session=session, now=now, period_days=baseline.period_days, customer_ids=[customer_id]
    )
    rfm_class = _store_score(session, baseline, found[0] if found else _never(customer_id))
    session.commit()
    return rfm_class


def rescore_from_orders(
    *,
    session: Session,
    customer_id: str,
    baseline: RfmBaseline,
    orders: Sequence[Purchase],
    now: datetime,
) -> str | None:
    """:func:`rescore_customer` for a caller that has read the customer's ``orders`` and the
    ``baseline`` already (:func:`score_orders`, no query): the new scores are left in
    ``session``'s transaction, for the caller to commit with its own writes."""
    scored = score_orders(customer_id, orders, now=now, period_days=baseline.period_days)
    return _store_score(session, baseline, scored or _never(customer_id))


def _never(customer_id: str) -> RfmScore:
    return RfmScore(customer_id, None, 0, 0.0, None)


def _store_score(session: Session, baseline: RfmBaseline, score: RfmScore) -> str | None:
    """Set ``score`` and its class against ``baseline`` on the customer (not committed)."""
    customer = session.get(Customer, score.customer_id)
    if customer is None:
        return None
    medians = Medians(r=baseline.median_r, f=baseline.median_f, m=baseline.median_m)
    customer.rfm_class = classify(score, medians)
    customer.r_days = score.r_days
    customer.f_count = score.f_count
    customer.m_amount = score.m_amount
    customer.l_days = score.l_days
    session.add(customer)
    return customer.rfm_class

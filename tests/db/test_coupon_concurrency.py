"""Two workers racing for the last coupon, or retrying the same visit at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from db import crud
from db.errors import CouponStockExhaustedError
from db.models import CouponTemplate, Customer, IssuedCoupon

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def _setup(sessions: sessionmaker[Session], stock: int) -> None:
    with sessions() as s:
        s.add(CouponTemplate(id="LAST", name="last", face_value=10, stock=stock))
        s.add_all(Customer(id=f"C{i}", name=f"c{i}") for i in range(8))
        s.commit()


def _issue(sessions: sessionmaker[Session], customer: str, key: str) -> str:
    with sessions() as s:
        try:
            coupon, _ = crud.issue_coupon(
                session=s,
                template_id="LAST",
                customer_id=customer,
                idempotency_key=key,
                issued_at=T0,
            )
        except CouponStockExhaustedError:
            return "exhausted"
        return coupon.id


def test_last_unit_goes_to_exactly_one_worker(sessions: sessionmaker[Session]) -> None:
    _setup(sessions, stock=3)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: _issue(sessions, f"C{i}", f"k{i}"), range(8)))
    assert results.count("exhausted") == 5
    with sessions() as s:
        template = s.get(CouponTemplate, "LAST")
        assert template is not None and template.issued_count == 3
        assert len(s.exec(select(IssuedCoupon)).all()) == 3


def test_concurrent_retries_of_one_visit_issue_one_coupon(
    sessions: sessionmaker[Session],
) -> None:
    _setup(sessions, stock=100)
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: _issue(sessions, "C1", "same-key"), range(6)))
    assert len(set(results)) == 1
    with sessions() as s:
        template = s.get(CouponTemplate, "LAST")
        assert template is not None and template.issued_count == 1

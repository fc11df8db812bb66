"""The points ledger: exactly-once per idempotency key (also when workers race), the
balance as of a moment (earns expire, spends do not, never below zero)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from db import crud
from db.crud.points import award_points, list_points, points_balance
from db.errors import NotFoundError
from db.models import Customer, PointsEntry

T0 = datetime(2025, 5, 1, tzinfo=UTC)


def _customer(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        s.add(Customer(id="C1", name="c1"))
        s.commit()


def test_balance_counts_earns_until_they_expire_and_every_spend(
    sessions: sessionmaker[Session],
) -> None:
    _customer(sessions)
    with sessions() as s:
        award_points(session=s, customer_id="C1", points=100, idempotency_key="a", created_at=T0)
        award_points(
            session=s,
            customer_id="C1",
            points=50,
            idempotency_key="b",
            created_at=T0,
            expires_at=T0 + timedelta(days=30),
        )
        award_points(
            session=s,
            customer_id="C1",
            points=-30,
            idempotency_key="c",
            created_at=T0 + timedelta(days=1),
            reason="redemption",
        )
        assert points_balance(session=s, customer_id="C1", as_of=T0 - timedelta(seconds=1)) == 0
        assert points_balance(session=s, customer_id="C1", as_of=T0) == 150
        assert points_balance(session=s, customer_id="C1", as_of=T0 + timedelta(days=2)) == 120
        assert points_balance(session=s, customer_id="C1", as_of=T0 + timedelta(days=30)) == 70
        assert points_balance(session=s, customer_id="nobody", as_of=T0) == 0
        assert [e.idempotency_key for e in list_points(session=s, customer_id="C1")] == [
            "c",
            "b",
            "a",
        ]


def test_balance_never_goes_below_zero(sessions: sessionmaker[Session]) -> None:
    _customer(sessions)
    with sessions() as s:
        award_points(
            session=s,
            customer_id="C1",
            points=10,
            idempotency_key="a",
            created_at=T0,
            expires_at=T0 + timedelta(days=1),
        )
        award_points(session=s, customer_id="C1", points=-10, idempotency_key="b", created_at=T0)
        assert points_balance(session=s, customer_id="C1", as_of=T0 + timedelta(days=5)) == 0


def test_a_repeated_key_returns_the_first_entry(sessions: sessionmaker[Session]) -> None:
    _customer(sessions)
    with sessions() as s:
        first, created = award_points(
            session=s, customer_id="C1", points=20, idempotency_key="k", created_at=T0
        )
        again, created_again = award_points(
            session=s, customer_id="C1", points=999, idempotency_key="k", created_at=T0
        )
        assert created and not created_again and again.id == first.id and again.delta == 20


def test_unknown_customer_and_zero_points_are_refused(sessions: sessionmaker[Session]) -> None:
    with sessions() as s:
        with pytest.raises(NotFoundError):
            award_points(session=s, customer_id="X", points=5, idempotency_key="k", created_at=T0)
        with pytest.raises(ValueError, match="must not be 0"):
            award_points(session=s, customer_id="X", points=0, idempotency_key="z", created_at=T0)
        assert crud.get_customer(session=s, customer_id="X") is None


def test_concurrent_retries_of_one_visit_award_once(sessions: sessionmaker[Session]) -> None:
    _customer(sessions)

    def award(_: int) -> int:
        with sessions() as s:
            entry, _created = award_points(
                session=s, customer_id="C1", points=10, idempotency_key="same", created_at=T0
            )
            assert entry.id is not None
            return entry.id

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = list(pool.map(award, range(6)))
    assert len(set(ids)) == 1
    with sessions() as s:
        assert len(s.exec(select(PointsEntry)).all()) == 1
        assert points_balance(session=s, customer_id="C1", as_of=T0) == 10

"""The contact ledger's check-and-record: atomic per customer, idempotent per decision key,
on SQLite and PostgreSQL (the ``sessions`` fixture runs each test on both)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from threading import Barrier

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from db.crud import contact_policy as crud
from db.models import Customer, Region, Store
from db.models.contact_policy import ContactLedgerEntry
from engine.contact_policy import ALLOW, CAPPED_OUTCOME, DEFER, PolicyDecision

T0 = datetime(2026, 5, 4, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ONE_A_WEEK = [{"id": "msg7", "channel": "message", "max_contacts": 1, "window_days": 7}]


def _setup(
    sessions: sessionmaker[Session], caps: list[dict], quiet: tuple[str, str] | None = None
) -> None:
    with sessions() as s:
        s.add(Region(id="R1", name="east"))
        s.flush()
        s.add(Store(id="S1", region_id="R1", name="s", city="c", timezone="Asia/Tokyo"))
        s.flush()
        s.add(Customer(id="C1", name="c1"))
        s.add(Customer(id="C2", name="c2", timezone="", store_id="S1"))
        s.commit()
    with sessions() as s:
        crud.save_policy(
            session=s,
            quiet_start=quiet[0] if quiet else None,
            quiet_end=quiet[1] if quiet else None,
            caps=caps,
            by="admin",
        )


def _check(
    sessions: sessionmaker[Session],
    key: str,
    *,
    customer: str = "C1",
    at: datetime = T0,
    channel: str = "sms",
    category: str = "marketing",
) -> PolicyDecision:
    with sessions() as s:
        return crud.check_contact(
            session=s,
            decision_key=key,
            customer_id=customer,
            channel=channel,
            category=category,
            at=at,
            default_zone="Asia/Shanghai",
        )


def test_two_journeys_at_the_same_instant_never_both_pass_a_cap_of_one(
    sessions: sessionmaker[Session],
) -> None:
    _setup(sessions, ONE_A_WEEK)
    start = Barrier(8)

    def send(i: int) -> str:
        start.wait()  # all eight checks at once, as eight journeys' activities
        return _check(sessions, f"journey-{i}/e/m/1@1").outcome

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(send, range(8)))
    assert outcomes.count(ALLOW) == 1
    assert outcomes.count(CAPPED_OUTCOME) == 7
    with sessions() as s:
        rows = s.exec(select(ContactLedgerEntry)).all()
        assert sorted(r.outcome for r in rows) == ["capped"] * 7 + ["sent"]


def test_a_retried_check_gets_the_same_decision(sessions: sessionmaker[Session]) -> None:
    _setup(sessions, ONE_A_WEEK)
    start = Barrier(6)

    def retry(_: int) -> PolicyDecision:
        start.wait()
        return _check(sessions, "wf/e/m/1@1")

    with ThreadPoolExecutor(max_workers=6) as pool:
        decisions = list(pool.map(retry, range(6)))
    assert {d.outcome for d in decisions} == {ALLOW}
    # another journey is capped, and its retry an hour later (the cap unchanged) too
    capped = _check(sessions, "other/e/m/1@1")
    assert capped.outcome == CAPPED_OUTCOME and capped.rule == "msg7"
    assert capped.until == (T0 + timedelta(days=7)).isoformat()
    assert _check(sessions, "other/e/m/1@1", at=T0 + timedelta(hours=1)) == capped
    with sessions() as s:
        assert len(s.exec(select(ContactLedgerEntry)).all()) == 2


def test_caps_count_their_channel_and_category_in_a_rolling_window(
    sessions: sessionmaker[Session],
) -> None:
    caps = [
        {
            "id": "mkt2",
            "channel": "message",
            "max_contacts": 2,
            "window_days": 7,
            "category": "marketing",
        },
        {"id": "coupon1", "channel": "coupon", "max_contacts": 1, "window_days": 3},
    ]
    _setup(sessions, caps)
    assert _check(sessions, "a@1").outcome == ALLOW
    assert _check(sessions, "b@1", channel="coupon").outcome == ALLOW  # another channel
    assert _check(sessions, "c@1", category="service").outcome == ALLOW  # not counted by mkt2
    assert _check(sessions, "d@1", at=T0 + timedelta(days=1)).outcome == ALLOW
    third = _check(sessions, "e@1", at=T0 + timedelta(days=2))
    assert (third.outcome, third.rule) == (CAPPED_OUTCOME, "mkt2")
    assert third.until == (T0 + timedelta(days=7)).isoformat()  # the first one leaves then
    assert _check(sessions, "f@1", at=T0 + timedelta(days=7, seconds=1)).outcome == ALLOW
    assert (
        _check(sessions, "g@1", channel="coupon", at=T0 + timedelta(days=2)).outcome
        == CAPPED_OUTCOME
    )
    assert (
        _check(sessions, "h@1", channel="coupon", at=T0 + timedelta(days=3, seconds=1)).outcome
        == ALLOW
    )


def test_quiet_hours_in_the_customers_zone_then_the_stores(sessions: sessionmaker[Session]) -> None:
    _setup(sessions, [], quiet=("21:00", "08:00"))
    late = datetime(2026, 5, 4, 14, 30, tzinfo=UTC)  # 22:30 Shanghai, 23:30 Tokyo
    d = _check(sessions, "q@1", at=late)
    assert (d.outcome, d.rule) == (DEFER, "quiet_hours")
    assert d.until == datetime(2026, 5, 5, 0, 0, tzinfo=UTC).isoformat()  # 08:00 Shanghai
    tokyo = _check(sessions, "q2@1", customer="C2", at=late)  # no zone of their own
    assert tokyo.until == datetime(2026, 5, 4, 23, 0, tzinfo=UTC).isoformat()  # 08:00 Tokyo
    assert _check(sessions, "q3@1", at=late, category="service").outcome == ALLOW
    with sessions() as s:  # a deferral is not a contact
        assert [r.decision_key for r in s.exec(select(ContactLedgerEntry)).all()] == ["q3@1"]

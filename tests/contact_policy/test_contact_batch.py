"""Contact checks decided in shared write transactions (activities.contact_batch), on SQLite
and PostgreSQL: checks of one customer arriving together still pass a cap of 1 once, checks
of several customers in one batch count only their own contacts, a repeated key gets the
same decision, a deferral is not recorded."""

from __future__ import annotations

import asyncio

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from activities.contact_batch import ContactChecks
from db.crud import contact_policy as crud
from db.models.contact_policy import ContactLedgerEntry
from db.session import write_session_factory
from engine.contact_policy import ALLOW, CAPPED_OUTCOME, DEFER
from tests.contact_policy.test_ledger import ONE_A_WEEK, T0, _setup


def _checks(sessions: sessionmaker[Session]) -> ContactChecks:
    return ContactChecks(
        reads=sessions,
        writes=write_session_factory(sessions.kw["bind"]),
        default_zone="Asia/Shanghai",
    )


def _check(key: str, customer: str = "C1") -> crud.ContactCheck:
    return crud.ContactCheck(key, customer, "sms", "marketing", T0)


async def test_checks_arriving_together_pass_a_cap_of_one_once(
    sessions: sessionmaker[Session],
) -> None:
    _setup(sessions, ONE_A_WEEK)
    checks = _checks(sessions)
    keys = [f"j{i}/e/m/1@1" for i in range(8)] + [f"k{i}/e/m/1@1" for i in range(8)]
    customers = ["C1"] * 8 + ["C2"] * 8
    answers = await asyncio.gather(
        *(checks.decide(_check(k, c)) for k, c in zip(keys, customers, strict=True))
    )
    for who in ("C1", "C2"):
        mine = [a.outcome for a, c in zip(answers, customers, strict=True) if c == who]
        assert mine.count(ALLOW) == 1 and mine.count(CAPPED_OUTCOME) == 7
    again = await asyncio.gather(
        *(checks.decide(_check(k, c)) for k, c in zip(keys, customers, strict=True))
    )
    assert [a.outcome for a in again] == [a.outcome for a in answers]  # same key, same answer
    with sessions() as s:
        assert len(s.exec(select(ContactLedgerEntry)).all()) == 16


async def test_a_deferral_in_a_batch_is_not_recorded(sessions: sessionmaker[Session]) -> None:
    _setup(sessions, ONE_A_WEEK, quiet=("11:00", "13:00"))  # T0 is 12:00 in Shanghai
    checks = _checks(sessions)
    answers = await asyncio.gather(*(checks.decide(_check(f"q{i}")) for i in range(3)))
    assert {a.outcome for a in answers} == {DEFER}
    with sessions() as s:
        assert s.exec(select(ContactLedgerEntry)).all() == []


def test_a_batch_decides_as_the_checks_one_by_one(sessions: sessionmaker[Session]) -> None:
    """Random checks (three customers, channels, categories, times, a repeated key) decided
    as one batch give the answers and ledger of the same checks decided one at a time."""
    import random
    from datetime import timedelta

    from sqlalchemy import delete

    caps = [
        {"id": "msg", "channel": "message", "max_contacts": 2, "window_days": 7},
        {"id": "sms", "channel": "sms", "max_contacts": 1, "window_days": 3},
        {
            "id": "cp",
            "channel": "coupon",
            "max_contacts": 1,
            "window_days": 2,
            "category": "marketing",
        },
    ]
    _setup(sessions, caps, quiet=("22:00", "08:00"))
    with sessions() as s:
        from db.models import Customer

        s.add(Customer(id="C3", name="c3", timezone="Europe/Berlin"))
        s.commit()
    rng = random.Random(7)
    checks = []
    for n in range(60):
        key = f"k{n}" if n % 13 else "k1"  # a key seen before: its first decision again
        checks.append(
            crud.ContactCheck(
                key,
                rng.choice(("C1", "C2", "C3")),
                rng.choice(("sms", "wecom", "email", "coupon", "guide_task")),
                rng.choice(("marketing", "service")),
                T0 + timedelta(hours=rng.randint(0, 24 * 9)),
            )
        )
    checks.sort(key=lambda c: c.at)
    write = write_session_factory(sessions.kw["bind"])

    def ledger() -> list[tuple[str, str, str]]:
        with sessions() as s:
            return sorted(
                (r.decision_key, r.outcome, r.rule) for r in s.exec(select(ContactLedgerEntry))
            )

    with sessions() as reads, write() as session:
        together = crud.check_contacts(
            session=session, reads=reads, checks=checks, default_zone="Asia/Shanghai"
        )
    batched = ledger()
    with write() as session:
        session.execute(delete(ContactLedgerEntry))
        session.commit()
    alone = []
    for c in checks:
        with sessions() as reads, write() as session:
            (answer,) = crud.check_contacts(
                session=session, reads=reads, checks=[c], default_zone="Asia/Shanghai"
            )
            alone.append(answer)
    assert together == alone
    assert batched == ledger()
    assert {a.outcome for a in together} >= {ALLOW, CAPPED_OUTCOME, DEFER}


async def test_an_allow_no_cap_counts_does_not_wait_for_the_write_lock(
    sessions: sessionmaker[Session],
) -> None:
    """A coupon under a messages-only cap: nothing another journey does can change its
    answer, so it is handed out while another writer holds the lock; its record follows."""
    import sqlite3
    from typing import Any

    from sqlalchemy import text

    _setup(sessions, ONE_A_WEEK)  # one message per week: coupons are not counted
    checks = _checks(sessions)
    engine = sessions.kw["bind"]
    if engine.dialect.name == "sqlite":  # another process's writer, on the same file
        holder: Any = sqlite3.connect(engine.url.database, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
    else:  # another worker deciding for the same customer
        holder = engine.connect()
        holder.execute(text("SELECT pg_advisory_xact_lock(hashtext('C1'))"))
    try:
        coupon = crud.ContactCheck("c1/e/cp/1@1", "C1", "coupon", "marketing", T0)
        answer = await asyncio.wait_for(checks.decide(coupon), 5)
        assert answer.outcome == ALLOW
        with sessions() as s:  # not recorded yet: the writer still holds the lock
            assert s.exec(select(ContactLedgerEntry)).all() == []
    finally:
        holder.rollback()
        holder.close()
    for _ in range(200):  # the batch's write goes through once the lock is free
        with sessions() as s:
            rows = s.exec(select(ContactLedgerEntry)).all()
        if rows:
            break
        await asyncio.sleep(0.02)
    assert [(r.decision_key, r.outcome) for r in rows] == [("c1/e/cp/1@1", "sent")]

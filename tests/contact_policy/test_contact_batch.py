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

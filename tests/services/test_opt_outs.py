"""Per-channel opt-outs (issue 16): stored with source and time, idempotent, kept in step
with the customer's ``opted_out_channels`` (what journeys read), and found by phone in any
spelling. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import Session

from db import crud
from db.errors import NotFoundError
from db.models import CustomerCreate
from services import opt_outs
from services.opt_outs import OptOutInputError

T0 = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)


@pytest.fixture
def customer_id(session: Session) -> str:
    crud.create_customer(
        session=session,
        customer_create=CustomerCreate(id="C1", name="王芳", phone="13800138000"),
    )
    crud.create_customer(
        session=session,
        customer_create=CustomerCreate(
            id="C2", name="李雷", phone="+8613900139000", opted_out_channels=["email"]
        ),
    )
    return "C1"


def test_opt_out_is_stored_once_and_read_by_journeys(session: Session, customer_id: str) -> None:
    assert not opt_outs.is_opted_out(session, customer_id=customer_id, channel="sms")
    assert opt_outs.opt_out(
        session, customer_id=customer_id, channel="sms", source="sms_reply", at=T0
    )
    # a duplicate reply: nothing new, the first source and time stay
    later = T0.replace(hour=11)
    assert not opt_outs.opt_out(
        session, customer_id=customer_id, channel="sms", source="hq", at=later
    )
    assert opt_outs.is_opted_out(session, customer_id=customer_id, channel="sms")
    assert not opt_outs.is_opted_out(session, customer_id=customer_id, channel="wecom")
    customer = crud.get_customer(session=session, customer_id=customer_id)
    assert customer is not None
    session.refresh(customer)
    assert customer.opted_out_channels == ["sms"]
    (view,) = opt_outs.list_opt_outs(session, customer=customer)
    assert (view.channel, view.source) == ("sms", "sms_reply")
    assert view.at is not None and view.at.astimezone(UTC) == T0


def test_opt_in_takes_the_customer_back(session: Session, customer_id: str) -> None:
    opt_outs.opt_out(session, customer_id=customer_id, channel="wecom", source="hq", at=T0)
    assert opt_outs.opt_in(session, customer_id=customer_id, channel="wecom")
    assert not opt_outs.opt_in(session, customer_id=customer_id, channel="wecom")
    assert not opt_outs.is_opted_out(session, customer_id=customer_id, channel="wecom")
    customer = crud.get_customer(session=session, customer_id=customer_id)
    assert customer is not None
    session.refresh(customer)
    assert customer.opted_out_channels == []
    # and out again: a fresh row with the new source
    assert opt_outs.opt_out(
        session, customer_id=customer_id, channel="wecom", source="provider_callback", at=T0
    )


def test_a_profile_opt_out_before_the_table_counts_and_is_shown(
    session: Session, customer_id: str
) -> None:
    assert opt_outs.is_opted_out(session, customer_id="C2", channel="email")
    # already out by the profile: recorded now, but not "newly" opted out
    customer = crud.get_customer(session=session, customer_id="C2")
    assert customer is not None
    (view,) = opt_outs.list_opt_outs(session, customer=customer)
    assert (view.channel, view.source, view.at) == ("email", "import", None)
    assert not opt_outs.opt_out(session, customer_id="C2", channel="email", source="hq", at=T0)
    assert opt_outs.opt_in(session, customer_id="C2", channel="email")
    assert not opt_outs.is_opted_out(session, customer_id="C2", channel="email")


def test_bad_input_names_the_field(session: Session, customer_id: str) -> None:
    with pytest.raises(OptOutInputError) as bad:
        opt_outs.opt_out(session, customer_id=customer_id, channel="fax", source="hq", at=T0)
    assert bad.value.field == "channel"
    with pytest.raises(OptOutInputError) as bad:
        opt_outs.opt_out(session, customer_id=customer_id, channel="sms", source=" ", at=T0)
    assert bad.value.field == "source"
    with pytest.raises(NotFoundError):
        opt_outs.opt_out(session, customer_id="NOPE", channel="sms", source="hq", at=T0)
    with pytest.raises(NotFoundError):
        opt_outs.opt_in(session, customer_id="NOPE", channel="sms")


@pytest.mark.parametrize(
    ("phone", "found"),
    [
        ("13800138000", "C1"),
        ("+8613800138000", "C1"),
        ("8613800138000", "C1"),
        ("008613800138000", "C1"),
        ("+86 138-0013-8000", "C1"),
        ("13900139000", "C2"),  # stored as E.164
        ("+8613900139000", "C2"),
        ("13700137000", None),
        ("", None),
        ("abc", None),
    ],
)
def test_find_customer_by_phone_in_any_spelling(
    session: Session, customer_id: str, phone: str, found: str | None
) -> None:
    customer = opt_outs.find_customer_by_phone(session, phone=phone)
    assert (customer.id if customer else None) == found

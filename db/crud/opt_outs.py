"""Per-channel opt-outs: the rows of ``customer_channel_opt_out`` and the customer's
``opted_out_channels`` list, kept in step (journeys read the list; the rows say who, how and
when). Nothing here commits: the caller's unit of work does (``services.opt_outs``)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.errors import NotFoundError
from db.models import Customer, CustomerChannelOptOut

#: Mainland China's country code and the prefixes a number may carry it with.
_CN = "86"
_CN_PREFIXES = ("+86", "0086")
_NON_DIGITS = re.compile(r"[^\d+]")


def list_opt_outs(*, session: Session, customer_id: str) -> list[CustomerChannelOptOut]:
    """The customer's opt-out rows, oldest first."""
    stmt = (
        select(CustomerChannelOptOut)
        .where(CustomerChannelOptOut.customer_id == customer_id)
        .order_by(col(CustomerChannelOptOut.at), col(CustomerChannelOptOut.channel))
    )
    return list(session.exec(stmt))


def get_opt_out(
    *, session: Session, customer_id: str, channel: str
) -> CustomerChannelOptOut | None:
    """The row saying ``customer_id`` left ``channel``, or ``None``."""
    stmt = select(CustomerChannelOptOut).where(
        CustomerChannelOptOut.customer_id == customer_id,
        CustomerChannelOptOut.channel == channel,
    )
    return session.exec(stmt).first()


def is_opted_out(*, session: Session, customer_id: str, channel: str) -> bool:
    """Whether ``customer_id`` left ``channel`` (a row, or an entry of the customer's list
    that predates the table: imported profiles, the demo seed)."""
    if get_opt_out(session=session, customer_id=customer_id, channel=channel) is not None:
        return True
    customer = session.get(Customer, customer_id)
    return customer is not None and channel in (customer.opted_out_channels or [])


def add_opt_out(
    *, session: Session, customer_id: str, channel: str, source: str, at: datetime
) -> bool:
    """Record that ``customer_id`` left ``channel``; True when they had not already.

    Repeating it changes nothing (the first source and time stay). A concurrent insert of
    the same pair loses on the unique constraint inside a savepoint and counts as "already".
    Raises :class:`NotFoundError` for an unknown customer.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("customer", customer_id)
    listed = channel in (customer.opted_out_channels or [])
    if get_opt_out(session=session, customer_id=customer_id, channel=channel) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                CustomerChannelOptOut(
                    customer_id=customer_id, channel=channel, source=source, at=at
                )
            )
    except IntegrityError:
        return False
    if not listed:
        # a new list, not an in-place append: plain JSON columns only notice reassignment
        customer.opted_out_channels = [*(customer.opted_out_channels or []), channel]
        session.add(customer)
    session.flush()
    return not listed


def remove_opt_out(*, session: Session, customer_id: str, channel: str) -> bool:
    """Take ``customer_id`` back into ``channel`` (row and list); True when they had left it."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError("customer", customer_id)
    row = get_opt_out(session=session, customer_id=customer_id, channel=channel)
    listed = channel in (customer.opted_out_channels or [])
    if row is not None:
        session.delete(row)
    if listed:
        customer.opted_out_channels = [c for c in customer.opted_out_channels if c != channel]
        session.add(customer)
    session.flush()
    return row is not None or listed


def phone_forms(phone: str) -> list[str]:
    """The spellings a stored phone number may have for ``phone``: the number as given,
    digits only, and for a mainland number (11 digits, or with +86 / 0086 / 86) its national
    form with and without the country code."""
    raw = phone.strip()
    compact = _NON_DIGITS.sub("", raw)
    digits = compact.lstrip("+")
    national = digits
    for prefix in _CN_PREFIXES:
        if compact.startswith(prefix):
            national = compact[len(prefix) :]
            break
    else:
        if len(digits) == 13 and digits.startswith(_CN):
            national = digits[2:]
    forms = [raw, compact, digits]
    if len(national) == 11 and national.startswith("1"):
        grouped = f"{national[:3]} {national[3:7]} {national[7:]}"
        forms += [
            national,
            f"+{_CN}{national}",
            f"{_CN}{national}",
            f"00{_CN}{national}",
            f"+{_CN} {national}",
            grouped,
            grouped.replace(" ", "-"),
        ]
    elif compact.startswith("+"):
        forms.append(f"00{digits}")
    return [f for f in dict.fromkeys(forms) if f]


def find_customer_by_phone(*, session: Session, phone: str) -> Customer | None:
    """The customer whose stored phone is ``phone`` in any of its spellings (E.164
    ``+8613800138000``, ``8613800138000``, ``13800138000``, ``138 0013 8000``); the
    lowest id when several share it; ``None`` when nobody has it. One indexed lookup of the
    spellings (``phone_forms``), no scan: inbound replies come from any number."""
    forms = phone_forms(phone)
    if not forms:
        return None
    stmt = (
        select(Customer).where(col(Customer.phone).in_(forms)).order_by(col(Customer.id)).limit(1)
    )
    return session.exec(stmt).first()

"""Per-channel opt-outs (issue 16 item 3): a customer leaves one channel (an SMS reply of
T / TD / 退订, a provider's unsubscribe callback, HQ on the customer card) and every journey
honours it from the next message on (``activities.messaging`` asks before sending).

Each call is one unit of work and commits. Bad input raises :class:`OptOutInputError`
naming the field (a 422 at the API); an unknown customer raises
:class:`db.errors.NotFoundError` (a 404).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from db.crud import opt_outs as crud
from db.models import Customer
from db.session import begin_write
from engine.contact_policy import MESSAGE_CHANNELS

MAX_SOURCE = 64


class OptOutInputError(ValueError):
    """A channel or source that cannot be stored; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _check(channel: str, source: str | None = None) -> None:
    if channel not in MESSAGE_CHANNELS:
        raise OptOutInputError(
            "channel", f"unknown channel {channel!r}; one of {', '.join(MESSAGE_CHANNELS)}"
        )
    if source is not None and not (0 < len(source.strip()) <= MAX_SOURCE):
        raise OptOutInputError("source", f"give where the opt-out came from (1-{MAX_SOURCE} chars)")


def opt_out(session: Session, *, customer_id: str, channel: str, source: str, at: datetime) -> bool:
    """Opt ``customer_id`` out of ``channel``; True when newly opted out. Idempotent: a
    repeat (a duplicate reply or callback) keeps the first source and time, answers False."""
    _check(channel, source)
    begin_write(session)
    created = crud.add_opt_out(
        session=session, customer_id=customer_id, channel=channel, source=source.strip(), at=at
    )
    session.commit()
    return created


def opt_in(session: Session, *, customer_id: str, channel: str) -> bool:
    """Take ``customer_id`` back into ``channel`` (HQ's action on the customer card); True
    when they had opted out of it."""
    _check(channel)
    begin_write(session)
    removed = crud.remove_opt_out(session=session, customer_id=customer_id, channel=channel)
    session.commit()
    return removed


def is_opted_out(session: Session, *, customer_id: str, channel: str) -> bool:
    """Whether ``customer_id`` has left ``channel``."""
    return crud.is_opted_out(session=session, customer_id=customer_id, channel=channel)


@dataclass(frozen=True)
class OptOutView:
    """One channel a customer left, as the customer card shows it."""

    channel: str
    source: str
    at: datetime | None  # None: from the profile's list, before opt-outs were recorded


def list_opt_outs(session: Session, *, customer: Customer) -> list[OptOutView]:
    """The customer's opt-outs, one per channel: the stored rows, plus an entry (source
    ``import``, no time) for each channel of the profile's list that predates the table."""
    rows = crud.list_opt_outs(session=session, customer_id=customer.id)
    known = {r.channel for r in rows}
    return [OptOutView(r.channel, r.source, r.at) for r in rows] + [
        OptOutView(c, "import", None) for c in customer.opted_out_channels or [] if c not in known
    ]


def find_customer_by_phone(session: Session, *, phone: str) -> Customer | None:
    """The customer with ``phone`` in any of its spellings (+86 / E.164 / national)."""
    return crud.find_customer_by_phone(session=session, phone=phone)

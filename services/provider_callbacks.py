"""What SMS providers tell us back: delivery receipts and customers' replies.

* A receipt moves its message to ``delivered`` or ``failed`` (``crud.record_receipt``:
  repeats and late, out-of-order receipts change nothing they should not). A receipt for a
  message this install never sent is reported back (the route answers 404) and logged once
  per process, however often the provider repeats it.
* A reply of ``T``, ``TD`` or ``退订`` (any case, any spaces) opts the customer with that
  number out of SMS (``services.opt_outs``), honoured by every journey from then on.
"""

from __future__ import annotations

import hmac
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from activities.channels import mask
from db import crud
from services import opt_outs

log = logging.getLogger(__name__)

#: Replies that mean "no more SMS" (compared without spaces, case-folded).
UNSUBSCRIBE_WORDS = frozenset({"t", "td", "退订"})
#: Unknown provider ids already logged by this process (kept small: the provider repeats a
#: receipt a few times within an hour).
_LOGGED_UNKNOWN: dict[str, None] = {}
_LOGGED_MAX = 10_000
_SPACES = re.compile(r"\s+")
#: Aliyun's and Tencent's callback times are Beijing time.
BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Receipt:
    """One delivery receipt, in the provider's words."""

    provider_message_id: str
    delivered: bool
    at: datetime
    detail: str = ""
    #: The outbox message id, when the provider echoes it (Aliyun ``out_id``).
    message_id: str | None = None


@dataclass
class ReceiptsOutcome:
    applied: int = 0
    unknown: list[str] = field(default_factory=list)


def apply_receipts(session: Session, *, provider: str, receipts: list[Receipt]) -> ReceiptsOutcome:
    """Apply every receipt (one transaction each, so one unknown id does not undo the
    others); → how many applied and which ids are unknown."""
    outcome = ReceiptsOutcome()
    for receipt in receipts:
        row = crud.record_receipt(
            session=session,
            provider=provider,
            provider_message_id=receipt.provider_message_id,
            status="delivered" if receipt.delivered else "failed",
            at=receipt.at,
            detail=receipt.detail,
            message_id=receipt.message_id,
        )
        if row is None:
            outcome.unknown.append(receipt.provider_message_id)
            _log_unknown_once(provider, receipt.provider_message_id)
        else:
            outcome.applied += 1
    return outcome


def _log_unknown_once(provider: str, provider_message_id: str) -> None:
    key = f"{provider}:{provider_message_id}"
    if key in _LOGGED_UNKNOWN:
        return
    if len(_LOGGED_UNKNOWN) >= _LOGGED_MAX:
        _LOGGED_UNKNOWN.pop(next(iter(_LOGGED_UNKNOWN)))
    _LOGGED_UNKNOWN[key] = None
    log.warning("%s receipt for a message this install did not send: %s", provider, key)


def is_unsubscribe(text: str) -> bool:
    """Whether an SMS reply says "no more messages" (T / TD / 退订)."""
    # NFKC: full-width letters (ＴＤ, from a Chinese keyboard) read as T and D
    folded = unicodedata.normalize("NFKC", text or "")
    return _SPACES.sub("", folded).casefold() in UNSUBSCRIBE_WORDS


@dataclass(frozen=True)
class ReplyOutcome:
    opted_out: bool
    customer_id: str | None


def apply_reply(
    session: Session, *, provider: str, phone: str, text: str, at: datetime
) -> ReplyOutcome:
    """An SMS reply: T / TD / 退订 opts the number's customer out of SMS; anything else,
    or a number no customer has, changes nothing."""
    if not is_unsubscribe(text):
        return ReplyOutcome(False, None)
    customer = opt_outs.find_customer_by_phone(session, phone=phone)
    if customer is None:
        log.info("%s unsubscribe reply from %s: no customer has this number", provider, mask(phone))
        return ReplyOutcome(False, None)
    opt_outs.opt_out(session, customer_id=customer.id, channel="sms", source="sms_reply", at=at)
    return ReplyOutcome(True, customer.id)


# ---------------------------------------------------------------- the providers' formats


class CallbackTokenError(Exception):
    """The callback's shared token is missing or wrong (or none is configured)."""


def check_token(expected: str, given: str | None, variable: str) -> None:
    """Raise :class:`CallbackTokenError` unless ``given`` is the configured token (compared
    in constant time). With no token configured every callback is refused: an unguarded
    URL would let anyone mark messages delivered or opt customers out."""
    if not expected:
        raise CallbackTokenError(f"no callback token configured ({variable})")
    if not given or not hmac.compare_digest(expected.encode(), given.encode()):
        raise CallbackTokenError("bad callback token")


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AliyunReport(_In):
    """One SmsReport of Aliyun's HTTP batch push."""

    biz_id: str = Field(min_length=1)
    success: bool
    report_time: str = ""
    send_time: str = ""
    err_code: str = ""
    err_msg: str = ""
    out_id: str = ""

    def receipt(self) -> Receipt:
        return Receipt(
            provider_message_id=self.biz_id,
            delivered=self.success,
            at=_beijing(self.report_time or self.send_time),
            detail=f"{self.err_code} {self.err_msg}".strip(),
            message_id=self.out_id or None,
        )


class AliyunUp(_In):
    """One SmsUp (a customer's reply) of Aliyun's HTTP batch push."""

    phone_number: str = Field(min_length=1)
    content: str = ""
    send_time: str = ""

    @property
    def at(self) -> datetime:
        return _beijing(self.send_time)


class TencentReport(_In):
    """One receipt of Tencent's status callback."""

    sid: str = Field(min_length=1)
    report_status: str
    user_receive_time: str = ""
    errmsg: str = ""
    description: str = ""

    def receipt(self) -> Receipt:
        return Receipt(
            provider_message_id=self.sid,
            delivered=self.report_status.upper() == "SUCCESS",
            at=_beijing(self.user_receive_time),
            detail=f"{self.errmsg} {self.description}".strip(),
        )


class TencentReply(_In):
    """A customer's reply, as Tencent's reply callback sends it."""

    mobile: str = Field(min_length=1)
    nationcode: str = "86"
    text: str = ""
    time: int | None = None

    @property
    def phone(self) -> str:
        return f"+{self.nationcode}{self.mobile}" if self.nationcode else self.mobile

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.time, UTC) if self.time else datetime.now(UTC)


def _beijing(value: str) -> datetime:
    """A provider's ``2017-01-01 00:00:00`` (Beijing time) as aware UTC; now if absent or
    unreadable (the receipt still counts)."""
    try:
        local = datetime.strptime(value.strip(), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return datetime.now(UTC)
    return local.replace(tzinfo=BEIJING).astimezone(UTC)

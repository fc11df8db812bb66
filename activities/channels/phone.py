"""Phone numbers as SMS providers take them: E.164 (``+<country><number>``)."""

from __future__ import annotations

import re

from activities.providers import MessageRejectedError

_SEPARATORS = re.compile(r"[\s\-().]")
_E164 = re.compile(r"\+[1-9]\d{6,14}")
#: A mainland China mobile number: 11 digits, 1 then 3-9.
_CN_MOBILE = re.compile(r"1[3-9]\d{9}")


def to_e164(phone: str) -> str:
    """``phone`` in E.164; a mainland mobile number without its country code (also
    ``86…`` / ``0086…``) becomes ``+86…``. Anything else is refused for good
    (:class:`MessageRejectedError`: the node's ``on_failure`` applies) with the number
    masked in the reason, since reasons end up in run traces."""
    raw = _SEPARATORS.sub("", phone or "")
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if _CN_MOBILE.fullmatch(raw):
        return "+86" + raw
    if raw.startswith("86") and _CN_MOBILE.fullmatch(raw[2:]):
        return "+" + raw
    if _E164.fullmatch(raw):
        return raw
    if not raw:
        raise MessageRejectedError("the customer has no phone number")
    raise MessageRejectedError(
        f"phone {mask(phone)!r} is not E.164 (+<country code><number>) nor a mainland "
        "mobile number; correct it on the customer"
    )


def mask(phone: str) -> str:
    """``phone`` with its middle hidden (``138****1234``), for logs and reasons."""
    p = (phone or "").strip()
    if len(p) <= 8:  # too short to show a head and a tail: the last two only
        return "*" * max(0, len(p) - 2) + p[-2:]
    return p[:3] + "*" * (len(p) - 7) + p[-4:]

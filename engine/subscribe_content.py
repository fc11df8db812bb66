"""What a WeChat subscribe message (公众号订阅通知, the ``wechat_subscribe`` channel) says.

A subscribe message fills the fields of one of the official account's subscribe templates,
which the customer agreed to receive (one message per agreement for a one-time
subscription). The ``send_message`` content of such a step is either

* a JSON object ``{"template_id": …, "data": {"thing1": "…", "time2": {"value": "…"}},
  "page": "https://…", "miniprogram": {"appid": …, "pagepath": …}}`` (``template_id``,
  ``page`` and ``miniprogram`` optional: the install's default template, no jump), or
* plain text, which goes into the default template's body field.

The compiler checks what it can see before any placeholder is filled (:func:`problems`):
the JSON parses, ``data`` is a non-empty object of template keys (``thing1``, ``time2`` …)
and a value written without placeholders fits its key's type (WeChat refuses the message
with errcode 47003 otherwise). The provider parses the rendered text with :func:`parse`.

Stdlib only: the compiler (and through it the workflow sandbox) imports this.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

#: A template key: its type and the field's number (``thing1``, ``character_string3``).
KEY = re.compile(r"^([a-z_]+?)(\d+)$")
#: The longest value each key type takes (WeChat's subscribe-message data limits).
MAX_LENGTH: dict[str, int] = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phone_number": 17,
    "car_number": 8,
    "name": 10,
    "phrase": 5,
    "amount": 32,
    "time": 32,
    "date": 32,
    "const": 20,
}


class SubscribeContentError(ValueError):
    """Content a subscribe message cannot be made of; ``problem`` says what (``json``,
    ``data``, ``key``, ``too_long``, ``miniprogram``), ``key`` / ``limit`` the specifics."""

    def __init__(self, problem: str, message: str, *, key: str = "", limit: int = 0) -> None:
        super().__init__(message)
        self.problem = problem
        self.key = key
        self.limit = limit


@dataclass(frozen=True)
class SubscribeContent:
    """A parsed content: ``data`` maps template keys to values; ``None`` fields were not
    written (the install's defaults apply). ``plain``: the content was plain text."""

    data: dict[str, str] = field(default_factory=dict)
    template_id: str | None = None
    page: str | None = None
    miniprogram: dict[str, str] | None = None
    plain: str | None = None


def _value(raw: Any) -> str:
    if isinstance(raw, dict):
        raw = raw.get("value", "")
    return "" if raw is None else str(raw)


def parse(text: str) -> SubscribeContent:
    """``text`` (rendered or not) as a subscribe message; :class:`SubscribeContentError`."""
    body = text.strip()
    # "{{ customer.name }}，…" is a placeholder, not a JSON object
    if not body.startswith("{") or body.startswith(("{{", "{%", "{#")):
        return SubscribeContent(plain=body)
    try:
        written = json.loads(body)
    except json.JSONDecodeError as exc:
        raise SubscribeContentError(
            "json", f"the content starts with '{{' but is not valid JSON ({exc.msg})"
        ) from exc
    except RecursionError as exc:  # "{[[[[…": the decoder gives up, never a 500
        raise SubscribeContentError("json", "the content's JSON is nested too deeply") from exc
    if not isinstance(written, dict):
        raise SubscribeContentError("json", "the content is not a JSON object")
    data = written.get("data")
    if not isinstance(data, dict) or not data:
        raise SubscribeContentError(
            "data", 'the JSON needs "data": an object of template fields, e.g. {"thing1": "…"}'
        )
    values: dict[str, str] = {}
    for key, raw in data.items():
        match = KEY.match(str(key))
        if match is None:
            raise SubscribeContentError(
                "key",
                f'"{key}" is not a subscribe-template field (they look like thing1, time2)',
                key=str(key),
            )
        values[str(key)] = _value(raw)
    miniprogram = written.get("miniprogram")
    if miniprogram is not None and (
        not isinstance(miniprogram, dict) or not str(miniprogram.get("appid") or "")
    ):
        raise SubscribeContentError(
            "miniprogram", '"miniprogram" must be an object with the mini-program\'s "appid"'
        )
    return SubscribeContent(
        data=values,
        template_id=str(written["template_id"]) if written.get("template_id") else None,
        page=str(written["page"]) if written.get("page") else None,
        miniprogram=(
            {k: str(v) for k, v in miniprogram.items() if k in ("appid", "pagepath")}
            if isinstance(miniprogram, dict)
            else None
        ),
    )


def too_long(key: str, value: str) -> int | None:
    """The limit ``value`` exceeds for ``key``'s type, else ``None`` (unknown types: none)."""
    match = KEY.match(key)
    limit = MAX_LENGTH.get(match.group(1)) if match else None
    return limit if limit is not None and len(value) > limit else None


#: Plain text fills the default template's body field, a ``thing`` field by default.
PLAIN_LIMIT = MAX_LENGTH["thing"]


def plain_too_long(text: str) -> bool:
    """Plain-text content (no placeholder) longer than a ``thing`` field takes: worth a
    warning, since the default body field is usually one (the install may choose another)."""
    content = parse(text)
    plain = content.plain or ""
    return "{{" not in plain and "{%" not in plain and len(plain) > PLAIN_LIMIT


def check(text: str) -> None:
    """The compiler's check of a step's content (placeholders not filled yet): raises
    :class:`SubscribeContentError` for the first problem. A value with a placeholder is
    checked when it is sent (WeChat answers 47003 for one too long)."""
    content = parse(text)
    for key, value in content.data.items():
        if "{{" in value or "{%" in value:
            continue
        limit = too_long(key, value)
        if limit is not None:
            raise SubscribeContentError(
                "too_long",
                f'"{key}" takes at most {limit} characters; "{value}" has {len(value)}',
                key=key,
                limit=limit,
            )

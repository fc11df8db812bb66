"""Render message and task templates written by HQ marketers, safely.

Templates are Jinja2 over ``{"customer": {...}, "ctx": {...}}`` in an immutable sandbox:
no attribute starting with ``_``, no mutating methods, and (stricter than Jinja's default)
an unsafe access fails the render instead of quietly printing nothing, so a probing
``{{ ''.__class__ }}`` is reported rather than half-rendered. Unknown *safe* names render
empty (StrictUndefined is off): a customer without a nickname should still get the SMS.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NoReturn

from jinja2 import TemplateError, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from db.models import Customer, Guide, Store
from db.models.customers import MEMBER_LEVEL_NAMES

#: Longest rendered text accepted (an SMS template gone wrong should not send a novel).
MAX_RENDERED_CHARS = 10_000


class TemplateRenderError(Exception):
    """``template`` could not be rendered: ``reason`` says why."""

    def __init__(self, reason: str, template: str) -> None:
        super().__init__(f"template could not be rendered: {reason}")
        self.reason = reason
        self.template = template


class _StrictSandbox(ImmutableSandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


@lru_cache(maxsize=1)
def _environment() -> _StrictSandbox:
    # Plain text (SMS, WeCom, task notes): nothing to HTML-escape.
    return _StrictSandbox(autoescape=False, undefined=Undefined, keep_trailing_newline=False)


def parse_template(text: str) -> str | None:
    """``None`` if ``text`` parses as a template, else the syntax error as a message."""
    try:
        _environment().parse(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"line {line}: {exc.message}" if line else str(exc.message)
    return None


def render(text: str, variables: dict[str, Any]) -> str:
    """Render ``text`` with ``variables``; raises :class:`TemplateRenderError`."""
    try:
        rendered = _environment().from_string(text).render(variables)
    except SecurityError as exc:
        raise TemplateRenderError(f"blocked by the sandbox: {exc}", text) from exc
    except TemplateError as exc:
        raise TemplateRenderError(str(exc), text) from exc
    except Exception as exc:  # a filter on the wrong type, a division by zero, ...
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}", text) from exc
    if len(rendered) > MAX_RENDERED_CHARS:
        raise TemplateRenderError(
            f"rendered text is {len(rendered)} characters (limit {MAX_RENDERED_CHARS})", text
        )
    return rendered


def customer_variables(
    customer: Customer, store: Store | None = None, guide: Guide | None = None
) -> dict[str, Any]:
    """The ``customer`` object templates see. The full phone number is left out on purpose:
    no message needs it, and rendered text is stored and shown in the UI."""
    return {
        "id": customer.id,
        "name": customer.name,
        "surname": customer.name[:1],
        "gender": customer.gender,
        "member_level": customer.member_level,
        "member_level_name": MEMBER_LEVEL_NAMES.get(customer.member_level, customer.member_level),
        "phone_tail": customer.phone[-4:],
        "birthday": customer.birthday.isoformat() if customer.birthday else "",
        "store_id": customer.store_id or "",
        "store_name": store.name if store else "",
        "city": store.city if store else "",
        "guide_id": customer.guide_id or "",
        "guide_name": guide.name if guide else "",
        "tags": list(customer.tags),
        "attributes": dict(customer.attributes),
        "rfm_class": customer.rfm_class or "",
    }

"""Render message and task templates for the worker's activities.

The rendering itself, its sandbox and its limits are :mod:`engine.rendering`, the one
renderer shared with test runs and simulations; this module adds what templates see of a
customer in the database (:func:`customer_variables`).
"""

from __future__ import annotations

from typing import Any

from db.models import Customer, Guide, Store
from db.models.customers import MEMBER_LEVEL_NAMES
from engine import rendering
from engine.rendering import MAX_RENDERED_CHARS, TemplateLimitError, TemplateRenderError


def parse_template(text: str) -> str | None:
    """``None`` if ``text`` parses as a template, else the syntax error as a message."""
    return rendering.parse_error(text)


def render(text: str, variables: dict[str, Any]) -> str:
    """Render ``text`` with ``variables`` (``customer`` and ``ctx``); raises
    :class:`TemplateRenderError` (:class:`TemplateLimitError` past a limit)."""
    return rendering.render(text, customer=variables.get("customer"), ctx=variables.get("ctx"))


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


__all__ = [
    "MAX_RENDERED_CHARS",
    "TemplateLimitError",
    "TemplateRenderError",
    "customer_variables",
    "parse_template",
    "render",
]

"""Static checks of message and task templates (Jinja2, sandboxed).

The compiler only parses, with the environment templates render in
(:mod:`engine.rendering`, the one renderer of activities, test runs and simulations; its
limits apply at render time, where the customer's data is known). A template sees
``customer`` (profile fields) and ``ctx`` (journey context: ``ctx.<node_id>.<field>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes

from engine.rendering import TemplateLimitError, TemplateRenderError, environment, render

#: Fields a template may read from ``customer``.
CUSTOMER_FIELDS = frozenset(
    {
        "id",
        "name",
        "surname",
        "gender",
        "member_level",
        "member_level_name",
        "phone_tail",
        "birthday",
        "store_id",
        "store_name",
        "city",
        "guide_id",
        "guide_name",
        "tags",
        "attributes",
        "rfm_class",
    }
)


# ``{name}`` / ``{ coupon_code }`` / ``{customer.name}`` in literal text: not a placeholder in
# Jinja (that takes double braces), so it would be sent as written.
_SINGLE_BRACE = re.compile(
    r"(?<!\{)\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}(?!\})"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class TemplateCheck:
    error: str | None
    context_refs: frozenset[str]
    unknown_customer_fields: frozenset[str]
    #: single-brace placeholders in the literal text (``{name}``), in order of appearance
    single_braces: tuple[str, ...] = ()


def context_expression(node_id: str, field: str) -> str:
    """``ctx.<node_id>.<field>`` as a template expression; node ids that are not Python
    identifiers (the canvas makes ``send-coupon-x1y2z``) are subscripted."""
    base = f"ctx.{node_id}" if _IDENTIFIER.fullmatch(node_id) else f'ctx["{node_id}"]'
    return f"{base}.{field}"


def check_template(text: str) -> TemplateCheck:
    """Parse ``text``; report a syntax error and which ``ctx.<node>`` it refers to."""
    try:
        ast = environment().parse(text)
    except TemplateSyntaxError as exc:
        return TemplateCheck(f"line {exc.lineno}: {exc.message}", frozenset(), frozenset())
    refs: set[str] = set()
    unknown: set[str] = set()
    singles = [
        match.group(0)
        for data in ast.find_all(nodes.TemplateData)
        for match in _SINGLE_BRACE.finditer(data.data)
    ]
    for getter in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key: object
        if isinstance(getter, nodes.Getattr):
            base, key = getter.node, getter.attr
        elif isinstance(getter, nodes.Getitem) and isinstance(getter.arg, nodes.Const):
            base, key = getter.node, getter.arg.value
        else:
            continue
        if not isinstance(base, nodes.Name):
            continue
        if base.name == "ctx" and isinstance(key, str):
            refs.add(key)
        elif base.name == "customer" and isinstance(key, str) and key not in CUSTOMER_FIELDS:
            unknown.add(key)
    return TemplateCheck(None, frozenset(refs), frozenset(unknown), tuple(dict.fromkeys(singles)))


__all__ = [
    "CUSTOMER_FIELDS",
    "TemplateCheck",
    "TemplateLimitError",
    "TemplateRenderError",
    "check_template",
    "context_expression",
    "render",
]

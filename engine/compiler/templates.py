"""Static checks of message and task templates (Jinja2, sandboxed).

The compiler only parses, with the environment templates render in
(:mod:`engine.rendering`, the one renderer of activities, test runs and simulations; its
limits apply at render time, where the customer's data is known). A template sees
``customer`` (profile fields) and ``ctx`` (journey context: ``ctx.<node_id>.<field>``).
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class TemplateCheck:
    error: str | None
    context_refs: frozenset[str]
    unknown_customer_fields: frozenset[str]


def check_template(text: str) -> TemplateCheck:
    """Parse ``text``; report a syntax error and which ``ctx.<node>`` it refers to."""
    try:
        ast = environment().parse(text)
    except TemplateSyntaxError as exc:
        return TemplateCheck(f"line {exc.lineno}: {exc.message}", frozenset(), frozenset())
    refs: set[str] = set()
    unknown: set[str] = set()
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
    return TemplateCheck(None, frozenset(refs), frozenset(unknown))


__all__ = [
    "CUSTOMER_FIELDS",
    "TemplateCheck",
    "TemplateLimitError",
    "TemplateRenderError",
    "check_template",
    "render",
]

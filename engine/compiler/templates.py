"""Static checks of message and task templates (Jinja2, sandboxed).

The compiler only parses; rendering happens in activities with the same sandbox. A template
sees ``customer`` (profile fields) and ``ctx`` (journey context: ``ctx.<node_id>.<field>``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False)

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
        ast = _ENV.parse(text)
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


class TemplateRenderError(Exception):
    """A template failed to render (syntax, or the sandbox refused an unsafe access)."""


def render(text: str, *, customer: dict[str, Any], ctx: dict[str, Any]) -> str:
    """Render a message/task template in the sandbox. Missing values render as empty.

    The one renderer for activities, simulations and previews: a template can read
    ``customer`` and ``ctx`` and nothing else — no attributes starting with ``_``, no
    Python internals, no files (``ImmutableSandboxedEnvironment``).
    """
    try:
        return _ENV.from_string(text).render(customer=customer, ctx=ctx)
    except TemplateError as exc:  # includes SecurityError from the sandbox
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}") from exc

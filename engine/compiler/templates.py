"""Static checks of message and task templates (Jinja2, sandboxed).

The compiler only parses; rendering happens in activities with the same sandbox. A template
sees ``customer`` (profile fields) and ``ctx`` (journey context: ``ctx.<node_id>.<field>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

_ENV = ImmutableSandboxedEnvironment(autoescape=False)

#: Fields a template may read from ``customer``.
CUSTOMER_FIELDS = frozenset(
    {"id", "name", "phone", "member_level", "store_id", "store_name", "guide_id",
     "guide_name", "tags", "attributes", "rfm_class", "birthday", "first_name"}
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
        base = getter.node
        if not isinstance(base, nodes.Name):
            continue
        if isinstance(getter, nodes.Getattr):
            key: object = getter.attr
        elif isinstance(getter.arg, nodes.Const):
            key = getter.arg.value
        else:
            continue
        if base.name == "ctx" and isinstance(key, str):
            refs.add(key)
        elif base.name == "customer" and isinstance(key, str) and key not in CUSTOMER_FIELDS:
            unknown.add(key)
    return TemplateCheck(None, frozenset(refs), frozenset(unknown))

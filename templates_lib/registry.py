"""Look up built-in templates and turn one plus parameters into a journey document."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_lib.builtin import BUILTINS
from templates_lib.params import ParameterError, resolve
from templates_lib.spec import Template

_BY_ID: dict[str, Template] = {t.id: t for t in BUILTINS}


class UnknownTemplateError(KeyError):
    """No built-in template has ``template_id``."""

    def __init__(self, template_id: str) -> None:
        super().__init__(template_id)
        self.template_id = template_id

    def __str__(self) -> str:
        return f"No built-in template '{self.template_id}' (have: {', '.join(_BY_ID)})."


def all_templates() -> tuple[Template, ...]:
    """Every built-in template, in gallery order."""
    return BUILTINS


def is_builtin(template_id: str) -> bool:
    return template_id in _BY_ID


def get_template(template_id: str) -> Template:
    """The built-in template ``template_id``; :class:`UnknownTemplateError` if none."""
    try:
        return _BY_ID[template_id]
    except KeyError:
        raise UnknownTemplateError(template_id) from None


def resolve_params(template_id: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults overlaid with ``params``, all checked (bounds, choices, cross-parameter rules)."""
    template = get_template(template_id)
    values = resolve(template_id, template.params, params)
    if template.cross_check is not None:
        issues = template.cross_check(values)
        if issues:
            raise ParameterError(template_id, issues)
    return values


def instantiate(template_id: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The journey document of ``template_id`` with ``params`` (missing ones take defaults).

    Raises :class:`ParameterError` naming every out-of-bounds or unknown parameter. Coupon
    template ids are only checked for shape here; whether they exist is the database's call
    (``services.templates`` compiles the result against it).
    """
    return get_template(template_id).build(resolve_params(template_id, params))

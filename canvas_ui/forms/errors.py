"""Turn pydantic validation errors into ``{form path: translated message}`` for inline display."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from canvas_ui.forms.spec import FieldSpec, child
from canvas_ui.i18n import gettext


def form_path(specs: list[FieldSpec], loc: tuple[int | str, ...], prefix: str) -> str:
    """The form field name of an error location.

    Pydantic puts the discriminator tag into the location of union members
    (``until → duration → duration → amount``); the form has no such level, so tags are dropped.
    """
    parts = [prefix]
    current: list[FieldSpec] | None = specs
    spec: FieldSpec | None = None
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int) or current is None:
            parts.append(str(part))
            i += 1
            if spec is not None and spec.widget == "list" and spec.item is not None:
                spec = spec.item
                current = spec.children if spec.widget in ("group", "duration") else None
                if spec.widget == "union" and i < len(loc) and str(loc[i]) in spec.variants:
                    current = spec.variants[str(loc[i])][1]
                    i += 1
            continue
        spec = child(current, str(part))
        parts.append(str(part))
        i += 1
        if spec is None:
            current = None
        elif spec.widget == "union":
            if i < len(loc) and str(loc[i]) in spec.variants:
                current = spec.variants[str(loc[i])][1]
                i += 1
            else:
                current = None
        elif spec.widget in ("group", "duration"):
            current = spec.children
        else:
            current = None
    return ".".join(parts)


def spec_at(specs: list[FieldSpec], loc: tuple[int | str, ...]) -> FieldSpec | None:
    """The deepest named field an error location points into (list indexes and union tags
    skipped), or None when the location is not a field of ``specs``."""
    current: list[FieldSpec] | None = specs
    found: FieldSpec | None = None
    for part in loc:
        if isinstance(part, int):
            if found is not None and found.widget == "list" and found.item is not None:
                item = found.item
                current = item.children if item.widget in ("group", "duration") else None
                if item.widget == "union":
                    found, current = item, None
            continue
        if found is not None and found.widget == "union" and str(part) in found.variants:
            current = found.variants[str(part)][1]
            continue
        spec = child(current, str(part)) if current is not None else None
        if spec is None:
            break
        found = spec
        # a duration's amount and unit are one field for the marketer ("How long")
        current = spec.children if spec.widget == "group" else None
    return found


def message(error: dict[str, Any]) -> str:
    """A short translated message for one pydantic error."""
    ctx = error.get("ctx") or {}
    kind = error.get("type", "")
    if kind == "missing":
        return gettext("Required.")
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return gettext("Required.")
        return gettext("At least %(num)s characters.") % {"num": ctx.get("min_length")}
    if kind == "string_too_long":
        return gettext("At most %(num)s characters.") % {"num": ctx.get("max_length")}
    if kind == "too_short":
        return gettext("Choose at least %(num)s.") % {"num": ctx.get("min_length")}
    if kind == "too_long":
        return gettext("At most %(num)s items.") % {"num": ctx.get("max_length")}
    if kind in ("greater_than_equal", "greater_than"):
        return gettext("Must be at least %(num)s.") % {"num": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return gettext("Must be at most %(num)s.") % {"num": ctx.get("le", ctx.get("lt"))}
    if kind in ("int_parsing", "int_from_float", "int_type"):
        return gettext("Enter a whole number.")
    if kind in ("float_parsing", "float_type"):
        return gettext("Enter a number.")
    if kind == "string_pattern_mismatch":
        return gettext("Wrong format.")
    if kind in ("enum", "literal_error", "union_tag_invalid"):
        return gettext("Choose one of the options.")
    if kind.startswith("datetime"):
        return gettext("Enter a date and time.")
    if kind == "extra_forbidden":
        return gettext("Not a setting of this step.")
    if kind in ("string_type", "dict_type", "model_type", "list_type", "bool_type"):
        return gettext("Wrong format.")
    return str(error.get("msg", kind))


def field_errors(exc: ValidationError, specs: list[FieldSpec], prefix: str) -> dict[str, str]:
    """All errors of ``exc`` keyed by form path (first message per field)."""
    result: dict[str, str] = {}
    for error in exc.errors():
        path = form_path(specs, tuple(error["loc"]), prefix)
        result.setdefault(path, message(dict(error)))
    return result

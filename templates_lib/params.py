"""Template parameters: typed, with defaults and bounds, validated with errors that name them.

A parameter is what a marketer may adjust before a template becomes a draft journey: a wait
length, a coupon template, a channel, which RFM classes count as "important". Everything else
is fixed by the template (and editable afterwards on the canvas, like any draft).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ParamType(StrEnum):
    INT = "int"  # a count of days/hours/minutes, with min and max
    CHOICE = "choice"  # one of ``choices``
    MULTI = "multi"  # a non-empty subset of ``choices``
    COUPON = "coupon"  # a coupon template id (checked against the database by the service)


@dataclass(frozen=True)
class Text:
    """A string in both UI languages."""

    zh: str
    en: str

    def get(self, locale: str) -> str:
        return self.zh if locale.startswith("zh") else self.en

    def to_dict(self) -> dict[str, str]:
        return {"zh-CN": self.zh, "en": self.en}


@dataclass(frozen=True)
class Choice:
    value: str
    label: Text


@dataclass(frozen=True)
class Param:
    """One adjustable value of a template."""

    name: str
    type: ParamType
    default: Any
    label: Text
    help: Text = Text("", "")
    minimum: int | None = None
    maximum: int | None = None
    unit: str = ""  # "days" | "hours" | "minutes" for INT
    choices: tuple[Choice, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The parameter as the API and the gallery form describe it."""
        data: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "default": list(self.default) if isinstance(self.default, tuple) else self.default,
            "label": self.label.to_dict(),
            "help": self.help.to_dict(),
        }
        if self.type is ParamType.INT:
            data.update(minimum=self.minimum, maximum=self.maximum, unit=self.unit)
        if self.choices:
            data["choices"] = [{"value": c.value, "label": c.label.to_dict()} for c in self.choices]
        return data


@dataclass(frozen=True)
class ParamIssue:
    """What is wrong with one parameter value (``code`` lets a UI phrase it in its language)."""

    param: str
    #: unknown | not_an_integer | out_of_range | not_a_choice | empty | unknown_coupon | order
    code: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": f"params.{self.param}",
            "param": self.param,
            "type": self.code,
            "msg": self.message,
            **dict(self.details),
        }


class ParameterError(ValueError):
    """Some parameter values are invalid; ``issues`` names each offending parameter."""

    def __init__(self, template_id: str, issues: Sequence[ParamIssue]) -> None:
        self.template_id = template_id
        self.issues = list(issues)
        super().__init__(
            f"Invalid parameters for template '{template_id}': "
            + "; ".join(i.message for i in self.issues)
        )


MAX_DIGITS = 12


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        if len(value.strip()) > MAX_DIGITS:
            return None  # no parameter takes such a number; reported as not a whole number
        return int(value.strip())
    return None


def check_value(param: Param, value: Any) -> tuple[Any, ParamIssue | None]:
    """``value`` coerced to the parameter's type, or an issue naming the parameter."""
    name = param.name
    if param.type is ParamType.INT:
        number = _as_int(value)
        if number is None:
            return None, ParamIssue(
                name,
                "not_an_integer",
                f"Parameter '{name}' must be a whole number (got {value!r}).",
            )
        lo, hi = param.minimum, param.maximum
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            unit = f" {param.unit}" if param.unit else ""
            return None, ParamIssue(
                name,
                "out_of_range",
                f"Parameter '{name}' must be between {lo} and {hi}{unit} (got {number}).",
                {"minimum": lo, "maximum": hi, "value": number},
            )
        return number, None
    allowed = [c.value for c in param.choices]
    if param.type is ParamType.CHOICE:
        if value not in allowed:
            return None, ParamIssue(
                name,
                "not_a_choice",
                f"Parameter '{name}' must be one of {', '.join(allowed)} (got {value!r}).",
                {"choices": allowed},
            )
        return value, None
    if param.type is ParamType.MULTI:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            return None, ParamIssue(name, "not_a_choice", f"Parameter '{name}' must be a list.")
        bad = [v for v in items if v not in allowed]
        if bad:
            return None, ParamIssue(
                name,
                "not_a_choice",
                f"Parameter '{name}' has unknown value(s) {', '.join(map(str, bad))}; "
                f"choose from {', '.join(allowed)}.",
                {"choices": allowed},
            )
        if not items:
            return None, ParamIssue(name, "empty", f"Parameter '{name}' needs at least one value.")
        # keep the declared order and drop repeats, so equal selections give equal documents
        return tuple(v for v in allowed if v in items), None
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None, ParamIssue(
            name, "not_a_choice", f"Parameter '{name}' must be a coupon template id."
        )
    return value.strip(), None


def resolve(
    template_id: str, params: Sequence[Param], raw: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Defaults overlaid with ``raw``, each value checked; raise :class:`ParameterError`
    listing *every* bad or unknown parameter."""
    raw = dict(raw or {})
    known = {p.name: p for p in params}
    issues = [
        ParamIssue(
            name,
            "unknown",
            f"Template '{template_id}' has no parameter '{name}' (it has: {', '.join(known)}).",
        )
        for name in raw
        if name not in known
    ]
    values: dict[str, Any] = {}
    for p in params:
        value, issue = check_value(p, raw.get(p.name, p.default))
        if issue:
            issues.append(issue)
        else:
            values[p.name] = value
    if issues:
        raise ParameterError(template_id, issues)
    return values

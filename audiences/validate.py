"""Parse and validate a segment definition, collecting every problem, each naming its rule.

:func:`parse_definition` turns untrusted JSON into a :class:`SegmentDefinition` or raises
:class:`SegmentValidationError` with one :class:`RuleProblem` per offending rule: where it
is (``rules[1].rules[0]``, shown as "rule 2.1"), what is wrong, and how to fix it — an
unknown field gets "did you mean …", a wrong value type says the expected one, an
impossible window gives the allowed range. One ``_check_*`` function per rule kind.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from audiences.fields import (
    ATTRIBUTE_KEY_PATTERN,
    ATTRIBUTE_PREFIX,
    FIELDS,
    MAX_WINDOW_DAYS,
    RELATIVE_MONTHS,
    FieldSpec,
    Kind,
    attribute_spec,
)
from audiences.rules import (
    MAX_GROUP_RULES,
    MAX_RULES,
    MAX_TAGS,
    CouponRule,
    EventRule,
    FieldRule,
    Op,
    RuleGroup,
    SegmentDefinition,
    TagRule,
)
from engine.compiler.diagnostics import did_you_mean

_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_\.]*$")


class ProblemCode(StrEnum):
    """Stable codes of rule problems (the builder and the tests key on them)."""

    INVALID_RULE = "INVALID_RULE"
    UNKNOWN_FIELD = "UNKNOWN_FIELD"
    OP_NOT_ALLOWED = "OP_NOT_ALLOWED"
    WRONG_VALUE_TYPE = "WRONG_VALUE_TYPE"
    UNKNOWN_VALUE = "UNKNOWN_VALUE"
    IMPOSSIBLE_WINDOW = "IMPOSSIBLE_WINDOW"
    EMPTY_GROUP = "EMPTY_GROUP"
    NESTED_GROUP = "NESTED_GROUP"
    TOO_MANY_RULES = "TOO_MANY_RULES"


@dataclass(frozen=True)
class RuleProblem:
    """What is wrong with one rule: ``rule`` is its path, ``label`` the 1-based "2.1"."""

    rule: str
    label: str
    code: ProblemCode
    message: str
    rule_id: str | None = None
    attribute: str = ""
    hint: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["code"] = self.code.value
        return data


class SegmentValidationError(ValueError):
    """The definition has problems; ``problems`` lists all of them."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        super().__init__("; ".join(p.message for p in problems))
        self.problems = problems


def _label(indexes: list[int]) -> str:
    return ".".join(str(i + 1) for i in indexes) or "segment"


def _path(indexes: list[int]) -> str:
    return "".join(f"{'.' if n else ''}rules[{i}]" for n, i in enumerate(indexes)) or "segment"


class _Collector:
    def __init__(self) -> None:
        self.items: list[RuleProblem] = []

    def add(
        self,
        indexes: list[int],
        code: ProblemCode,
        message: str,
        *,
        rule_id: str | None = None,
        attribute: str = "",
        hint: str = "",
    ) -> None:
        label = _label(indexes)
        prefix = f"Rule {label}" if indexes else "Segment"
        self.items.append(
            RuleProblem(
                rule=_path(indexes),
                label=label,
                code=code,
                message=f"{prefix}: {message}",
                rule_id=rule_id,
                attribute=attribute,
                hint=hint,
            )
        )


def parse_definition(raw: Any) -> SegmentDefinition:
    """Validate ``raw`` (a dict, or an already-built definition) and return it.

    Raises :class:`SegmentValidationError` listing every problem.
    """
    problems = _Collector()
    if isinstance(raw, SegmentDefinition):
        definition = raw
    else:
        try:
            definition = SegmentDefinition.model_validate(raw)
        except ValidationError as exc:
            _shape_problems(exc, raw, problems)
            raise SegmentValidationError(problems.items) from None
    _check_definition(definition, problems)
    if problems.items:
        raise SegmentValidationError(problems.items)
    return definition


# --------------------------------------------------------------------------- shape


def _shape_problems(exc: ValidationError, raw: Any, out: _Collector) -> None:
    """pydantic's errors, re-addressed to the rule they are about."""
    for err in exc.errors():
        loc = list(err.get("loc", ()))
        indexes: list[int] = []
        attribute = ""
        i = 0
        while i < len(loc):
            part = loc[i]
            if part == "rules" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
                indexes.append(int(loc[i + 1]))
                i += 2
                if i < len(loc) and loc[i] in ("field", "tag", "event", "coupon", "group"):
                    i += 1  # pydantic's discriminator tag in the location
                continue
            attribute = str(part)
            i += 1
        rule_id = _raw_rule_id(raw, indexes)
        kind = err.get("type", "")
        if kind == "union_tag_invalid" and len(indexes) == 2 and _raw_type(raw, indexes) == "group":
            out.add(
                indexes,
                ProblemCode.NESTED_GROUP,
                "a group inside a group; groups nest one level only.",
                rule_id=rule_id,
                hint="Move these rules up into the outer group, or split the segment.",
            )
            continue
        if kind in ("union_tag_invalid", "union_tag_not_found"):
            given = _raw_type(raw, indexes)
            out.add(
                indexes,
                ProblemCode.INVALID_RULE,
                f"unknown rule type {given!r}; "
                + did_you_mean(str(given), ("field", "tag", "event", "coupon", "group")),
                rule_id=rule_id,
                attribute="type",
            )
            continue
        what = f"'{attribute}' " if attribute else ""
        code = (
            ProblemCode.WRONG_VALUE_TYPE
            if kind.endswith("_type") or kind.endswith("_parsing")
            else ProblemCode.INVALID_RULE
        )
        out.add(
            indexes,
            code,
            f"{what}{err.get('msg', 'is invalid')}".strip(),
            rule_id=rule_id,
            attribute=attribute,
        )


def _raw_rule(raw: Any, indexes: list[int]) -> Any:
    node = raw
    for i in indexes:
        rules = node.get("rules") if isinstance(node, dict) else None
        if not isinstance(rules, list) or i >= len(rules):
            return None
        node = rules[i]
    return node


def _raw_type(raw: Any, indexes: list[int]) -> Any:
    node = _raw_rule(raw, indexes)
    return node.get("type") if isinstance(node, dict) else None


def _raw_rule_id(raw: Any, indexes: list[int]) -> str | None:
    node = _raw_rule(raw, indexes)
    rule_id = node.get("id") if isinstance(node, dict) and indexes else None
    return str(rule_id) if rule_id is not None else None


# --------------------------------------------------------------------------- meaning


def _check_definition(definition: SegmentDefinition, out: _Collector) -> None:
    if len(definition.rules) > MAX_RULES:
        out.add(
            [],
            ProblemCode.TOO_MANY_RULES,
            f"{len(definition.rules)} rules; at most {MAX_RULES} are allowed.",
            hint="Group related rules, or save part of them as a separate segment.",
        )
    for i, rule in enumerate(definition.rules):
        if isinstance(rule, RuleGroup):
            _check_group(rule, [i], out)
        else:
            _check_leaf(rule, [i], out)


def _check_group(group: RuleGroup, at: list[int], out: _Collector) -> None:
    if not group.rules:
        out.add(
            at,
            ProblemCode.EMPTY_GROUP,
            "the group has no rules.",
            rule_id=group.id,
            hint="Add a rule to the group or remove it.",
        )
    if len(group.rules) > MAX_GROUP_RULES:
        out.add(
            at,
            ProblemCode.TOO_MANY_RULES,
            f"the group has {len(group.rules)} rules; at most {MAX_GROUP_RULES}.",
            rule_id=group.id,
        )
    for j, rule in enumerate(group.rules):
        _check_leaf(rule, [*at, j], out)


def _check_leaf(
    rule: FieldRule | TagRule | EventRule | CouponRule, at: list[int], out: _Collector
) -> None:
    if isinstance(rule, FieldRule):
        _check_field_rule(rule, at, out)
    elif isinstance(rule, TagRule):
        _check_tag_rule(rule, at, out)
    elif isinstance(rule, EventRule):
        _check_event_rule(rule, at, out)
    else:
        _check_coupon_rule(rule, at, out)


def field_spec(name: str) -> FieldSpec | None:
    """The spec of a rule field name, ``attributes.<key>`` included; None if unknown."""
    if name.startswith(ATTRIBUTE_PREFIX):
        key = name[len(ATTRIBUTE_PREFIX) :]
        return attribute_spec(name) if re.match(ATTRIBUTE_KEY_PATTERN, key) else None
    return FIELDS.get(name)


def _check_field_rule(rule: FieldRule, at: list[int], out: _Collector) -> None:
    spec = field_spec(rule.field)
    if spec is None:
        out.add(
            at,
            ProblemCode.UNKNOWN_FIELD,
            f"unknown field '{rule.field}'; "
            + (did_you_mean(rule.field, FIELDS) or "see the field list"),
            rule_id=rule.id,
            attribute="field",
            hint="Custom attributes are written attributes.<key>.",
        )
        return
    if rule.op not in spec.ops:
        out.add(
            at,
            ProblemCode.OP_NOT_ALLOWED,
            f"'{rule.op.value}' does not apply to {rule.field}; use one of "
            + ", ".join(o.value for o in spec.ops)
            + ".",
            rule_id=rule.id,
            attribute="op",
        )
        return
    problem = value_problem(spec, rule.op, rule.value)
    if problem:
        code, message = problem
        out.add(
            at, code, f"{rule.field} {rule.op.value}: {message}", rule_id=rule.id, attribute="value"
        )


#: counts and days past this are typing mistakes (and overflow the databases' integers)
MAX_WHOLE_NUMBER = 1_000_000_000
MAX_AMOUNT = 1e12


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _scalar_problem(spec: FieldSpec, value: Any) -> tuple[ProblemCode, str] | None:
    kind = spec.kind
    if kind in (Kind.COUNT, Kind.DAYS):
        if not isinstance(value, int) or isinstance(value, bool):
            return ProblemCode.WRONG_VALUE_TYPE, f"expected a whole number, got {value!r}."
        if value < 0:
            return ProblemCode.WRONG_VALUE_TYPE, f"expected 0 or more, got {value}."
        if value > MAX_WHOLE_NUMBER:
            return (
                ProblemCode.WRONG_VALUE_TYPE,
                f"expected at most {MAX_WHOLE_NUMBER}, got {value}.",
            )
        return None
    if kind is Kind.AMOUNT:
        if not _is_number(value):
            return ProblemCode.WRONG_VALUE_TYPE, f"expected a number, got {value!r}."
        if abs(value) > MAX_AMOUNT:
            return ProblemCode.WRONG_VALUE_TYPE, f"expected at most {MAX_AMOUNT:g}, got {value:g}."
        return None
    if kind is Kind.MONTH:
        if value in RELATIVE_MONTHS:
            return None
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 12:
            return (
                ProblemCode.WRONG_VALUE_TYPE,
                f"expected a month 1–12 or this_month / next_month, got {value!r}.",
            )
        return None
    if not isinstance(value, str) or not value:
        return ProblemCode.WRONG_VALUE_TYPE, f"expected text, got {value!r}."
    if kind is Kind.CHOICE and value not in spec.choices:
        return ProblemCode.UNKNOWN_VALUE, f"unknown value {value!r}; " + did_you_mean(
            value, spec.choices
        )
    return None


def value_problem(spec: FieldSpec, op: Op, value: Any) -> tuple[ProblemCode, str] | None:
    """Why ``value`` does not suit ``spec`` under ``op`` (None when it does)."""
    if op in (Op.EXISTS, Op.NOT_EXISTS):
        return None
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            return ProblemCode.WRONG_VALUE_TYPE, "expected a non-empty list of values."
        for item in value:
            problem = _scalar_problem(spec, item)
            if problem:
                return problem
        return None
    if op is Op.BETWEEN:
        if not isinstance(value, list) or len(value) != 2:
            return ProblemCode.WRONG_VALUE_TYPE, "expected [low, high]."
        for item in value:
            problem = _scalar_problem(spec, item)
            if problem:
                return problem
        if value[0] > value[1]:
            return (
                ProblemCode.IMPOSSIBLE_WINDOW,
                f"the range {value[0]}–{value[1]} is empty; the low end comes first.",
            )
        return None
    if op is Op.CONTAINS:
        if not isinstance(value, str) or not value:
            return ProblemCode.WRONG_VALUE_TYPE, f"expected text, got {value!r}."
        return None
    return _scalar_problem(spec, value)


def _check_tag_rule(rule: TagRule, at: list[int], out: _Collector) -> None:
    tags = [t for t in rule.tags if isinstance(t, str) and t.strip()]
    if not tags:
        out.add(
            at,
            ProblemCode.WRONG_VALUE_TYPE,
            "pick at least one tag.",
            rule_id=rule.id,
            attribute="tags",
        )
    elif len(tags) > MAX_TAGS:
        out.add(
            at,
            ProblemCode.TOO_MANY_RULES,
            f"at most {MAX_TAGS} tags per rule.",
            rule_id=rule.id,
            attribute="tags",
        )


def _window_problem(days: int | None, what: str) -> str | None:
    if days is None:
        return None
    if days < 1 or days > MAX_WINDOW_DAYS:
        return f"a {what} of {days} days is impossible; use 1–{MAX_WINDOW_DAYS} days."
    return None


def _check_event_rule(rule: EventRule, at: list[int], out: _Collector) -> None:
    if not _EVENT_TYPE.match(rule.event_type):
        out.add(
            at,
            ProblemCode.INVALID_RULE,
            f"event type '{rule.event_type}' is not a valid name (lower case, e.g. browse).",
            rule_id=rule.id,
            attribute="event_type",
        )
    window = _window_problem(rule.window_days, "window")
    if window:
        out.add(at, ProblemCode.IMPOSSIBLE_WINDOW, window, rule_id=rule.id, attribute="window_days")
    count_spec = FieldSpec("count", "count", Kind.COUNT, "behaviour")
    if rule.op not in count_spec.ops:
        out.add(
            at,
            ProblemCode.OP_NOT_ALLOWED,
            f"'{rule.op.value}' does not apply to an event count; use one of "
            + ", ".join(o.value for o in count_spec.ops)
            + ".",
            rule_id=rule.id,
            attribute="op",
        )
        return
    problem = value_problem(count_spec, rule.op, rule.value)
    if problem:
        code, message = problem
        out.add(at, code, f"{rule.event_type} count: {message}", rule_id=rule.id, attribute="value")


def _check_coupon_rule(rule: CouponRule, at: list[int], out: _Collector) -> None:
    if rule.state == "expiring" and rule.within_days is None:
        out.add(
            at,
            ProblemCode.IMPOSSIBLE_WINDOW,
            "an 'expiring' coupon rule needs within_days (e.g. 3).",
            rule_id=rule.id,
            attribute="within_days",
        )
    window = _window_problem(rule.within_days, "window")
    if window:
        out.add(at, ProblemCode.IMPOSSIBLE_WINDOW, window, rule_id=rule.id, attribute="within_days")

"""Audiences: typed segment rules, their SQL, counts and samples, and customer metrics.

Public API::

    definition = parse_definition(raw)          # or SegmentValidationError naming each rule
    compiled = compile_segment(definition, now=now)
    count(session, compiled); sample(session, compiled); page_ids(session, compiled, after=…)

Rules are compiled to SQLAlchemy expressions (never SQL strings) and run on SQLite and
PostgreSQL alike.
"""

from audiences.compile import DEFAULT_TIMEZONE, CompiledSegment, compile_segment
from audiences.fields import FIELDS, MAX_WINDOW_DAYS, FieldSpec, Kind
from audiences.query import SampleRow, audience_select, count, matches, page_ids, sample
from audiences.rules import (
    CouponRule,
    EventRule,
    FieldRule,
    Op,
    RuleGroup,
    SegmentDefinition,
    TagRule,
)
from audiences.validate import (
    ProblemCode,
    RuleProblem,
    SegmentValidationError,
    field_spec,
    parse_definition,
)

__all__ = [
    "DEFAULT_TIMEZONE",
    "FIELDS",
    "MAX_WINDOW_DAYS",
    "CompiledSegment",
    "CouponRule",
    "EventRule",
    "FieldRule",
    "FieldSpec",
    "Kind",
    "Op",
    "ProblemCode",
    "RuleGroup",
    "RuleProblem",
    "SampleRow",
    "SegmentDefinition",
    "SegmentValidationError",
    "TagRule",
    "audience_select",
    "compile_segment",
    "count",
    "field_spec",
    "matches",
    "page_ids",
    "parse_definition",
    "sample",
]

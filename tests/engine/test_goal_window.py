"""settings.goal's conversion window and value (issue 14, item 1): more than 0 and at most
180 days, else the compiler's INVALID_GOAL_WINDOW; neither changes the compiled journey
(results read them; running customers' paths stay as they were)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.compiler import Code, compile_document
from tests.engine.test_compiler import valid_doc


def _with_goal(**goal: Any) -> dict[str, Any]:
    doc = valid_doc()
    doc.setdefault("settings", {})["goal"] = {"event_type": "purchase", **goal}
    return doc


@pytest.mark.parametrize(
    "window",
    [
        {"amount": 0, "unit": "days"},
        {"amount": 181, "unit": "days"},
        {"amount": 4321, "unit": "hours"},
    ],
)
def test_a_window_of_nothing_or_over_180_days_is_a_diagnostic(window: dict[str, Any]) -> None:
    result = compile_document(_with_goal(window=window), journey_id="j", version=1)
    assert result.journey is None
    [diag] = [d for d in result.errors if d.code is Code.INVALID_GOAL_WINDOW]
    assert "180 days" in diag.message and str(window["amount"]) in diag.message
    assert diag.params["amount"] == window["amount"]


@pytest.mark.parametrize(
    "window",
    [
        {"amount": 1, "unit": "minutes"},
        {"amount": 14, "unit": "days"},
        {"amount": 180, "unit": "days"},
    ],
)
def test_windows_up_to_180_days_compile_and_leave_the_journey_as_it_was(
    window: dict[str, Any],
) -> None:
    plain = compile_document(_with_goal(), journey_id="j", version=1).journey
    result = compile_document(
        _with_goal(window=window, value_property="amount"), journey_id="j", version=1
    )
    assert result.journey is not None, [d.message for d in result.errors]
    assert plain is not None and result.journey.content_hash == plain.content_hash


def test_a_negative_window_or_an_empty_value_property_is_refused_by_the_schema() -> None:
    for goal in ({"window": {"amount": -1, "unit": "days"}}, {"value_property": ""}):
        result = compile_document(_with_goal(**goal), journey_id="j", version=1)
        assert result.journey is None and result.errors

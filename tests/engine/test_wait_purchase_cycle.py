"""``wait_purchase_cycle``: the moment each rule gives (cycle, fallback from the one purchase
or from arrival, unreadable data, time of day in the customer's zone), the simulation's
path, the compiler's findings and the canvas's words for the trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from canvas_ui.i18n import use_locale
from canvas_ui.kinds import KINDS as UI_KINDS
from engine.compiler import Code, compile_document
from engine.document import NodeKind
from engine.effect_parts import CustomerFacts
from engine.kinds.wait_purchase_cycle import (
    BAD_DATA,
    CYCLE,
    FALLBACK,
    NO_PURCHASE,
    ONE_PURCHASE,
    WaitPurchaseCycleStep,
    cycle_moment,
)
from engine.simulation import SandboxWorld, simulate
from tests.engine.sim import journey_doc

SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def _step(percent: int = 90, fallback_days: int = 14, at_minute: int | None = None) -> Any:
    return WaitPurchaseCycleStep("w", "", (), percent, fallback_days * 86400, at_minute)


def _facts(last: str | None, cycle: float | None, **kw: Any) -> CustomerFacts:
    return CustomerFacts("C1", last_purchase_at=last, purchase_interval_median_days=cycle, **kw)


def test_cycle_rule_counts_percent_of_the_own_cycle_from_the_last_purchase() -> None:
    m = cycle_moment(_step(90), _facts("2026-11-20T04:00:00+00:00", 45.0), NOW, SH)
    assert (m.rule, m.cycle_days) == (CYCLE, 45.0)
    assert m.until == datetime(2026, 11, 20, 4, tzinfo=UTC) + timedelta(days=40.5)


def test_more_than_one_cycle_is_allowed() -> None:
    m = cycle_moment(_step(200), _facts("2026-11-20T00:00:00+00:00", 30.0), NOW, SH)
    assert m.until == datetime(2027, 1, 19, tzinfo=UTC)


def test_one_purchase_falls_back_from_that_purchase() -> None:
    m = cycle_moment(_step(fallback_days=14), _facts("2026-11-25T00:00:00+00:00", None), NOW, SH)
    assert (m.rule, m.reason) == (FALLBACK, ONE_PURCHASE)
    assert m.until == datetime(2026, 12, 9, tzinfo=UTC)


def test_no_purchase_falls_back_from_arrival() -> None:
    m = cycle_moment(_step(fallback_days=14), _facts(None, None), NOW, SH)
    assert (m.rule, m.reason, m.since) == (FALLBACK, NO_PURCHASE, None)
    assert m.until == NOW + timedelta(days=14)


@pytest.mark.parametrize(
    ("last", "cycle"),
    [("last tuesday", 45.0), ("2026-11-20T00:00:00+00:00", 0.0), (None, float("nan"))],
)
def test_unreadable_purchase_data_takes_the_fallback_and_says_so(
    last: str | None, cycle: float
) -> None:
    m = cycle_moment(_step(), _facts(last, cycle), NOW, SH)
    assert (m.rule, m.reason) == (FALLBACK, BAD_DATA)


def test_time_of_day_is_the_customers_on_the_computed_day() -> None:
    # 40.5 days after 2026-11-20 04:00Z = 2026-12-30 16:00Z = 12-31 00:00 in Shanghai
    m = cycle_moment(_step(90, at_minute=10 * 60), _facts("2026-11-20T04:00:00Z", 45.0), NOW, SH)
    local = m.until.astimezone(SH)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-12-31", 10, 0)
    ny = cycle_moment(
        _step(90, at_minute=10 * 60),
        _facts("2026-11-20T04:00:00Z", 45.0),
        NOW,
        ZoneInfo("America/New_York"),
    )
    assert ny.until.astimezone(ZoneInfo("America/New_York")).isoformat() == (
        "2026-12-30T10:00:00-05:00"
    )


def _doc(config: dict[str, Any]) -> dict[str, Any]:
    return journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "w", "kind": "wait_purchase_cycle", "config": config},
            {"id": "done", "kind": "exit"},
        ],
        [("entry", "next", "w"), ("w", "next", "done")],
    )


async def _simulate(config: dict[str, Any], **facts: Any) -> Any:
    result = compile_document(_doc(config), journey_id="j", version=1)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    world = SandboxWorld(facts=CustomerFacts("C1", **facts))
    return await simulate(result.journey, world, start=NOW)


async def test_simulation_waits_then_continues() -> None:
    state = await _simulate(
        {"percent": 90}, last_purchase_at="2026-11-20T04:00:00+00:00", **_cycle(45.0)
    )
    w = state.trace[1]
    assert w.inputs["rule"] == CYCLE and w.port == "next"
    assert state.status == "exited"
    assert datetime.fromisoformat(state.trace[-1].at) == datetime(2026, 12, 30, 16, tzinfo=UTC)


async def test_a_moment_already_past_continues_at_once() -> None:
    state = await _simulate({"percent": 90}, last_purchase_at="2026-06-01T00:00:00Z", **_cycle(45))
    w = state.trace[1]
    assert w.result["past"] is True and "already past" in w.summary
    assert datetime.fromisoformat(state.trace[-1].at) == NOW


def _cycle(days: float) -> dict[str, Any]:
    return {"purchase_interval_median_days": days}


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"fallback": {"amount": 0, "unit": "days"}}, "zero"),
        ({"fallback": {"amount": 91, "unit": "days"}}, "too_long"),
        ({"at_time": "25:00"}, "not_a_time"),
    ],
)
def test_compiler_names_the_step_and_the_field(config: dict[str, Any], problem: str) -> None:
    result = compile_document(_doc(config), journey_id="j", version=1)
    [diag] = [d for d in result.diagnostics if d.code is Code.INVALID_WAIT]
    assert diag.node_ids == ("w",) and diag.params["problem"] == problem


@pytest.mark.parametrize("percent", [0, 501])
def test_percent_outside_1_to_500_is_refused(percent: int) -> None:
    result = compile_document(_doc({"percent": percent}), journey_id="j", version=1)
    assert result.journey is None
    assert any(d.node_ids == ("w",) for d in result.diagnostics)


def _note(inputs: dict[str, Any], result: dict[str, Any], locale: str) -> str:
    from services.run_explain import StepView

    view = StepView(
        0, "w", "wait_purchase_cycle", 1, "", None, "next", None, "", inputs, result, None
    )
    with use_locale(locale):
        return UI_KINDS[NodeKind.WAIT_PURCHASE_CYCLE].run_note(view, "Asia/Shanghai")


def test_run_note_says_which_rule_applied_in_both_languages() -> None:
    cycle = {"rule": "cycle", "percent": 90, "cycle_days": 45.0}
    until = {"until": "2027-01-09T16:00:00+00:00"}
    assert _note(cycle, until, "zh_CN") == "45 天周期的 90% → 2027-01-10"
    assert _note(cycle, until, "en") == "90% of the 45-day cycle → 2027-01-10"
    fallback = {"rule": "fallback", "reason": "one_purchase", "fallback_seconds": 14 * 86400}
    assert _note(fallback, {}, "zh_CN") == "不足两次购买，按 14 天兜底"
    assert _note(fallback, {}, "en") == "Fewer than two purchases, fallback 14 days"
    past = {"until": "2026-11-01T02:00:00+00:00", "past": True}
    assert _note(cycle, past, "zh_CN") == "45 天周期的 90% → 2026-11-01 10:00 · 已过，立即继续"

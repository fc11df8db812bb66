"""``wait_until_date``: the date arithmetic (leap days, month and year ends, zones with and
without DST), the compiler's findings, and runs on the virtual clock (the wait, a once-only
date already passed, bad profile data taking the node's ``on_failure`` path)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine import ir
from engine.compiler import compile_document
from engine.compiler.diagnostics import Code
from engine.effects import CustomerFacts
from engine.interpreter import Interpreter, new_state
from engine.kinds import failure_port
from engine.kinds.wait_until_date import (
    WaitUntilDateStep,
    anniversary,
    customer_zone,
    lenient_ports,
    parse_profile_date,
    target_moment,
)
from engine.runtime import RunState
from engine.simulation import SandboxWorld, SimulatedRuntime
from tests.engine.sim import assert_end_recorded, journey_doc

SH = ZoneInfo("Asia/Shanghai")  # no DST
NY = ZoneInfo("America/New_York")  # DST
TEN = 10 * 60


def _at(y: int, m: int, d: int, hh: int = 10, mm: int = 0, tz: ZoneInfo = SH) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


# ------------------------------------------------------------------ date arithmetic


@pytest.mark.parametrize(
    ("day", "year", "expected"),
    [
        (date(2024, 2, 29), 2027, date(2027, 2, 28)),  # common year: the month's last day
        (date(2024, 2, 29), 2028, date(2028, 2, 29)),
        (date(2000, 2, 29), 2100, date(2100, 2, 28)),  # a century is no leap year
        (date(2020, 1, 31), 2027, date(2027, 1, 31)),
        (date(2020, 12, 31), 2026, date(2026, 12, 31)),
    ],
)
def test_anniversary(day: date, year: int, expected: date) -> None:
    assert anniversary(day, year) == expected


YEARLY = [
    # (date, offset days, now, expected local moment)
    ("leap day, common year", date(2024, 2, 29), 0, _at(2026, 12, 1), _at(2027, 2, 28)),
    ("leap day, leap year", date(2024, 2, 29), 0, _at(2027, 3, 1), _at(2028, 2, 29)),
    ("leap day, day before", date(2024, 2, 29), -1, _at(2026, 12, 1), _at(2027, 2, 27)),
    ("leap day, day after", date(2024, 2, 29), 1, _at(2026, 12, 1), _at(2027, 3, 1)),
    ("1 Mar − 1 day, common", date(2025, 3, 1), -1, _at(2026, 12, 1), _at(2027, 2, 28)),
    ("1 Mar − 1 day, leap", date(2025, 3, 1), -1, _at(2027, 12, 1), _at(2028, 2, 29)),
    ("31 Jan + 1 day", date(2020, 1, 31), 1, _at(2026, 12, 1), _at(2027, 2, 1)),
    ("30 Apr + 1 day", date(2020, 4, 30), 1, _at(2026, 12, 1), _at(2027, 5, 1)),
    ("3 Jan − 7 days: last year", date(2020, 1, 3), -7, _at(2026, 12, 1), _at(2026, 12, 27)),
    ("3 Jan − 7 days: passed", date(2020, 1, 3), -7, _at(2026, 12, 28), _at(2027, 12, 27)),
    ("28 Dec + 7 days: next year", date(2020, 12, 28), 7, _at(2026, 12, 1), _at(2027, 1, 4)),
    ("today, not yet 10:00", date(1990, 12, 1), 0, _at(2026, 12, 1, 9, 59), _at(2026, 12, 1)),
    ("today, after 10:00", date(1990, 12, 1), 0, _at(2026, 12, 1, 10, 1), _at(2027, 12, 1)),
    # 2028-06-01 − 365 days (2028 is a leap year): 2027-06-02
    ("365 days before", date(2020, 6, 1), -365, _at(2026, 12, 1), _at(2027, 6, 2)),
    ("first anniversary only", date(2026, 11, 20), 0, _at(2026, 12, 1), _at(2027, 11, 20)),
    ("joined today", date(2026, 12, 1), 0, _at(2026, 12, 1, 8), _at(2027, 12, 1)),
    ("a date ahead", date(2028, 5, 1), 0, _at(2026, 12, 1), _at(2029, 5, 1)),
]


@pytest.mark.parametrize(
    ("day", "offset", "now", "expected"), [c[1:] for c in YEARLY], ids=[c[0] for c in YEARLY]
)
def test_yearly_moment(day: date, offset: int, now: datetime, expected: datetime) -> None:
    got = target_moment(day, now, SH, yearly=True, offset_days=offset, at_minute=TEN)
    assert got == expected and got > now
    assert got.astimezone(SH).strftime("%H:%M") == "10:00"


def test_a_yearly_moment_equal_to_now_is_next_years() -> None:
    """Strictly ahead: a yearly loop back into the node at the moment must not fire twice;
    a once-only moment equal to now is reached (the step continues on ``next``)."""
    now = _at(2026, 12, 1)
    day = date(1990, 12, 1)
    assert target_moment(day, now, SH, yearly=True, offset_days=0, at_minute=TEN) == _at(
        2027, 12, 1
    )
    assert (
        target_moment(day.replace(year=2026), now, SH, yearly=False, offset_days=0, at_minute=TEN)
        == now
    )


@pytest.mark.parametrize(
    ("day", "offset", "expected"),
    [
        (date(2027, 3, 1), -7, _at(2027, 2, 22)),
        (date(2028, 3, 1), -1, _at(2028, 2, 29)),
        (date(2027, 12, 31), 1, _at(2028, 1, 1)),
        (date(2020, 1, 1), 0, _at(2020, 1, 1)),  # in the past: the caller takes 'passed'
    ],
)
def test_once_moment(day: date, offset: int, expected: datetime) -> None:
    now = _at(2026, 12, 1)
    assert target_moment(day, now, SH, yearly=False, offset_days=offset, at_minute=TEN) == expected


def test_the_time_of_day_is_wall_clock_time_across_dst() -> None:
    """10:00 in New York is 14:00 UTC in summer and 15:00 UTC in winter; in Shanghai
    (no DST) it is 02:00 UTC all year."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    summer = target_moment(date(1990, 7, 1), now, NY, yearly=True, offset_days=0, at_minute=TEN)
    winter = target_moment(date(1990, 12, 1), now, NY, yearly=True, offset_days=0, at_minute=TEN)
    assert summer.astimezone(UTC).hour == 14 and winter.astimezone(UTC).hour == 15
    for day in (date(1990, 7, 1), date(1990, 12, 1)):
        m = target_moment(day, now, SH, yearly=True, offset_days=0, at_minute=TEN)
        assert m.astimezone(UTC).hour == 2
    # an offset across the spring change keeps the wall-clock time
    across = target_moment(date(1990, 3, 1), now, NY, yearly=True, offset_days=14, at_minute=TEN)
    assert across.astimezone(NY).strftime("%m-%d %H:%M") == "03-15 10:00"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2027-03-01", date(2027, 3, 1)),
        (" 2027-03-01 ", date(2027, 3, 1)),
        ("2027-03-01T23:30:00+00:00", date(2027, 3, 2)),  # its day in Shanghai
        ("2027-03-01T10:00:00", date(2027, 3, 1)),
        ("soon", None),
        ("2027-02-30", None),
        ("", None),
        (20270301, None),
        (None, None),
    ],
)
def test_parse_profile_date(value: Any, expected: date | None) -> None:
    assert parse_profile_date(value, SH) == expected


def test_zone_falls_back_to_the_store_then_the_journey() -> None:
    facts = CustomerFacts("C1", timezone="Mars/Base", store_timezone="Asia/Urumqi")
    assert customer_zone(facts, "Asia/Shanghai")[1] == "Asia/Urumqi"
    facts.store_timezone = ""
    assert customer_zone(facts, "Asia/Tokyo")[1] == "Asia/Tokyo"
    facts.timezone = "Europe/Berlin"
    assert customer_zone(facts, "Asia/Tokyo")[1] == "Europe/Berlin"


# ------------------------------------------------------------------ compiler


def _doc(config: dict[str, Any], label: str = "预产期前一周") -> dict[str, Any]:
    node: dict[str, Any] = {"id": "d", "kind": "wait_until_date", "label": label, "config": config}
    ports = lenient_ports(config)  # the ports, also of a config that does not validate
    nodes: list[dict[str, Any]] = [{"id": "entry", "kind": "entry"}, node]
    nodes += [{"id": f"x_{p}", "kind": "exit"} for p in ports]
    edges = [("entry", "next", "d")] + [("d", p, f"x_{p}") for p in ports]
    return journey_doc(nodes, edges)


def _compile(config: dict[str, Any]) -> Any:
    return compile_document(_doc(config), journey_id="jd", version=1, coupon_templates=set())


def test_builds_the_step() -> None:
    config = {
        "source": "attribute",
        "attribute": "attributes.due_date",
        "mode": "date",
        "offset_days": 7,
        "direction": "before",
        "at_time": "09:30",
        "on_failure": "port",
    }
    result = _compile(config)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    step = result.journey.step("d")
    assert step == WaitUntilDateStep(
        "d",
        "预产期前一周",
        step.transitions,
        source="attributes.due_date",
        yearly=False,
        offset_days=-7,
        at_minute=9 * 60 + 30,
        on_failure=ir.OnFailure.PORT,
    )
    assert {t.port for t in step.transitions} == {"next", "passed", "failed"}
    # the IR codec round-trips it
    again = ir.CompiledJourney.from_dict(result.journey.to_dict())
    assert again.step("d") == step


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({"source": "attribute"}, "attribute", "names none"),
        ({"source": "attribute", "attribute": "due date!"}, "attribute", "not an attribute name"),
        ({"source": "attribute", "attribute": "attributes."}, "attribute", "names none"),
        ({"source": "attribute", "attribute": "1st_day"}, "attribute", "not an attribute name"),
        ({"at_time": "25:00"}, "at_time", "not a time of day"),
        ({"offset_days": 400}, "offset_days", "365"),
        ({"offset_days": -3}, "offset_days", "0"),
        ({"source": "anniversary"}, "source", ""),
    ],
)
def test_bad_config_is_a_diagnostic_naming_the_node(
    config: dict[str, Any], field: str, words: str
) -> None:
    result = _compile(config)
    assert result.journey is None
    found = [d for d in result.diagnostics if d.code is Code.INVALID_CONFIG]
    assert found and all(d.node_ids == ("d",) for d in found), result.diagnostics
    diag = found[0]
    assert "预产期前一周" in diag.message and words in diag.message, diag.message
    assert any(list(e["loc"])[:2] == ["config", field] for e in diag.params["errors"]), diag.params


def test_a_nested_attribute_compiles() -> None:
    result = _compile({"source": "attribute", "attribute": "baby.birthday"})
    assert result.journey is not None, [d.message for d in result.diagnostics]
    step = result.journey.step("d")
    assert isinstance(step, WaitUntilDateStep) and step.source == "attributes.baby.birthday"


# ------------------------------------------------------------------ runs (virtual clock)

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


async def _run(config: dict[str, Any], **facts: Any) -> tuple[RunState, SandboxWorld]:
    result = _compile(config)
    assert result.journey is not None, [d.message for d in result.diagnostics]
    world = SandboxWorld(facts=CustomerFacts("C1", name="王女士", **facts))
    rt = SimulatedRuntime(world, START)
    state = new_state(
        customer_id="C1",
        enrollment_id="e",
        entered_at=START,
        entry_node_id=result.journey.entry_node_id,
    )
    interp = Interpreter(result.journey, rt, workflow_id="wf-d", state=state)
    rt.interpreter = interp
    await interp.run()
    return interp.state, world


async def test_waits_until_the_baby_birthday_minus_seven_days_at_ten() -> None:
    config = {
        "source": "attribute",
        "attribute": "baby_birthday",
        "offset_days": 7,
        "direction": "before",
    }
    state, world = await _run(config, attributes={"baby_birthday": "2025-03-01"})
    visit = state.trace[1]
    assert visit.port == "next" and visit.error is None
    assert visit.result["local"] == "2027-02-22 10:00"
    assert datetime.fromisoformat(visit.finished_at or "") == _at(2027, 2, 22)
    assert "waiting until 2027-02-22 10:00 (Asia/Shanghai)" in visit.summary
    assert state.context["d"]["date"] == "2025-03-01"
    assert [r.status for r in world.records] == ["running", "exited"]  # parked, then ended
    assert_end_recorded(state, world)


async def test_a_member_since_leap_day_anniversary_falls_on_28_february() -> None:
    state, world = await _run(
        {"source": "member_since", "at_time": "09:00"},
        member_since="2024-02-29",
        timezone="America/New_York",
    )
    visit = state.trace[1]
    assert visit.result["local"] == "2027-02-28 09:00"
    assert visit.inputs["timezone"] == "America/New_York"
    assert datetime.fromisoformat(visit.finished_at or "") == _at(2027, 2, 28, 9, tz=NY)
    assert_end_recorded(state, world)


async def test_a_due_date_already_passed_continues_at_once_on_passed() -> None:
    config = {"source": "attribute", "attribute": "due_date", "mode": "date", "offset_days": 7}
    state, world = await _run(config, attributes={"due_date": "2026-11-20"})
    visit = state.trace[1]
    assert (visit.port, visit.error) == ("passed", None)
    assert visit.result["passed"] is True and visit.result["local"] == "2026-11-13 10:00"
    assert visit.finished_at == START.isoformat()  # no time passed
    assert state.trace[-1].node_id == "x_passed"
    assert_end_recorded(state, world)


async def test_a_due_date_ahead_is_waited_for_once() -> None:
    config = {"source": "attribute", "attribute": "due_date", "mode": "date", "offset_days": 7}
    state, world = await _run(config, attributes={"due_date": "2027-03-01"})
    visit = state.trace[1]
    assert visit.port == "next" and visit.result["local"] == "2027-02-22 10:00"
    assert_end_recorded(state, world)


BAD_DATA = [
    ("unknown attribute", {"attributes": {"due": "2027-03-01"}}, "DateMissing", "no attributes"),
    ("not a date", {"attributes": {"due_date": "soon"}}, "NotADate", "'soon', not a date"),
    ("a number", {"attributes": {"due_date": 20270301}}, "NotADate", "not a date"),
    ("empty", {"attributes": {"due_date": ""}}, "DateMissing", "no attributes.due_date"),
]


@pytest.mark.parametrize("on_failure", ["continue", "exit", "port"])
@pytest.mark.parametrize(
    ("facts", "error", "words"), [b[1:] for b in BAD_DATA], ids=[b[0] for b in BAD_DATA]
)
async def test_bad_profile_data_takes_the_on_failure_path(
    on_failure: str, facts: dict[str, Any], error: str, words: str
) -> None:
    config = {"source": "attribute", "attribute": "due_date", "on_failure": on_failure}
    state, world = await _run(config, **facts)
    visit = state.trace[1]
    assert visit.error == error and words in visit.summary, visit.summary
    assert state.context["d"] == {"failed": True, "error": error}
    expected = failure_port("wait_until_date", ir.OnFailure(on_failure))
    assert visit.port == expected
    if expected is None:
        assert (state.status, state.exit_reason) == ("exited", "failure_exit")
    else:
        assert state.trace[-1].node_id == f"x_{expected}"
    assert_end_recorded(state, world)  # never stranded


async def test_a_customer_without_a_birthday_ends_by_default() -> None:
    state, world = await _run({"source": "birthday"})
    assert (state.trace[1].error, state.trace[1].port) == ("DateMissing", None)
    assert "the customer has no birthday" in state.trace[1].summary
    assert (state.status, state.exit_reason) == ("exited", "failure_exit")
    assert_end_recorded(state, world)


async def test_a_yearly_loop_waits_a_year_between_visits() -> None:
    """entry → birthday wait → message → back to the wait: one message a year, never two at
    the same moment (the node's visit limit ends the loop)."""
    doc = journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "d", "kind": "wait_until_date", "config": {"source": "birthday"}},
            {"id": "m", "kind": "send_message", "config": {"content": "生日快乐"}},
            {
                "id": "b",
                "kind": "branch",
                "config": {"rules": [{"id": "stop", "conditions": [{"type": "tag", "tag": "x"}]}]},
            },
            {"id": "x", "kind": "exit"},
        ],
        [
            ("entry", "next", "d"),
            ("d", "next", "m"),
            ("m", "next", "b"),
            ("b", "stop", "x"),
            ("b", "else", "d"),
        ],
        max_node_visits=3,
    )
    result = compile_document(doc, journey_id="jl", version=1, coupon_templates=set())
    assert result.journey is not None, [d.message for d in result.diagnostics]
    world = SandboxWorld(facts=CustomerFacts("C1", name="王女士", birthday="1990-12-05"))
    rt = SimulatedRuntime(world, START)
    state = new_state(customer_id="C1", enrollment_id="e", entered_at=START, entry_node_id="entry")
    interp = Interpreter(result.journey, rt, workflow_id="wf-l", state=state)
    rt.interpreter = interp
    await interp.run()
    waits = [t.result["local"] for t in interp.state.trace if t.node_id == "d" and t.result]
    assert waits == ["2026-12-05 10:00", "2027-12-05 10:00", "2028-12-05 10:00"]
    assert len(world.messages) == 3
    assert interp.state.exit_reason == "visit_limit"
    assert_end_recorded(interp.state, world)

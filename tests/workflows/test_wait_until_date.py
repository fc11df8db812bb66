"""``wait_until_date`` on Temporal (time-skipping; never the wall clock): leap-day and
month-end anniversaries, offsets across the year end, a once-only date already passed, and
bad profile data taking the node's ``on_failure`` path with the run's end recorded."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.workflows.harness import ENTRY, compile_ok, default_world, doc, start, wait_at
from tests.workflows.harness import journey_worker as worker
from workflows import JourneyWorkflow

SH = ZoneInfo("Asia/Shanghai")


def _expected(month: int, day: int, offset_days: int, now: datetime, since_year: int) -> datetime:
    """The next anniversary (after ``since_year``) ± offset at 10:00 Shanghai, written out
    independently of the kind's arithmetic: 29 Feb is 28 Feb in a common year."""
    year = max(since_year + 1, now.astimezone(SH).year - 1)
    while True:
        d = day if not (month == 2 and day == 29 and not calendar.isleap(year)) else 28
        moment = datetime.combine(
            date(year, month, d) + timedelta(days=offset_days), time(10), tzinfo=SH
        )
        if moment > now:
            return moment
        year += 1


def _journey(config: dict[str, Any], ports: tuple[str, ...] = ("next",)) -> Any:
    nodes = [ENTRY, {"id": "d", "kind": "wait_until_date", "label": "纪念日", "config": config}]
    nodes += [{"id": f"x_{p}", "kind": "exit"} for p in ports]
    edges = [("entry", "next", "d")] + [("d", p, f"x_{p}") for p in ports]
    return compile_ok(doc(nodes, edges))


async def _run(
    env: WorkflowEnvironment, config: dict[str, Any], ports: tuple[str, ...], **facts: Any
) -> tuple[Any, Any, datetime]:
    """Run the journey for a customer with ``facts``; → (result, final state, start)."""
    now = (await env.get_current_time()).astimezone(UTC)
    world = lambda c: default_world(c, timezone="Asia/Shanghai", **facts)  # noqa: E731
    async with worker(env, make_world=world) as (queue, _):
        handle = await start(env, queue, _journey(config, ports))
        result = await handle.result()  # the test server skips the timer's time
        state = await handle.query(JourneyWorkflow.state)
    return result, state, now


@pytest.mark.parametrize(
    ("label", "facts", "config", "month_day", "since_year"),
    [
        (
            "leap-day member anniversary",
            {"member_since": "2024-02-29"},
            {"source": "member_since"},
            (2, 29, 0),
            2024,
        ),
        (
            "1 March − 1 day: the end of February",
            {"attributes": {"baby_birthday": "2025-03-01"}},
            {"source": "attribute", "attribute": "baby_birthday", "offset_days": 1},
            (3, 1, -1),
            2025,
        ),
        (
            "3 January − 7 days: the year before",
            {"attributes": {"first_visit": "2020-01-03"}},
            {"source": "attribute", "attribute": "first_visit", "offset_days": 7},
            (1, 3, -7),
            2020,
        ),
        (
            "28 December + 7 days: the next year",
            {"attributes": {"first_visit": "2020-12-28"}},
            {
                "source": "attribute",
                "attribute": "attributes.first_visit",
                "offset_days": 7,
                "direction": "after",
            },
            (12, 28, 7),
            2020,
        ),
    ],
)
async def test_anniversary_waits_until_the_right_local_moment(
    env: WorkflowEnvironment,
    label: str,
    facts: dict[str, Any],
    config: dict[str, Any],
    month_day: tuple[int, int, int],
    since_year: int,
) -> None:
    result, state, now = await _run(env, config, ("next",), **facts)
    month, day, offset = month_day
    expected = _expected(month, day, offset, now, since_year)
    visit = state.trace[1]
    assert (visit.node_id, visit.port, visit.error) == ("d", "next", None), visit
    assert datetime.fromisoformat(visit.result["until"]) == expected, label
    assert visit.result["local"] == expected.strftime("%Y-%m-%d 10:00")
    local = expected.astimezone(SH)
    if (month, day) == (2, 29):
        assert local.day == (29 if calendar.isleap(local.year) else 28)
    if (month, day, offset) == (3, 1, -1):
        assert (local.month, local.day) == (2, 29 if calendar.isleap(local.year) else 28)
    # the customer really waited: the exit came at (or after) the moment, by the server's clock
    assert datetime.fromisoformat(state.trace[-1].at) >= expected
    assert result.exit_reason == "exit"


async def test_the_waiting_customer_is_parked_until_the_moment(env: WorkflowEnvironment) -> None:
    now = (await env.get_current_time()).astimezone(SH)
    due = (now + timedelta(days=40)).date()
    config = {"source": "attribute", "attribute": "due_date", "mode": "date", "offset_days": 7}
    world = lambda c: default_world(c, attributes={"due_date": due.isoformat()})  # noqa: E731
    async with worker(env, make_world=world) as (queue, _):
        handle = await start(env, queue, _journey(config, ("next", "passed")))
        await wait_at(handle, "d")  # waits on the run's state, not on the clock
        parked = await handle.query(JourneyWorkflow.state)
        result = await handle.result()
    target = datetime.combine(due - timedelta(days=7), time(10), tzinfo=SH)
    waiting = parked.waiting
    assert waiting is not None and waiting.kind == "timer" and waiting.until is not None
    assert datetime.fromisoformat(waiting.until) == target
    assert result.exit_reason == "exit"


async def test_a_once_only_date_already_passed_continues_on_passed(
    env: WorkflowEnvironment,
) -> None:
    config = {"source": "attribute", "attribute": "due_date", "mode": "date"}
    result, state, now = await _run(
        env, config, ("next", "passed"), attributes={"due_date": "2020-05-01"}
    )
    visit = state.trace[1]
    assert (visit.port, visit.result["local"]) == ("passed", "2020-05-01 10:00")
    assert state.trace[-1].node_id == "x_passed"
    assert datetime.fromisoformat(state.trace[-1].at) - now < timedelta(minutes=1)
    assert result.exit_reason == "exit"


@pytest.mark.parametrize(
    ("attributes", "on_failure", "error", "exit_node", "reason"),
    [
        ({"due_date": "soon"}, "port", "NotADate", "x_failed", "exit"),
        ({}, "exit", "DateMissing", None, "failure_exit"),
        ({"due_date": "2027-13-01"}, "continue", "NotADate", "x_next", "exit"),
    ],
)
async def test_bad_profile_data_takes_on_failure(
    env: WorkflowEnvironment,
    attributes: dict[str, Any],
    on_failure: str,
    error: str,
    exit_node: str | None,
    reason: str,
) -> None:
    config = {"source": "attribute", "attribute": "due_date", "on_failure": on_failure}
    ports = ("next", "failed") if on_failure == "port" else ("next",)
    result, state, _ = await _run(env, config, ports, attributes=attributes)
    visit = state.trace[1]
    assert visit.error == error and "due_date" in visit.summary, visit.summary
    assert result.exit_reason == reason  # ended and recorded, never stranded
    assert state.status == "exited" and state.waiting is None
    if exit_node is not None:
        assert state.trace[-1].node_id == exit_node

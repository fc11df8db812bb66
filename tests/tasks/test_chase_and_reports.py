"""一键催办 reaches only open tasks in scope; dashboards count from the database."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from db import crud
from db.errors import NotFoundError
from db.models import GuideTask, Order, TaskNotice
from services import chase as chasing
from services import task_reports, tasks
from services.accounts import Principal
from tests.tasks.conftest import NOW


@pytest.fixture
def spread(tasks_of: Any) -> dict[str, str]:
    """Open and closed tasks over two stores and two journeys; returns name → task id."""
    made = {
        "g1_j1_open": tasks_of(customer_id="C1", guide_id="G1", store_id="S1"),
        "g1_j2_open": tasks_of(customer_id="C1", guide_id="G1", store_id="S1", journey_id="J2"),
        "g1_j1_done": tasks_of(
            customer_id="C1",
            guide_id="G1",
            store_id="S1",
            status="completed",
            outcome="interested",
            completed_at=NOW,
        ),
        "g2_j1_open": tasks_of(customer_id="C2", guide_id="G2", store_id="S1"),
        "g2_j1_expired": tasks_of(customer_id="C2", guide_id="G2", store_id="S1", status="expired"),
        "h1_j1_open": tasks_of(customer_id="C3", guide_id="H1", store_id="S2"),
    }
    return {name: t.id for name, t in made.items()}


def _chased(shop: sessionmaker[Session]) -> dict[str, int]:
    with shop() as s:
        return {t.id: t.chased_count for t in s.exec(select(GuideTask))}


@pytest.mark.parametrize(
    ("scope", "scope_id", "expected"),
    [
        ("journey", "J1", {"g1_j1_open", "g2_j1_open", "h1_j1_open"}),
        ("store", "S1", {"g1_j1_open", "g1_j2_open", "g2_j1_open"}),
        ("guide", "G1", {"g1_j1_open", "g1_j2_open"}),
    ],
)
def test_hq_chase_reaches_only_open_tasks_in_scope(
    shop: sessionmaker[Session],
    people: dict[str, Principal],
    spread: dict[str, str],
    scope: str,
    scope_id: str,
    expected: set[str],
) -> None:
    with shop() as s:
        done = chasing.chase(
            session=s,
            actor=people["hq"],
            scope=scope,
            scope_id=scope_id,
            include_not_due=True,  # the tasks are due tomorrow
            now=NOW,
        )
    chase = done.chase
    assert chase is not None
    chased = _chased(shop)
    assert {name for name, tid in spread.items() if chased[tid]} == expected
    assert chase.tasks_chased == len(expected) and chase.by_user == "hq"
    with shop() as s:
        notices = list(s.exec(select(TaskNotice).where(TaskNotice.kind == "chase")))
        task_guides = {t.id: t.guide_id for t in s.exec(select(GuideTask))}
    assert {n.task_id for n in notices} == {spread[name] for name in expected}
    # who chased whom, when
    assert all(n.by_user == "hq" and n.created_at == NOW for n in notices)
    assert all(n.to_guide_id == task_guides[n.task_id] for n in notices)
    assert sorted(chase.guides_chased) == sorted({task_guides[spread[n]] for n in expected})


def test_store_manager_chases_only_their_store(
    shop: sessionmaker[Session], people: dict[str, Principal], spread: dict[str, str]
) -> None:
    manager = people["manager"]
    with shop() as s:
        done = chasing.chase(
            session=s, actor=manager, scope="journey", scope_id="J1", include_not_due=True
        )
        assert done.chased == 2  # J1's open tasks of S1, not S2's
        with pytest.raises(NotFoundError):
            chasing.chase(session=s, actor=manager, scope="store", scope_id="S2")
        with pytest.raises(NotFoundError):
            chasing.chase(session=s, actor=manager, scope="guide", scope_id="H1")
        with pytest.raises(tasks.ForbiddenError):
            chasing.chase(session=s, actor=manager, scope="region", scope_id="R1")
        with pytest.raises(tasks.ForbiddenError):
            chasing.chase(session=s, actor=people["g1"], scope="guide", scope_id="G1")
    assert _chased(shop)[spread["h1_j1_open"]] == 0


def test_chase_by_default_reaches_overdue_and_due_today_tasks_only(
    shop: sessionmaker[Session], people: dict[str, Principal], tasks_of: Any
) -> None:
    """NOW is 10:00 in Shanghai: due at 08:00 is overdue, 23:00 is today, tomorrow is not."""
    overdue = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=-timedelta(hours=2))
    today = tasks_of(customer_id="C2", guide_id="G2", store_id="S1", due_in=timedelta(hours=13))
    tomorrow = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=timedelta(hours=15))
    with shop() as s:
        plan = chasing.plan(session=s, actor=people["hq"], scope="store", scope_id="S1", now=NOW)
        assert {t.id for t in plan.tasks} == {overdue.id, today.id}
        assert (plan.count, plan.not_due, plan.later, plan.recently_chased) == (2, 1, 1, 0)
        assert plan.scope_name == "南京西路店"
        wide = chasing.plan(
            session=s,
            actor=people["hq"],
            scope="store",
            scope_id="S1",
            include_not_due=True,
            now=NOW,
        )
        assert wide.count == 3 and wide.not_due == 0 and wide.later == 1
        done = chasing.chase(session=s, actor=people["hq"], scope="store", scope_id="S1", now=NOW)
    assert (done.chased, done.not_due) == (2, 1)
    assert _chased(shop)[tomorrow.id] == 0


def test_a_task_chased_within_the_hour_is_not_chased_again(
    shop: sessionmaker[Session], people: dict[str, Principal], tasks_of: Any
) -> None:
    first = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=-timedelta(hours=1))
    with shop() as s:
        chased = chasing.chase(
            session=s, actor=people["hq"], scope="guide", scope_id="G1", now=NOW
        ).chased
        assert chased == 1
    second = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=timedelta(hours=1))
    with shop() as s:
        again = chasing.chase(
            session=s,
            actor=people["manager"],
            scope="store",
            scope_id="S1",
            now=NOW + timedelta(minutes=30),
        )
    assert (again.chased, again.recently_chased) == (1, 1)
    assert _chased(shop)[first.id] == 1 and _chased(shop)[second.id] == 1
    with shop() as s:
        # nothing left to chase: nothing is recorded, and the skip is said
        idle = chasing.chase(
            session=s,
            actor=people["hq"],
            scope="store",
            scope_id="S1",
            now=NOW + timedelta(minutes=45),
        )
        assert idle.chase is None and (idle.chased, idle.recently_chased) == (0, 2)
        assert len(crud.list_chases(session=s)) == 2
        later = chasing.chase(
            session=s,
            actor=people["hq"],
            scope="guide",
            scope_id="G1",
            now=NOW + timedelta(minutes=61),
        )
    assert later.chased == 1  # the first one's hour is over; the second's is not
    assert _chased(shop)[first.id] == 2 and _chased(shop)[second.id] == 1


def test_hq_chases_a_whole_region(
    shop: sessionmaker[Session], people: dict[str, Principal], spread: dict[str, str]
) -> None:
    with shop() as s:
        done = chasing.chase(
            session=s,
            actor=people["hq"],
            scope="region",
            scope_id="R1",
            include_not_due=True,
            now=NOW,
        )
        with pytest.raises(NotFoundError):
            chasing.plan(session=s, actor=people["hq"], scope="region", scope_id="R9")
    chased = _chased(shop)
    assert {name for name, tid in spread.items() if chased[tid]} == {
        "g1_j1_open",
        "g1_j2_open",
        "g2_j1_open",
    }
    assert done.chase is not None and done.chase.scope == "region"


def test_chased_tasks_sort_first_on_the_workbench(
    shop: sessionmaker[Session], people: dict[str, Principal], tasks_of: Any
) -> None:
    soon = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=timedelta(hours=2))
    later = tasks_of(customer_id="C1", guide_id="G1", store_id="S1", due_in=timedelta(hours=9))
    with shop() as s:
        before = tasks.workbench(session=s, actor=people["g1"], now=NOW)
        assert [i.task.id for i in before.items] == [soon.id, later.id]
        crud.chase_tasks(
            session=s,
            tasks=[s.get_one(GuideTask, later.id)],
            by_user="hq",
            scope="guide",
            scope_id="G1",
            at=NOW,
        )
        after = tasks.workbench(session=s, actor=people["g1"], now=NOW)
    assert [i.task.id for i in after.items] == [later.id, soon.id]


def test_dashboard_counts_rates_conversion_and_csv(
    shop: sessionmaker[Session], people: dict[str, Principal], spread: dict[str, str]
) -> None:
    with shop() as s:
        # C1 (a completed task) bought 3 days after; C2 (tasks not completed) bought too late
        s.add(
            Order(customer_id="C1", store_id="S1", amount=299, created_at=NOW + timedelta(days=3))
        )
        s.add(
            Order(customer_id="C2", store_id="S1", amount=99, created_at=NOW + timedelta(days=30))
        )
        s.commit()
        board = task_reports.dashboard(
            session=s, actor=people["hq"], days=7, now=NOW + timedelta(days=2)
        )
        local = task_reports.dashboard(
            session=s, actor=people["manager"], days=7, now=NOW + timedelta(days=2)
        )
    t = board.total
    assert (t.issued, t.completed, t.expired, t.open) == (6, 1, 1, 4)
    assert t.overdue_open == 4 and t.overdue == 5  # two days later every open task is late
    assert t.completion_rate == pytest.approx(1 / 6)
    assert [r.id for r in board.regions] == ["R1", "R2"]
    s1 = board.regions[0].children[0]
    assert (s1.id, s1.counts.issued, [g.id for g in s1.children]) == ("S1", 5, ["G1", "G2"])
    assert (board.completed_conversion.tasks, board.completed_conversion.converted) == (1, 1)
    # not completed: C1's two open tasks (bought within 14 days of them) and C2/C3's
    assert (board.not_completed_conversion.tasks, board.not_completed_conversion.converted) == (
        5,
        2,
    )
    assert sum(p.issued for p in board.series) == 6 and sum(p.completed for p in board.series) == 1
    # a store manager's numbers are their store's only
    assert local.total.issued == 5 and [r.id for r in local.regions] == ["R1"]

    rows = list(csv.DictReader(io.StringIO(task_reports.to_csv(board).lstrip("\ufeff"))))
    guide_g1 = next(r for r in rows if r["level"] == "guide" and r["guide_id"] == "G1")
    assert (guide_g1["issued"], guide_g1["completed"], guide_g1["store_id"]) == ("3", "1", "S1")
    assert guide_g1["completion_rate"] == "0.3333"
    assert [r["level"] for r in rows][:2] == ["region", "store"]

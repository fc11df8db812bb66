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
        chase = tasks.chase(session=s, actor=people["hq"], scope=scope, scope_id=scope_id, now=NOW)
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
        done = tasks.chase(session=s, actor=manager, scope="journey", scope_id="J1")
        assert done.tasks_chased == 2  # J1's open tasks of S1, not S2's
        with pytest.raises(NotFoundError):
            tasks.chase(session=s, actor=manager, scope="store", scope_id="S2")
        with pytest.raises(NotFoundError):
            tasks.chase(session=s, actor=manager, scope="guide", scope_id="H1")
        with pytest.raises(tasks.ForbiddenError):
            tasks.chase(session=s, actor=people["g1"], scope="guide", scope_id="G1")
    assert _chased(shop)[spread["h1_j1_open"]] == 0


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

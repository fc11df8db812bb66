"""Store/guide and journey attribution on a small chain worked out by hand (tests/attribution/
chain.py), on SQLite and PostgreSQL; the rule's options; scopes; the guide's month."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from db.models import JourneyRunVariant
from services import attribution
from services.accounts import Principal
from settings import Settings
from tests.attribution import chain

HQ = Principal(user_id=1, username="hq", display_name="HQ", role="hq")
MANAGER_S1 = Principal(
    user_id=2, username="m", display_name="M", role="store_manager", guide_id="G2", store_id="S1"
)
GUIDE_G1 = Principal(
    user_id=3, username="g", display_name="G", role="guide", guide_id="G1", store_id="S1"
)
GUIDE_G3 = Principal(
    user_id=4, username="g3", display_name="G3", role="guide", guide_id="G3", store_id="S2"
)


@pytest.fixture
def shop(session: Session) -> Session:
    chain.build(session)
    return session


def _report(session: Session, actor: Principal = HQ, **rule: Any) -> attribution.Report:
    first, last = chain.MARCH
    settings = Settings.model_validate(rule)
    return attribution.report(
        session=session, actor=actor, settings=settings, first=first, last=last
    )


def _money(m: attribution.Money) -> tuple[int, float]:
    return m.orders, m.revenue


def _flat(rep: attribution.Report) -> dict[str, tuple[tuple[int, float], tuple[int, float]]]:
    rows = rep.rows("region") + rep.rows("store") + rep.rows("guide")
    return {r.id: (_money(r.store), _money(r.guide)) for r in rows}


def test_field_rule_store_and_guide_columns(shop: Session) -> None:
    rep = _report(shop)
    # in-store → the store it was made in; online → the guide bound at order time (o3 is
    # G2's though C2 is G1's today); nobody bound → the order's store; neither → unattributed
    assert _flat(rep) == {
        "R1": ((2, 130.0), (4, 620.0)),  # o1 o5 | o2 o4 o3 o6
        "R2": ((2, 65.0), (0, 0.0)),  # o7 o8
        "S1": ((2, 130.0), (3, 320.0)),
        "S2": ((0, 0.0), (1, 300.0)),
        "S3": ((2, 65.0), (0, 0.0)),
        "G1": ((0, 0.0), (2, 270.0)),  # o2 200 + o4 70
        "G2": ((0, 0.0), (1, 50.0)),  # o3
        "G3": ((0, 0.0), (1, 300.0)),  # o6
    }
    assert _money(rep.total.store) == (4, 195.0)
    assert _money(rep.total.guide) == (4, 620.0)
    assert _money(rep.unattributed) == (1, 11.0)  # o10
    assert [r.id for r in rep.rows("store")] == ["S1", "S2", "S3"]


def test_rule_is_configurable(shop: Session) -> None:
    # online sales to the order's store: o7 keeps S3; o2..o4, o6 name no store: unattributed
    rep = _report(shop, attribution_online="store")
    assert _money(rep.total.guide) == (0, 0.0)
    assert _money(rep.total.store) == (4, 195.0)
    assert _money(rep.unattributed) == (5, 631.0)
    # in-store sales to the bound guide too: o1 → G1, o5 → G3 (C3's guide); o8 → G4
    rep = _report(shop, attribution_in_store="bound_guide")
    flat = _flat(rep)
    assert flat["G1"] == ((0, 0.0), (3, 370.0))
    assert flat["G3"] == ((0, 0.0), (2, 330.0))
    assert flat["G4"] == ((0, 0.0), (1, 25.0))


def test_journey_attribution_last_and_first_touch(shop: Session) -> None:
    rep = _report(shop)
    rows = {(j.journey_id, j.version): (j.orders, j.revenue) for j in rep.journeys}
    # last touch: o1 (T2 of J1 at 1 Mar 12:00 after r1) → J1; o2 → r2 (J2, 3 Mar; its 3-day
    # window holds 4 Mar); o3 → T1 (J2 task, 4 Mar, 3 days); o5 → r3 (J1, 14 days from
    # 25 Feb); o4 (T1's window over), o6 (r3's over), o7, o8, o10: no journey
    assert rows == {
        ("J1", None): (2, 130.0),
        ("J1", 1): (2, 130.0),
        ("J2", None): (2, 250.0),
        ("J2", 1): (2, 250.0),
    }
    assert [j.journey_id for j in rep.journeys if j.version is None] == ["J2", "J1"]
    first = _report(shop, attribution_touch="first")
    rows = {(j.journey_id, j.version): (j.orders, j.revenue) for j in first.journeys}
    # first touch: o2 goes to r1 (J1, 1 Mar) instead
    assert rows[("J1", 1)] == (3, 330.0)
    assert rows[("J2", 1)] == (1, 50.0)


def test_the_default_window_is_the_rules(shop: Session) -> None:
    # a 5-day default: r3 (25 Feb) no longer reaches o5 (8 Mar); T2 (1 Mar 12:00) still
    # reaches o1 (2 Mar); J2 keeps its own 3 days
    rep = _report(shop, attribution_window_days=5)
    rows = {(j.journey_id, j.version): (j.orders, j.revenue) for j in rep.journeys}
    assert rows[("J1", 1)] == (1, 100.0)
    assert rows[("J2", 1)] == (2, 250.0)


def test_scopes(shop: Session) -> None:
    rep = _report(shop, actor=MANAGER_S1)
    assert rep.scope == "store"
    assert _flat(rep) == {
        "R1": ((2, 130.0), (3, 320.0)),
        "S1": ((2, 130.0), (3, 320.0)),
        "G1": ((0, 0.0), (2, 270.0)),
        "G2": ((0, 0.0), (1, 50.0)),
    }
    assert _money(rep.unattributed) == (0, 0.0)
    rep = _report(shop, actor=GUIDE_G1)
    assert rep.scope == "guide"
    assert _flat(rep) == {
        "R1": ((0, 0.0), (2, 270.0)),
        "S1": ((0, 0.0), (2, 270.0)),
        "G1": ((0, 0.0), (2, 270.0)),
    }
    # a guide's journeys: only orders credited to them are read (o2, o4): o2 → J2
    assert {(j.journey_id, j.version): j.revenue for j in rep.journeys} == {
        ("J2", None): 200.0,
        ("J2", 1): 200.0,
    }
    rep = _report(shop, actor=GUIDE_G3)
    assert _money(rep.total.guide) == (1, 300.0)
    assert _money(rep.total.store) == (0, 0.0)


def test_no_data_is_zeros(shop: Session) -> None:
    rep = attribution.report(
        session=shop, actor=HQ, settings=Settings(), first=date(2025, 1, 1), last=date(2025, 1, 31)
    )
    assert rep.regions == [] and rep.journeys == []
    assert _money(rep.total.total) == (0, 0.0)


def test_period_errors_name_the_field() -> None:
    zone = attribution.ZoneInfo("Asia/Shanghai")
    with pytest.raises(attribution.PeriodError) as err:
        attribution.period(first=date(2026, 3, 2), last=date(2026, 3, 1), zone=zone)
    assert err.value.field == "from"
    with pytest.raises(attribution.PeriodError) as err:
        attribution.period(first=date(2025, 1, 1), last=date(2026, 3, 1), zone=zone)
    assert err.value.field == "to"
    p = attribution.period(first=None, last=None, zone=zone, today=date(2026, 3, 17))
    assert (p.first, p.last) == (date(2026, 3, 1), date(2026, 3, 17))
    assert p.since.isoformat() == "2026-02-28T16:00:00+00:00"


def test_csv_has_a_bom_and_both_columns(shop: Session) -> None:
    text = attribution.to_csv(_report(shop))
    assert text.startswith("\ufeff")
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("level,region_id,region,store_id,store,guide_id,guide,store_orders")
    assert "store,R1,华东,S1,南京西路店,,,2,130.00,3,320.00,5,450.00" in lines
    assert "guide,R1,华东,S1,南京西路店,G1,导购G1,0,0.00,2,270.00,2,270.00" in lines
    assert "J2,沉睡唤醒,1,,,2,250.00" in lines


def test_guide_month_on_the_workbench(shop: Session) -> None:
    res = attribution.guide_results(
        session=shop, actor=GUIDE_G1, settings=Settings(), today=chain.TODAY
    )
    assert [g.guide_id for g in res.guides] == ["G1"]
    g1 = res.guides[0]
    # online credit o2 + o4; T2 (J1, 14 days from 1 Mar 12:00) is followed by o1 and o2;
    # T3 (22 Mar, C5) by nothing. Attributed: o2, o4 and o1, each once.
    assert _money(g1.online) == (2, 270.0)
    assert (g1.tasks_completed, g1.tasks_converted) == (2, 1)
    assert _money(g1.from_tasks) == (2, 300.0)
    assert _money(g1.attributed) == (3, 370.0)
    assert {(t.task.id, t.converted, t.orders, t.revenue) for t in res.tasks} == {
        ("T2", True, 2, 300.0),
        ("T3", False, 0, 0.0),
    }
    store = attribution.guide_results(
        session=shop, actor=MANAGER_S1, settings=Settings(), today=chain.TODAY
    )
    assert {g.guide_id: _money(g.attributed) for g in store.guides} == {
        "G1": (3, 370.0),
        "G2": (1, 50.0),  # o3, credited by the rule and following T1: once
    }
    assert {t.task.id for t in store.tasks} == {"T1", "T2", "T3"}
    assert _money(store.total.attributed) == (4, 420.0)
    chain_wide = attribution.guide_results(
        session=shop, actor=HQ, settings=Settings(), today=chain.TODAY
    )
    assert [g.guide_id for g in chain_wide.guides] == ["G1", "G3", "G2", "G4"]
    guide3 = attribution.guide_results(
        session=shop, actor=GUIDE_G3, settings=Settings(), today=chain.TODAY
    )
    assert [g.guide_id for g in guide3.guides] == ["G3"] and guide3.tasks == []


def test_variants_of_the_winning_runs(shop: Session) -> None:
    for run_id, journey_id, variant in ((2, "J2", "a"), (3, "J1", "holdout")):
        shop.add(
            JourneyRunVariant(
                run_id=run_id,
                journey_id=journey_id,
                journey_version=1,
                node_id="split1",
                variant=variant,
            )
        )
    shop.commit()
    rep = _report(shop)
    assert rep.variants_recorded
    by_version = {(j.journey_id, j.version): j.variants for j in rep.journeys}
    # o2 was won by r2 (side a); o3 by T1, a task: no side; o5 by r3 (holdout); o1 by T2
    assert by_version[("J2", 1)] == [("split1", "a", 1, 200.0)]
    assert by_version[("J1", 1)] == [("split1", "holdout", 1, 30.0)]

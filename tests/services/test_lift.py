"""Variant and holdout lift (issue 14, item 5): hand-computed numbers, the minimum sample,
and the report read from runs, their recorded sides and orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session

from db import crud
from db.crud import RunReport
from db.models import Customer, CustomerEvent, JourneyCreate, Order
from services import goals, lift, periods
from services.lift import VariantStats
from tests.results.fixtures import count_results

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # midnight: periods are whole days (in UTC here)


def _stats(variant: str, entered: int, conversions: int, holdout: bool = False) -> VariantStats:
    return VariantStats(variant, variant, holdout, entered, conversions, 0.0)


def test_lift_against_the_holdout_by_hand() -> None:
    # A: 30 of 200 converted (15 %); holdout: 8 of 100 (8 %).
    # diff = 0.07; Wald se = sqrt(.15*.85/200 + .08*.92/100) = sqrt(0.0013735) = 0.0370608
    # 95 % CI = 0.07 ± 1.959964 * 0.0370608 = (-0.0026378, 0.1426378) — it spans 0
    # z = 0.07 / 0.0370608 = 1.88879; p = 2 * (1 - Phi(1.88879)) = 0.058920
    # ratio = 1.875 → relative lift 0.875; log CI: se = sqrt(1/30 - 1/200 + 1/8 - 1/100)
    # = 0.378594, exp(ln 1.875 ± 1.959964 * 0.378594) = (0.892774, 3.937866) → -1
    result = lift.split_result(
        "s", "Split", [_stats("a", 200, 30), _stats("hold", 100, 8, holdout=True)]
    )
    assert result.baseline == "hold"
    (one,) = result.lifts
    assert (one.variant, one.baseline, one.status) == ("a", "hold", "ok")
    assert one.lift == pytest.approx(0.07)
    assert one.ci_low == pytest.approx(-0.0026378, abs=1e-6)
    assert one.ci_high == pytest.approx(0.1426378, abs=1e-6)
    assert one.p_value == pytest.approx(0.058920, abs=1e-5)
    assert not one.significant
    assert one.relative_lift == pytest.approx(0.875)
    assert one.relative_ci_low == pytest.approx(0.892774 - 1, abs=1e-5)
    assert one.relative_ci_high == pytest.approx(3.937866 - 1, abs=1e-5)


def test_without_a_holdout_the_first_variant_is_the_baseline() -> None:
    # B: 60 of 300 (20 %) vs A: 30 of 300 (10 %): diff 0.10,
    # se = sqrt(.2*.8/300 + .1*.9/300) = sqrt(0.00083333) = 0.0288675
    # CI = 0.1 ± 1.959964 * 0.0288675 = 0.1 ± 0.0565793 = (0.0434207, 0.1565793);
    # z = 3.46410; p = 0.000532
    result = lift.split_result("s", "Split", [_stats("a", 300, 30), _stats("b", 300, 60)])
    assert result.baseline == "a"
    (one,) = result.lifts
    assert one.variant == "b"
    assert (one.ci_low, one.ci_high) == (
        pytest.approx(0.0434207, abs=1e-6),
        pytest.approx(0.1565793, abs=1e-6),
    )
    assert one.p_value == pytest.approx(0.000532, abs=2e-6)
    assert one.significant


def test_below_the_minimum_sample_there_is_no_number() -> None:
    n = lift.MIN_CUSTOMERS_PER_ARM
    few = lift.split_result("s", "S", [_stats("a", n, 30), _stats("h", n - 1, 5, True)])
    assert few.lifts[0].status == "not_enough_data"
    assert few.lifts[0].lift is None and few.lifts[0].p_value is None
    enough = lift.split_result("s", "S", [_stats("a", n, 30), _stats("h", n, 5, True)])
    assert enough.lifts[0].status == "ok"


def test_no_conversions_anywhere_is_no_interval_not_an_error() -> None:
    result = lift.split_result("s", "S", [_stats("a", 200, 0), _stats("h", 200, 0, True)])
    one = result.lifts[0]
    assert one.status == "ok" and one.lift == 0
    assert one.p_value is None and one.relative_lift is None


SPLIT_DOC = {
    "name": "A/B",
    "nodes": [
        {"id": "entry", "kind": "entry"},
        {
            "id": "s",
            "kind": "split",
            "label": "Coupon test",
            "config": {
                "variants": [
                    {"id": "a", "label": "Coupon", "weight": 90},
                    {"id": "hold", "label": "Holdout", "weight": 10, "holdout": True},
                ]
            },
        },
    ],
    "settings": {},  # no goal: orders convert
}


def test_report_from_runs_their_sides_and_orders(session: Session) -> None:
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name="A/B", draft_document=SPLIT_DOC),
        by="hq",
    )
    jid = journey.id
    crud.publish_version(
        session=session, journey_id=jid, document=SPLIT_DOC, compiled={}, content_hash="h", by="hq"
    )
    for i in range(6):
        session.add(Customer(id=f"C{i}", name=f"c{i}"))
    session.commit()
    # C0..C3 in "a", C4..C5 in the holdout; C0 enters twice (counts once, first entry)
    entries = [("C0", "a", 0), ("C1", "a", 0), ("C2", "a", 1), ("C3", "a", 1)]
    entries += [("C4", "hold", 0), ("C5", "hold", 2), ("C0", "a", 3)]
    for n, (cid, side, day) in enumerate(entries):
        at = T0 + timedelta(days=day)
        crud.upsert_runs(
            session=session,
            reports=[
                RunReport(f"journey-{jid}-{cid}", jid, 1, cid, "running", "s", at=at),
                RunReport(
                    f"journey-{jid}-{cid}",
                    jid,
                    1,
                    cid,
                    "exited",
                    "x",
                    exit_reason="exit",
                    at=at + timedelta(minutes=1 + n),
                    variants=(("s", side),),
                ),
            ],
        )
    # orders: C0 199 on day 2 (in window), C1 99 on day 20 (after 14 days: not counted),
    # C2 300 + 100 within the window, C4 (holdout) 50 on day 1; C5 one before entering
    for cid, day, amount in [
        ("C0", 2, 199.0),
        ("C1", 20, 99.0),
        ("C2", 3, 300.0),
        ("C2", 4, 100.0),
        ("C4", 1, 50.0),
        ("C5", 1, 80.0),
    ]:
        session.add(Order(customer_id=cid, amount=amount, created_at=T0 + timedelta(days=day)))
    session.commit()

    count_results(session, "UTC")
    report = lift.variant_report(
        session=session,
        journey_id=jid,
        version=1,
        start=T0,
        end=T0 + timedelta(days=10),
        min_customers=2,
    )
    assert report.window == periods.DEFAULT_WINDOW
    (split,) = report.splits
    assert (split.node_id, split.label, split.baseline) == ("s", "Coupon test", "hold")
    a, hold = split.variants
    assert (a.variant, a.label, a.entered, a.conversions, a.revenue) == ("a", "Coupon", 4, 2, 599.0)
    assert a.conversion_rate == 0.5 and a.revenue_per_customer == pytest.approx(149.75)
    assert (hold.entered, hold.conversions, hold.revenue, hold.holdout) == (2, 1, 50.0, True)
    assert split.lifts[0].lift == pytest.approx(0.0)
    # every entry per day; C0's second entry (day 3) converts nothing new in its window
    assert [(d.day.day, d.entries, d.conversions) for d in report.days] == [
        (2, 3, 2),
        (3, 2, 1),
        (4, 1, 0),
        (5, 1, 0),
    ]
    # the same customers, the default minimum: not enough data yet
    again = lift.variant_report(
        session=session, journey_id=jid, version=None, start=T0, end=T0 + timedelta(days=10)
    )
    assert again.splits[0].lifts[0].status == "not_enough_data"
    # a period with nobody in it: zeros, no error
    empty = lift.variant_report(
        session=session, journey_id=jid, version=1, start=T0 - timedelta(days=30), end=T0
    )
    assert [(v.variant, v.entered) for v in empty.splits[0].variants] == [("a", 0), ("hold", 0)]
    assert empty.days == ()


def test_goal_window_from_the_document() -> None:
    doc = {
        "settings": {"goal": {"event_type": "purchase", "window": {"amount": 7, "unit": "days"}}}
    }
    goal = goals.goal_of(doc)
    assert goal is not None and goal.window == timedelta(days=7)
    assert goals.goal_of({"settings": {"goal": None}}) is None
    assert goals.ANY_ORDER.window == periods.DEFAULT_WINDOW


def test_a_goal_converts_by_its_events_and_value(session: Session) -> None:
    goal = {
        "event_type": "coupon_redeemed",
        "filters": [{"field": "channel", "op": "eq", "value": "store"}],
        "window": {"amount": 3, "unit": "days"},
        "value_property": "order.amount",
    }
    doc = {**SPLIT_DOC, "settings": {"goal": goal}}
    journey = crud.create_journey(
        session=session, journey_create=JourneyCreate(name="goal", draft_document=doc), by="hq"
    )
    crud.publish_version(
        session=session, journey_id=journey.id, document=doc, compiled={}, content_hash="g", by="hq"
    )
    for cid, side in (("G1", "a"), ("G2", "a"), ("G3", "hold")):
        session.add(Customer(id=cid, name=cid))
        session.flush()
        crud.upsert_runs(
            session=session,
            reports=[
                RunReport(f"wf-{cid}", journey.id, 1, cid, "running", "s", at=T0),
                RunReport(
                    f"wf-{cid}", journey.id, 1, cid, "exited", "x", at=T0, variants=(("s", side),)
                ),
            ],
        )
    # G1: a store redemption on day 1 (counts, 120); G2: online (filtered out) and a store
    # one on day 4 (after the 3-day window); G3: a store redemption on day 2 (counts, no value)
    redemptions: list[tuple[str, int, dict[str, Any]]] = [
        ("G1", 1, {"channel": "store", "order": {"amount": 120}}),
        ("G2", 1, {"channel": "online", "order": {"amount": 99}}),
        ("G2", 4, {"channel": "store", "order": {"amount": 50}}),
        ("G3", 2, {"channel": "store"}),
    ]
    for n, (cid, day, props) in enumerate(redemptions):
        session.add(
            CustomerEvent(
                event_id=f"ev-{n}",
                customer_id=cid,
                type="coupon_redeemed",
                properties=props,
                occurred_at=T0 + timedelta(days=day),
            )
        )
    session.add(Order(customer_id="G2", amount=500.0, created_at=T0 + timedelta(hours=1)))
    session.commit()
    count_results(session, "UTC")
    report = lift.variant_report(
        session=session,
        journey_id=journey.id,
        version=1,
        start=T0,
        end=T0 + timedelta(days=1),
        min_customers=1,
    )
    assert report.window == timedelta(days=3)
    a, hold = report.splits[0].variants
    assert (a.entered, a.conversions, a.revenue) == (2, 1, 120.0)  # G2's order is no goal
    assert (hold.entered, hold.conversions, hold.revenue) == (1, 1, 0.0)
    assert report.goal_event_type == "coupon_redeemed"

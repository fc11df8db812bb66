"""Each customer's purchase cycle and lifecycle stage: the documented thresholds, the full
rebuild on the hand-computed RFM fixture, a purchase that moves a stage (announced as a
``lifecycle_stage_changed`` event), and declines swept in as time passes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, update
from sqlmodel import Session, col

from audiences import metrics
from audiences.lifecycle import Stage, decline_after_days, stage_of
from audiences.query import matches
from audiences.validate import SegmentValidationError, parse_definition
from db import crud
from db.crud.points import award_points
from db.models import Customer, CustomerMetrics
from db.models.deliveries import EventDelivery
from engine.metrics import interval_median_days
from services.events import EventIn, store_events
from services.lifecycle import announce
from tests.db.test_rfm import NOW, ORDERS, scored  # noqa: F401  (fixture)

T = datetime(2026, 1, 1, tzinfo=UTC)


def days(*ago: int) -> list[datetime]:
    return [T - timedelta(days=d) for d in ago]


def test_cycle_is_the_median_of_the_gaps_between_purchases() -> None:
    assert interval_median_days(days(0)) is None
    assert interval_median_days([]) is None
    assert interval_median_days(days(0, 40, 90, 135)) == 45.0  # gaps 40 50 45 → 45
    assert interval_median_days(days(90, 0)) == 90.0  # order given does not matter


@pytest.mark.parametrize(
    ("purchases", "first", "last", "cycle", "stage"),
    [
        (0, None, None, None, Stage.IDENTIFY),
        (1, 10, 10, None, Stage.IDENTIFY),
        (1, 91, 91, None, Stage.DECLINE),  # one purchase, 90 days without another
        (2, 60, 30, 30.0, Stage.DEVELOP),
        (3, 300, 100, 100.0, Stage.DEVELOP),  # 100 ≤ 2 × 100: not yet in decline
        (3, 300, 201, 100.0, Stage.DECLINE),  # past twice their own cycle
        (2, 40, 91, 20.0, Stage.DECLINE),  # short cycle: 90 days still count
        (4, 200, 10, 60.0, Stage.STABLE),
        (4, 170, 10, 50.0, Stage.DEVELOP),  # four purchases, but over 160 days only
        (6, 400, 130, 60.0, Stage.STABLE),  # 130 ≤ 120? no: 130 > 120 → decline below
    ][:-1]
    + [(6, 400, 121, 60.0, Stage.DECLINE), (6, 400, 119, 60.0, Stage.STABLE)],
)
def test_stage_thresholds(
    purchases: int, first: int | None, last: int | None, cycle: float | None, stage: Stage
) -> None:
    got = stage_of(
        purchases=purchases,
        first_at=None if first is None else T - timedelta(days=first),
        last_at=None if last is None else T - timedelta(days=last),
        cycle_days=cycle,
        now=T,
    )
    assert got is stage
    assert decline_after_days(None) == 90 and decline_after_days(60.0) == 120


#: By hand from tests/db/test_rfm.py ORDERS (days ago) and the thresholds above.
EXPECTED = {
    "A": (17.5, "develop"),  # 5 20 40: gaps 15 20; 3 purchases
    "B": (None, "identify"),  # one purchase 10 days ago
    "C": (50.0, "decline"),  # 200 days idle > 2 × 50
    "D": (None, "decline"),  # one purchase 150 days ago
    "E": (None, "decline"),
    "F": (None, "identify"),  # never bought
    "G": (30.0, "develop"),
    "H": (20.0, "decline"),  # 100 days idle > 90
    "I": (None, "identify"),
    "J": (5.0, "develop"),
}


def test_full_rebuild_sets_every_cycle_and_stage_without_announcing_first_stages(
    scored: Session,  # noqa: F811
) -> None:
    assert set(EXPECTED) == set(ORDERS)
    summary = metrics.recompute(session=scored, now=NOW)
    assert summary.stage_changes == ()  # first stages are not changes
    scored.expire_all()
    for cid, (cycle, stage) in EXPECTED.items():
        row = scored.get(CustomerMetrics, cid)
        assert row is not None
        assert (row.purchase_interval_median_days, row.lifecycle_stage) == (cycle, stage), cid
    # a second rebuild a year later: everyone who bought is now in decline
    later = metrics.recompute(session=scored, now=NOW + timedelta(days=365))
    moved = {(c.customer_id, c.old, c.new) for c in later.stage_changes}
    assert moved == {
        ("A", "develop", "decline"),
        ("B", "identify", "decline"),
        ("G", "develop", "decline"),
        ("I", "identify", "decline"),
        ("J", "develop", "decline"),
    }


def test_a_second_purchase_moves_identify_to_develop(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    change = metrics.on_event(
        session=scored,
        customer_id="B",
        event_type="purchase",
        occurred_at=NOW,
        properties={"amount": 120},
        now=NOW,
    )
    assert change is not None and (change.customer_id, change.old, change.new) == (
        "B",
        "identify",
        "develop",
    )
    scored.expire_all()
    row = scored.get(CustomerMetrics, "B")
    assert row is not None and row.purchase_interval_median_days == 10.0
    assert row.lifecycle_changed_at is not None
    # the same stage again is no change
    assert (
        metrics.on_event(
            session=scored,
            customer_id="B",
            event_type="purchase",
            occurred_at=NOW,
            properties={"amount": 50},
            now=NOW,
        )
        is None
    )


def test_sweep_moves_customers_whose_time_ran_out(scored: Session) -> None:  # noqa: F811
    # the fixture inserts orders directly; crud.create_order keeps these two up to date
    for cid, orders in ORDERS.items():
        if orders:
            scored.execute(
                update(Customer)
                .where(col(Customer.id) == cid)
                .values(
                    first_purchase_at=NOW - timedelta(days=max(d for d, _ in orders)),
                    last_purchase_at=NOW - timedelta(days=min(d for d, _ in orders)),
                )
            )
    scored.commit()
    metrics.recompute(session=scored, now=NOW)
    changes = metrics.sweep_declines(session=scored, now=NOW + timedelta(days=86))
    # A: last purchase 5 days before NOW → 91 days idle; B: 10 → 96; G: 30 → 116;
    # J: 3 → 89 and I: 1 → 87 (not yet); C D E H were in decline already
    assert {(c.customer_id, c.old, c.new) for c in changes} == {
        ("A", "develop", "decline"),
        ("B", "identify", "decline"),
        ("G", "develop", "decline"),
    }
    assert metrics.sweep_declines(session=scored, now=NOW + timedelta(days=86)) == []


def _purchase_of_b(event_id: str, amount: int) -> EventIn:
    """A purchase by B, posted now (after the fixture's NOW)."""
    return EventIn(
        event_id=event_id,
        customer_id="B",
        type="purchase",
        properties={"amount": amount},
        occurred_at=datetime.now(UTC),
    )


def _in(session: Session, rule: dict[str, object], now: datetime = NOW) -> set[str]:
    definition = parse_definition({"match": "all", "rules": [{"type": "field", **rule}]})
    return matches(session, definition, sorted(ORDERS), now=now)


def test_segments_filter_on_cycle_stage_and_points(scored: Session) -> None:  # noqa: F811
    metrics.recompute(session=scored, now=NOW)
    assert _in(scored, {"field": "lifecycle_stage", "op": "eq", "value": "develop"}) == {
        "A",
        "G",
        "J",
    }
    assert _in(
        scored, {"field": "purchase_interval_median_days", "op": "between", "value": [15, 40]}
    ) == {"A", "G", "H"}
    award_points(session=scored, customer_id="A", points=500, idempotency_key="p1", created_at=NOW)
    award_points(
        session=scored,
        customer_id="B",
        points=800,
        idempotency_key="p2",
        created_at=NOW,
        expires_at=NOW + timedelta(days=10),
    )
    rule = {"field": "points_balance", "op": "gte", "value": 300}
    assert _in(scored, rule) == {"A", "B"}
    assert _in(scored, rule, now=NOW + timedelta(days=10)) == {"A"}  # B's points lapsed
    assert _in(scored, {"field": "points_balance", "op": "eq", "value": 0}) >= {"C", "F"}


def test_unknown_stage_is_a_clear_validation_error() -> None:
    with pytest.raises(SegmentValidationError, match="lifecycle_stage"):
        parse_definition(
            {
                "match": "all",
                "rules": [
                    {"type": "field", "field": "lifecycle_stage", "op": "eq", "value": "asleep"}
                ],
            }
        )


def test_a_stage_change_is_stored_as_an_event_with_its_pending_delivery(
    scored: Session,  # noqa: F811
) -> None:
    metrics.recompute(session=scored, now=NOW)
    purchase = _purchase_of_b("pos-1", 99)
    result, mine = store_events(session=scored, events=[purchase])
    assert result.accepted == 1
    derived = [m for m in mine if m != "pos-1"]
    assert len(derived) == 1 and derived[0].startswith("lifecycle:B:develop:")
    event = crud.get_event(session=scored, event_id=derived[0])
    assert event is not None and event.type == "lifecycle_stage_changed"
    assert event.properties == {"from": "identify", "to": "develop"}
    assert scored.get(EventDelivery, derived[0]) is not None  # delivered like any event
    # announcing the same change again stores nothing new
    assert announce(session=scored, changes=[]) == []


def test_an_event_its_metrics_and_its_stage_change_commit_together(
    scored: Session,  # noqa: F811
) -> None:
    metrics.recompute(session=scored, now=NOW)
    scored.commit()
    commits: list[object] = []
    engine = scored.get_bind()

    def listen(conn: object) -> None:
        commits.append(conn)

    event.listen(engine, "commit", listen)
    try:
        purchase = _purchase_of_b("pos-2", 99)
        result, mine = store_events(session=scored, events=[purchase])
    finally:
        event.remove(engine, "commit", listen)
    assert result.accepted == 1 and len(mine) == 2  # the purchase and its stage change
    assert len(commits) == 1  # one write transaction: the write lock taken once
    assert scored.get(CustomerMetrics, "B").purchases_count == 2  # type: ignore[union-attr]


def test_metrics_that_fail_leave_the_event_stored_and_pending(
    scored: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    metrics.recompute(session=scored, now=NOW)
    before = scored.get(CustomerMetrics, "B").purchases_count  # type: ignore[union-attr]

    def broken(**_kw: object) -> None:
        raise RuntimeError("metrics broke")

    monkeypatch.setattr(metrics, "refresh_purchases", broken)
    purchase = _purchase_of_b("pos-3", 99)
    result, mine = store_events(session=scored, events=[purchase])
    assert result.accepted == 1 and mine == ["pos-3"]
    assert crud.get_event(session=scored, event_id="pos-3") is not None
    assert scored.get(EventDelivery, "pos-3") is not None
    # the failed update undid itself only: the order stays (the source of truth the next
    # full recompute reads), the metrics are as they were
    assert scored.get(CustomerMetrics, "B").purchases_count == before  # type: ignore[union-attr]
    assert len(crud.list_orders(session=scored, customer_id="B")) == before + 1


def test_a_purchase_whose_metrics_fail_moves_neither_its_scores_nor_its_metrics(
    scored: Session,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A purchase's RFM scores and stored metrics are one unit of work (they are computed
    from one read of the orders): a failure while computing the metrics leaves the
    customer's scores as they were too, not half moved."""
    metrics.recompute(session=scored, now=NOW)
    b = scored.get(Customer, "B")
    assert b is not None
    scores = (b.rfm_class, b.r_days, b.f_count, b.m_amount, b.l_days)
    count = scored.get(CustomerMetrics, "B").purchases_count  # type: ignore[union-attr]

    def broken(_orders: object) -> None:
        raise RuntimeError("metrics broke")

    monkeypatch.setattr(metrics, "stored_values", broken)
    # a year after NOW: R, F and M would all move
    purchase = _purchase_of_b("pos-4", 900)
    result, _ = store_events(session=scored, events=[purchase])
    assert result.accepted == 1
    scored.expire_all()
    b = scored.get(Customer, "B")
    assert b is not None
    assert (b.rfm_class, b.r_days, b.f_count, b.m_amount, b.l_days) == scores
    assert scored.get(CustomerMetrics, "B").purchases_count == count  # type: ignore[union-attr]
    assert len(crud.list_orders(session=scored, customer_id="B")) == len(ORDERS["B"]) + 1

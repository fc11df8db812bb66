"""A two-store shop with accounts for every role, and a helper that makes tasks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db.models import Customer, Guide, GuideTask, Journey, Region, Store
from services.accounts import Principal, create_user, principal_of

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
TODAY = date(2026, 3, 2)


@pytest.fixture
def shop(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """S1 (R1): manager GM, guides G1 and G2 (capacity 2 each). S2 (R2): manager HM, guide H1.
    Customers: C1→G1, C2→G2, C3→H1 (S2), C4 in S1 without a guide. Journeys J1, J2."""
    with sessions() as s:
        s.add(Region(id="R1", name="华东"))
        s.add(Region(id="R2", name="华南"))
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海", manager_guide_id="GM"))
        s.add(Store(id="S2", region_id="R2", name="天河店", city="广州", manager_guide_id="HM"))
        s.commit()
        for gid, store, role, cap in (
            ("GM", "S1", "store_manager", 20),
            ("G1", "S1", "guide", 2),
            ("G2", "S1", "guide", 2),
            ("HM", "S2", "store_manager", 20),
            ("H1", "S2", "guide", 30),
        ):
            s.add(Guide(id=gid, store_id=store, name=f"导购{gid}", role=role, daily_capacity=cap))
        s.commit()
        for cid, store, guide in (
            ("C1", "S1", "G1"),
            ("C2", "S1", "G2"),
            ("C3", "S2", "H1"),
            ("C4", "S1", None),
        ):
            s.add(
                Customer(
                    id=cid,
                    name=f"顾客{cid}",
                    phone="13800001234",
                    store_id=store,
                    guide_id=guide,
                    tags=["新客"],
                )
            )
        s.add(Journey(id="J1", name="新客二回", draft_document={}))
        s.add(Journey(id="J2", name="沉睡唤醒", draft_document={}))
        s.commit()
    return sessions


@pytest.fixture
def people(shop: sessionmaker[Session]) -> dict[str, Principal]:
    """Accounts: hq, admin, manager (S1), manager2 (S2), g1, g2, h1."""
    out = {}
    with shop() as s:
        for username, role, guide in (
            ("hq", "hq", None),
            ("admin", "admin", None),
            ("manager", "store_manager", "GM"),
            ("manager2", "store_manager", "HM"),
            ("g1", "guide", "G1"),
            ("g2", "guide", "G2"),
            ("h1", "guide", "H1"),
        ):
            account = create_user(
                session=s, username=username, password="pw-" + username, role=role, guide_id=guide
            )
            out[username] = principal_of(account)
    return out


def make_task(
    s: Session,
    *,
    customer_id: str,
    guide_id: str,
    store_id: str,
    journey_id: str | None = "J1",
    status: str = "open",
    created_at: datetime = NOW,
    due_in: timedelta = timedelta(days=1),
    outcomes: list[str] | None = None,
    **fields: Any,
) -> GuideTask:
    """Insert one task (no workflow behind it)."""
    task = GuideTask(
        id=uuid.uuid4().hex,
        idempotency_key=f"test/{uuid.uuid4()}",
        customer_id=customer_id,
        guide_id=guide_id,
        store_id=store_id,
        journey_id=journey_id,
        task_type="call",
        title=f"回访 {customer_id}",
        instructions="您好，您的20元券三天后到期",
        status=status,
        outcomes=outcomes if outcomes is not None else ["interested", "declined"],
        due_at=created_at + due_in,
        created_at=created_at,
        scheduled_for=created_at.date(),
        **fields,
    )
    s.add(task)
    s.commit()
    s.refresh(task)
    return task


@pytest.fixture
def tasks_of(shop: sessionmaker[Session]) -> Iterator[Any]:
    """``tasks_of(**make_task kwargs)`` in a fresh session."""

    def make(**kwargs: Any) -> GuideTask:
        with shop() as s:
            return make_task(s, **kwargs)

    yield make

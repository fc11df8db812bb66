"""An action that carries its own contact check (release journey-contact-in-effect): the
activity decides the check first, in the contact ledger; a held-back action does nothing
and answers ``denied``; an allowed one acts and counts once, whatever the retries."""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db.crud import contact_policy as policy_crud
from db.models import GuideTask, OutboxMessage
from db.models.contact_policy import ContactLedgerEntry
from db.models.coupons import IssuedCoupon
from engine.contact_policy import PolicyCheckRequest
from engine.effects import CreateTaskRequest, IssueCouponRequest, SendMessageRequest
from tests.activities.conftest import ctx


def _one_a_week(shop: sessionmaker[Session]) -> None:
    with shop() as s:
        policy_crud.save_policy(
            session=s,
            quiet_start=None,
            quiet_end=None,
            caps=[{"id": "any1", "channel": "any", "max_contacts": 1, "window_days": 7}],
            by="hq",
        )


def _rows(shop: sessionmaker[Session], model: type) -> list:  # type: ignore[type-arg]
    with shop() as s:
        return list(s.exec(select(model)))


async def test_an_allowed_message_is_checked_sent_and_counted_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    _one_a_week(shop)
    c = ctx("C1")
    request = SendMessageRequest(
        ctx=c, channel="sms", content="hi", policy=PolicyCheckRequest(c, "sms")
    )
    env = ActivityEnvironment()
    sent = await env.run(acts.send_message, request)
    again = await env.run(acts.send_message, request)  # a retry after a lost answer
    assert sent.denied is None and sent.status == "recorded"
    assert again.message_id == sent.message_id
    assert [r.outcome for r in _rows(shop, ContactLedgerEntry)] == ["sent"]
    assert len(_rows(shop, OutboxMessage)) == 1


async def test_held_back_actions_do_nothing_and_say_why(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    """The week's one contact is used by a message: a coupon, another message and a task
    for the same customer are held back by the cap — no coupon, no outbox row, no task —
    and each answers the cap and when it frees; the ledger records the capped decisions."""
    _one_a_week(shop)
    env = ActivityEnvironment()
    first = ctx("C1", node_id="m1")
    await env.run(
        acts.send_message,
        SendMessageRequest(
            ctx=first, channel="sms", content="hi", policy=PolicyCheckRequest(first, "sms")
        ),
    )
    c, m, t = ctx("C1", node_id="c"), ctx("C1", node_id="m2"), ctx("C1", node_id="t")
    coupon = await env.run(
        acts.issue_coupon,
        IssueCouponRequest(c, "NEW20", policy=PolicyCheckRequest(c, "coupon")),
    )
    message = await env.run(
        acts.send_message,
        SendMessageRequest(
            ctx=m, channel="sms", content="again", policy=PolicyCheckRequest(m, "sms")
        ),
    )
    task = await env.run(
        acts.create_task,
        CreateTaskRequest(
            ctx=t,
            task_type="call",
            title="回访",
            instructions="",
            assignee="bound_guide",
            due_at="2026-03-02T10:00:00+00:00",
            policy=PolicyCheckRequest(t, "guide_task"),
        ),
    )
    for result in (coupon, message, task):
        assert result.denied is not None
        assert (result.denied.outcome, result.denied.rule) == ("capped", "any1")
        assert result.denied.until  # when the cap frees
    assert (coupon.coupon_id, message.message_id, task.task_id) == ("", "", "")
    assert _rows(shop, IssuedCoupon) == [] and _rows(shop, GuideTask) == []
    assert len(_rows(shop, OutboxMessage)) == 1
    outcomes = sorted((r.node_id, r.outcome) for r in _rows(shop, ContactLedgerEntry))
    assert outcomes == [("c", "capped"), ("m1", "sent"), ("m2", "capped"), ("t", "capped")]


async def test_a_request_without_a_check_acts_as_before(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    """Runs of earlier releases send no check on the request: nothing is decided or
    recorded in the ledger by the action (their own local activity did that)."""
    _one_a_week(shop)
    issued = await ActivityEnvironment().run(
        acts.issue_coupon, IssueCouponRequest(ctx("C1"), "NEW20")
    )
    assert issued.denied is None and issued.code
    assert _rows(shop, ContactLedgerEntry) == []


async def test_two_messages_at_once_never_both_pass_a_cap_of_one(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    """Two journeys message one customer at the same instant, each check decided inside
    its own outbox transaction: exactly one goes out, the other is capped (both
    databases: SQLite's write lock, PostgreSQL's per-customer advisory lock)."""
    import asyncio

    _one_a_week(shop)
    env = ActivityEnvironment()
    requests = []
    for journey in ("a", "b", "c", "d"):
        c = ctx("C1", node_id=f"m-{journey}")
        requests.append(
            SendMessageRequest(
                ctx=c, channel="sms", content="hi", policy=PolicyCheckRequest(c, "sms")
            )
        )
    results = await asyncio.gather(*(env.run(acts.send_message, r) for r in requests))
    assert sorted(r.denied is None for r in results) == [False, False, False, True]
    assert len(_rows(shop, OutboxMessage)) == 1
    outcomes = sorted(r.outcome for r in _rows(shop, ContactLedgerEntry))
    assert outcomes == ["capped", "capped", "capped", "sent"]

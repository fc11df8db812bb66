"""send_message: opt-outs, the sandbox, the outbox and the signed webhook."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities, TransientDeliveryError
from db.models import OutboxMessage
from engine.effects import (
    CUSTOMER_OPTED_OUT,
    MESSAGE_REJECTED,
    TEMPLATE_RENDER_FAILED,
    SendMessageRequest,
)
from tests.activities.conftest import Receiver, ctx


def _outbox(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.exec(select(OutboxMessage)))


async def test_outbox_message_is_rendered_and_recorded_once(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    request = SendMessageRequest(
        ctx=ctx("C1"),
        channel="sms",
        content="{{ customer.name }}您好，{{ customer.store_name }}的{{ customer.guide_name }}"
        "为您准备了{{ ctx.coupon }}。{{ customer.nickname }}",
        context={"coupon": "20元券"},
    )
    env = ActivityEnvironment()
    sent = await env.run(acts.send_message, request)
    again = await env.run(acts.send_message, request)
    assert sent.rendered == "李C1您好，上海南京西路店的王芳为您准备了20元券。"
    assert (sent.status, again.message_id) == ("recorded", sent.message_id)
    rows = _outbox(shop)
    assert [(r.id, r.status, r.journey_id, r.node_id) for r in rows] == [
        (sent.message_id, "recorded", "j1", "n1")
    ]


async def test_opted_out_channel_is_a_permanent_failure(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    request = SendMessageRequest(ctx=ctx("C4"), channel="sms", content="hi")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request)
    assert (raised.value.type, raised.value.non_retryable) == (CUSTOMER_OPTED_OUT, True)
    assert _outbox(shop) == []
    # Other channels still reach them.
    wecom = SendMessageRequest(ctx=ctx("C4", node_id="n2"), channel="wecom", content="hi")
    assert (await ActivityEnvironment().run(acts.send_message, wecom)).status == "recorded"


@pytest.mark.parametrize(
    "content",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__ }}",
        "{{ customer.tags.append('x') }}",
        "{{ customer.name",
    ],
)
async def test_template_escapes_and_errors_fail_the_render(
    acts: JourneyActivities, shop: sessionmaker[Session], content: str
) -> None:
    request = SendMessageRequest(ctx=ctx("C1"), channel="sms", content=content)
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request)
    assert (raised.value.type, raised.value.non_retryable) == (TEMPLATE_RENDER_FAILED, True)
    assert _outbox(shop) == []


async def test_webhook_5xx_is_retried_then_sent_once(
    acts: JourneyActivities, shop: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.statuses = [500, 200]
    request = SendMessageRequest(
        ctx=ctx("C1"),
        channel="webhook",
        subject="回访 {{ customer.name }}",
        content="券快过期了",
        webhook_url=receiver.url,
    )
    env = ActivityEnvironment()
    with pytest.raises(TransientDeliveryError):  # an ordinary exception: Temporal retries it
        await env.run(acts.send_message, request)
    sent = await env.run(acts.send_message, request)
    assert sent.status == "sent"
    assert (await env.run(acts.send_message, request)).message_id == sent.message_id

    assert receiver.bad_signatures == 0
    assert len(receiver.received) == 2  # the failed attempt and its retry, nothing after
    first, retry = receiver.received
    assert first == retry  # same message id, same body, same key: the receiver can dedupe
    assert retry["key"] == request.ctx.idempotency_key
    assert retry["json"] == {
        "message_id": sent.message_id,
        "customer_id": "C1",
        "channel": "webhook",
        "subject": "回访 李C1",
        "body": "券快过期了",
        "journey_id": "j1",
        "node_id": "n1",
    }
    rows = _outbox(shop)
    assert [(r.status, r.sent_at is not None) for r in rows] == [("sent", True)]


async def test_webhook_4xx_is_rejected_for_good(
    acts: JourneyActivities, shop: sessionmaker[Session], receiver: Receiver
) -> None:
    receiver.statuses = [422]
    request = SendMessageRequest(
        ctx=ctx("C1"), channel="webhook", content="x", webhook_url=receiver.url
    )
    for _ in range(2):  # a re-run with the same key gives the same answer, without re-posting
        with pytest.raises(ApplicationError) as raised:
            await ActivityEnvironment().run(acts.send_message, request)
        assert (raised.value.type, raised.value.non_retryable) == (MESSAGE_REJECTED, True)
    assert len(receiver.received) == 1
    assert [r.status for r in _outbox(shop)] == ["failed"]


async def test_webhook_unreachable_is_retryable(acts: JourneyActivities) -> None:
    request = SendMessageRequest(
        ctx=ctx("C1"), channel="webhook", content="x", webhook_url="http://127.0.0.1:9/hook"
    )
    with pytest.raises(TransientDeliveryError):
        await ActivityEnvironment().run(acts.send_message, request)


def test_business_failures_are_benign_but_caller_bugs_are_not() -> None:
    from temporalio.exceptions import ApplicationErrorCategory

    from activities.errors import TASK_NOT_FOUND, business_failure

    opted_out = business_failure("CustomerOptedOut", "customer C1 opted out of sms")
    assert opted_out.non_retryable and opted_out.category is ApplicationErrorCategory.BENIGN
    bug = business_failure(TASK_NOT_FOUND, "no task T1")
    assert bug.category is ApplicationErrorCategory.UNSPECIFIED


async def test_a_send_refused_for_good_takes_its_contact_back(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    """The policy counted the visit's contact at its check; the send then fails for good
    (opted out of SMS): the ledger row turns ``void`` — no cap slot used, no contact for
    智能回访 — while a send that went out stays counted."""
    from datetime import UTC

    from db.crud import contact_policy as policy
    from db.models.contact_policy import ContactLedgerEntry
    from engine.contact_policy import PolicyCheckRequest

    env = ActivityEnvironment()
    refused = SendMessageRequest(ctx=ctx("C4"), channel="sms", content="hi")
    went = SendMessageRequest(ctx=ctx("C4", node_id="n2"), channel="wecom", content="hi")
    for request in (refused, went):
        check = PolicyCheckRequest(request.ctx, request.channel)
        assert (await env.run(acts.check_contact_policy, check)).outcome == "allow"
    with pytest.raises(ApplicationError):
        await env.run(acts.send_message, refused)
    await env.run(acts.send_message, went)
    with shop() as s:
        ledger = list(s.exec(select(ContactLedgerEntry)))
        assert {r.node_id: r.outcome for r in ledger} == {"n1": "void", "n2": "sent"}
        at = max(r.at for r in ledger).replace(tzinfo=UTC)  # the activities' clock
        seen = policy.contact_recency(session=s, customer_id="C4", as_of=at)
        assert (seen.contacts_7d, seen.last_channel) == (1, "wecom")
    # the refused visit's check asked again (a retry) answers as it did: allowed
    again = await env.run(acts.check_contact_policy, PolicyCheckRequest(refused.ctx, "sms"))
    assert again.outcome == "allow"

"""send_message honours per-channel opt-outs (issue 16): a channel the customer left through
an SMS reply, a provider callback or HQ is not sent (a permanent business failure, so the
node's on_failure decides), with the source and time in the trace note; other channels
still go."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities import JourneyActivities
from db.models import Customer, OutboxMessage
from engine.effects import CUSTOMER_OPTED_OUT, SendMessageRequest
from services import opt_outs
from tests.activities.conftest import ctx

AT = datetime(2025, 5, 30, 8, 15, tzinfo=UTC)


async def test_an_opted_out_channel_is_not_sent(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        assert opt_outs.opt_out(s, customer_id="C1", channel="wecom", source="sms_reply", at=AT)
    request = SendMessageRequest(ctx=ctx("C1"), channel="wecom", content="hi")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request)
    assert (raised.value.type, raised.value.non_retryable) == (CUSTOMER_OPTED_OUT, True)
    assert "opted out of wecom (sms_reply, 2025-05-30 08:15 UTC)" in str(raised.value)
    with shop() as s:
        assert list(s.exec(select(OutboxMessage))) == []
    # SMS still reaches them; and after HQ opts them back in, WeCom does too
    sms = SendMessageRequest(ctx=ctx("C1", node_id="n2"), channel="sms", content="hi")
    assert (await ActivityEnvironment().run(acts.send_message, sms)).status == "recorded"
    with shop() as s:
        assert opt_outs.opt_in(s, customer_id="C1", channel="wecom")
    again = SendMessageRequest(ctx=ctx("C1", node_id="n3"), channel="wecom", content="hi")
    assert (await ActivityEnvironment().run(acts.send_message, again)).status == "recorded"


async def test_the_stored_opt_out_holds_even_if_the_profile_list_was_edited(
    acts: JourneyActivities, shop: sessionmaker[Session]
) -> None:
    with shop() as s:
        opt_outs.opt_out(s, customer_id="C2", channel="sms", source="provider_callback", at=AT)
        customer = s.get(Customer, "C2")
        assert customer is not None
        customer.opted_out_channels = []  # a profile sync that knows nothing of the reply
        s.add(customer)
        s.commit()
    request = SendMessageRequest(ctx=ctx("C2"), channel="sms", content="hi")
    with pytest.raises(ApplicationError) as raised:
        await ActivityEnvironment().run(acts.send_message, request)
    assert raised.value.type == CUSTOMER_OPTED_OUT

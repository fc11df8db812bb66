"""A retry after a lost answer, at a provider whose look-up lags behind its send (Tencent
lists a message once the carrier reported it): inside the report window the retry sends
nothing and comes back later; a report that arrives is found; past the window without a
report the message is sent again and the outbox row says so. One code path for every
provider with ``find_sent`` and a report window (a stand-in provider shows it)."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities import JourneyActivities
from activities.channels import ChannelSettings
from activities.channels.fake_servers import FakeTencentSms
from activities.providers import (
    Delivery,
    OutboundMessage,
    ProviderRegistry,
    TransientDeliveryError,
)
from db.models import OutboxMessage
from settings import Settings
from tests.channels.conftest import NOW, sms, tencent_config


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def _acts(
    sessions: sessionmaker[Session],
    clock: Clock,
    channels: ChannelSettings | None = None,
    providers: ProviderRegistry | None = None,
) -> JourneyActivities:
    return JourneyActivities(
        sessions=sessions,
        settings=Settings(webhook_secret="test-webhook-secret"),
        http_client=httpx.Client(timeout=0.5),  # the fake holds a "timeout" answer 1.5 s
        channels=channels,
        providers=providers,
        clock=clock,
    )


def _row(sessions: sessionmaker[Session]) -> OutboxMessage:
    with sessions() as s:
        (row,) = s.exec(select(OutboxMessage))
        return row


async def _lose_first_answer(
    shop: sessionmaker[Session], tencent: FakeTencentSms, clock: Clock
) -> JourneyActivities:
    """Tencent takes the message, the answer comes too late, the carrier has not reported."""
    tencent.hold_reports = True
    tencent.script = ["timeout"]
    acts = _acts(shop, clock, tencent_config(tencent))
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    row = _row(shop)
    assert (row.status, row.provider, row.handed_at) == ("recorded", "tencent_sms", NOW)
    assert len(tencent.accepted) == 1
    return acts


async def test_a_retry_inside_the_report_window_sends_nothing_and_comes_back(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    clock = Clock(NOW)
    acts = await _lose_first_answer(shop, tencent, clock)
    clock.advance(5)
    with pytest.raises(ApplicationError) as waiting:
        await acts.send_message(sms())
    assert waiting.value.type == "DeliveryAwaitingReport"
    assert not waiting.value.non_retryable
    assert waiting.value.next_retry_delay == timedelta(seconds=30)  # asks again every 30 s
    assert "up to 600 s after the attempt" in waiting.value.message
    clock.advance(590)  # 5 s of the window left: come back when it ends
    with pytest.raises(ApplicationError) as last:
        await acts.send_message(sms())
    assert last.value.next_retry_delay == timedelta(seconds=5)
    assert tencent.calls.count("SendSms") == 1 and len(tencent.accepted) == 1
    assert tencent.calls.count("PullSmsSendStatusByPhoneNumber") == 2
    assert _row(shop).status == "recorded"


async def test_a_report_that_arrives_is_found_and_nothing_is_sent_again(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    clock = Clock(NOW)
    acts = await _lose_first_answer(shop, tencent, clock)
    clock.advance(10)
    with pytest.raises(ApplicationError):
        await acts.send_message(sms())
    tencent.report(tencent.accepted[0])  # the carrier's report reaches Tencent
    clock.advance(30)
    sent = await acts.send_message(sms())
    assert sent.status == "sent"
    assert tencent.calls.count("SendSms") == 1 and len(tencent.accepted) == 1
    row = _row(shop)
    assert row.status == "sent" and row.provider_message_id
    assert row.provider_response == "Tencent: already sent"


async def test_past_the_window_without_a_report_it_is_sent_again_and_noted(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    clock = Clock(NOW)
    acts = await _lose_first_answer(shop, tencent, clock)
    clock.advance(600)
    sent = await acts.send_message(sms())
    assert sent.status == "sent"
    assert [a.correlation for a in tencent.accepted] == [sent.message_id] * 2
    row = _row(shop)
    assert row.status == "sent" and row.handed_at == clock.at  # the new attempt's moment
    assert "sent again: the attempt handed to tencent_sms at 2026-06-01 02:00:00 UTC" in (
        row.provider_response
    )
    assert "never reported within 600 s" in row.provider_response
    assert row.provider_response.startswith("Tencent Ok RequestId=")


async def test_the_window_is_configurable_and_zero_resends_at_once(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    tencent.hold_reports = True
    tencent.script = ["timeout"]
    clock = Clock(NOW)
    acts = _acts(shop, clock, tencent_config(tencent, tencent_sms_report_window_seconds=0))
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    await acts.send_message(sms())
    assert len(tencent.accepted) == 2
    assert "never reported" not in _row(shop).provider_response


class LaggingProvider:
    """Any provider that can look a message up, some time after it took it."""

    name = "lagging"
    report_window_seconds = 120.0

    def __init__(self) -> None:
        self.taken: list[str] = []
        self.listed: set[str] = set()
        self.lose_answer = True

    def deliver(self, message: OutboundMessage) -> Delivery:
        self.taken.append(message.message_id)
        if self.lose_answer:
            self.lose_answer = False
            raise TransientDeliveryError("timed out")
        return Delivery(status="sent", response="ok", provider_message_id="p2")

    def find_sent(self, message: OutboundMessage) -> Delivery | None:
        assert message.attempted_at is not None  # the earlier attempt's moment
        if message.message_id in self.listed:
            return Delivery(status="sent", response="listed", provider_message_id="p1")
        return None


@pytest.mark.parametrize(
    ("listed", "after", "taken"), [(True, 60, 1), (False, 60, 1), (False, 120, 2)]
)
async def test_the_same_rule_holds_for_any_provider_with_a_report_window(
    shop: sessionmaker[Session], listed: bool, after: float, taken: int
) -> None:
    provider = LaggingProvider()
    clock = Clock(NOW)
    acts = _acts(shop, clock, providers={"sms": provider})
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    if listed:
        provider.listed.add(provider.taken[0])
    clock.advance(after)
    if not listed and after < provider.report_window_seconds:
        with pytest.raises(ApplicationError) as waiting:
            await acts.send_message(sms())
        assert waiting.value.next_retry_delay == timedelta(seconds=30)
    else:
        await acts.send_message(sms())
    assert len(provider.taken) == taken


async def test_an_attempt_tencent_answered_with_5xx_is_not_waited_for(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    tencent.hold_reports = True
    tencent.script = ["5xx"]
    clock = Clock(NOW)
    acts = _acts(shop, clock, tencent_config(tencent))
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    row = _row(shop)
    assert (row.provider, row.handed_at) == ("tencent_sms", None)  # answered: not in flight
    await acts.send_message(sms())  # asks, then sends at once
    assert "PullSmsSendStatusByPhoneNumber" in tencent.calls and len(tencent.accepted) == 1
    assert "never reported" not in _row(shop).provider_response

"""SMS and e-mail through the real registry against fake providers on loopback: success,
throttling, 5xx with retry, bad credentials, a bad number, and a retry after a timeout that
must not send twice."""

from __future__ import annotations

import time

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select
from temporalio.exceptions import ApplicationError

from activities.channels import ChannelSettings, ProviderConfigError
from activities.channels.fake_servers import FakeAliyunSms, FakeSmtp, FakeTencentSms
from activities.providers import TransientDeliveryError
from db.models import OutboxMessage, ProviderRateBucket
from engine.effects import MESSAGE_REJECTED
from tests.channels.conftest import (
    activities,
    aliyun_config,
    sms,
    smtp_config,
    tencent_config,
)


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMessage]:
    with sessions() as s:
        return list(s.exec(select(OutboxMessage)))


# ------------------------------------------------------------------ Aliyun


async def test_aliyun_sends_signed_with_outid_and_stores_bizid(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    acts = activities(shop, aliyun_config(aliyun))
    sent = await acts.send_message(sms())
    assert sent.status == "sent"
    (row,) = _rows(shop)
    (taken,) = aliyun.accepted
    assert taken.phone == "8613800001234"  # normalised, no "+"
    assert taken.correlation == row.id  # OutId = the outbox message id
    assert "李雷，会员日见" in taken.text
    assert (row.provider, row.provider_message_id, row.status) == (
        "aliyun_sms",
        taken.provider_message_id,
        "sent",
    )
    # a repeat of the activity sends nothing
    await acts.send_message(sms())
    assert len(aliyun.accepted) == 1


async def test_aliyun_throttling_backs_off_then_sends_once(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    aliyun.script = ["throttle"]
    acts = activities(shop, aliyun_config(aliyun, throttle_backoff_seconds=0.2))
    before = time.time()
    with pytest.raises(ApplicationError) as caught:
        await acts.send_message(sms())
    assert caught.value.type == "ProviderThrottled"
    assert caught.value.next_retry_delay is not None
    with shop() as s:
        bucket = s.get(ProviderRateBucket, "aliyun_sms")
        assert bucket is not None and bucket.next_slot >= before + 0.2  # every worker waits
    (row,) = _rows(shop)
    assert row.status == "recorded" and row.provider == ""  # certainly not sent
    await acts.send_message(sms())  # Temporal's retry
    assert len(aliyun.accepted) == 1 and _rows(shop)[0].status == "sent"


async def test_aliyun_5xx_is_retried_and_sent_once(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    aliyun.script = ["5xx"]
    acts = activities(shop, aliyun_config(aliyun))
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    await acts.send_message(sms())
    assert len(aliyun.accepted) == 1
    assert _rows(shop)[0].status == "sent"


async def test_aliyun_bad_credentials_fail_for_good_naming_the_variables(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    acts = activities(shop, aliyun_config(aliyun, aliyun_sms_access_key_secret="wrong"))
    with pytest.raises(ApplicationError) as caught:
        await acts.send_message(sms())
    assert caught.value.type == MESSAGE_REJECTED and caught.value.non_retryable
    assert "SignatureDoesNotMatch" in caught.value.message
    assert "JOURNEYS_ALIYUN_SMS_ACCESS_KEY_SECRET" in caught.value.message
    assert "wrong" not in caught.value.message  # the secret is never shown
    (row,) = _rows(shop)
    assert row.status == "failed" and row.failed_at is not None
    assert aliyun.accepted == []


async def test_a_number_that_is_not_e164_fails_the_node_without_a_call(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    acts = activities(shop, aliyun_config(aliyun))
    with pytest.raises(ApplicationError) as caught:
        await acts.send_message(sms("C2"))
    assert caught.value.type == MESSAGE_REJECTED
    assert "not E.164" in caught.value.message and "12345" not in caught.value.message
    assert aliyun.calls == []


async def test_aliyun_retry_after_a_timeout_does_not_send_twice(
    shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    aliyun.script = ["timeout"]  # Aliyun takes the message, the answer comes too late
    acts = activities(shop, aliyun_config(aliyun), timeout=0.5)
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    assert len(aliyun.accepted) == 1
    sent = await acts.send_message(sms())  # the retry finds it by OutId
    assert sent.status == "sent"
    assert len(aliyun.accepted) == 1
    assert aliyun.calls.count("SendSms") == 1 and "QuerySendDetails" in aliyun.calls


# ------------------------------------------------------------------ Tencent


async def test_tencent_sends_with_session_context_and_stores_serial_no(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    acts = activities(shop, tencent_config(tencent))
    await acts.send_message(sms("C3"))
    (row,) = _rows(shop)
    (taken,) = tencent.accepted
    assert taken.phone == "+85291234567" and taken.correlation == row.id
    assert row.provider == "tencent_sms" and row.provider_message_id == taken.provider_message_id


async def test_tencent_throttling_5xx_and_credentials(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    tencent.script = ["throttle", "5xx"]
    acts = activities(shop, tencent_config(tencent))
    with pytest.raises(ApplicationError) as throttled:
        await acts.send_message(sms())
    assert throttled.value.type == "ProviderThrottled"
    assert "LimitExceeded.PhoneNumberThirtySecondLimit" in throttled.value.message
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    await acts.send_message(sms())
    assert len(tencent.accepted) == 1

    bad = activities(shop, tencent_config(tencent, tencent_sms_secret_key="nope"))
    with pytest.raises(ApplicationError) as refused:
        await bad.send_message(sms("C3"))
    assert "AuthFailure.SignatureFailure" in refused.value.message
    assert "JOURNEYS_TENCENT_SMS_SECRET_KEY" in refused.value.message


async def test_tencent_retry_after_a_timeout_does_not_send_twice(
    shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    tencent.script = ["timeout"]
    acts = activities(shop, tencent_config(tencent), timeout=0.5)
    with pytest.raises(TransientDeliveryError):
        await acts.send_message(sms())
    await acts.send_message(sms())
    assert len(tencent.accepted) == 1
    (row,) = _rows(shop)
    assert (
        row.status == "sent" and row.provider_message_id == tencent.accepted[0].provider_message_id
    )


# ------------------------------------------------------------------ e-mail


async def test_smtp_sends_with_message_id_and_refusals(
    shop: sessionmaker[Session], smtp: FakeSmtp
) -> None:
    acts = activities(shop, smtp_config(smtp))
    await acts.send_message(sms(channel="email"))
    (mail,) = smtp.accepted
    (row,) = _rows(shop)
    assert mail.phone == "li@example.com" and row.id in mail.correlation
    assert "Subject: =?utf-8?b?" in mail.text or "会员日" in mail.text
    assert row.status == "sent" and row.provider == "smtp"

    with pytest.raises(ApplicationError) as no_address:
        await acts.send_message(sms("C3", channel="email"))
    assert "no e-mail address" in no_address.value.message

    smtp.script = ["5xx"]
    with pytest.raises(ApplicationError) as rejected:
        await acts.send_message(sms("C1", node_id="n2", channel="email"))
    assert "554" in rejected.value.message

    bad = activities(shop, smtp_config(smtp, smtp_password="wrong"))
    with pytest.raises(ApplicationError) as refused:
        await bad.send_message(sms("C1", node_id="n3", channel="email"))
    assert "JOURNEYS_SMTP_PASSWORD" in refused.value.message


# ------------------------------------------------------------------ configuration


def test_bad_configuration_names_the_variables(shop: sessionmaker[Session]) -> None:
    unknown = ChannelSettings(_env_file=None, sms_provider="aliyn")  # type: ignore[call-arg]
    with pytest.raises(ProviderConfigError) as caught:
        activities(shop, unknown)
    assert "JOURNEYS_SMS_PROVIDER" in str(caught.value) and "'aliyun'" in str(caught.value)
    missing = ChannelSettings(_env_file=None, sms_provider="tencent")  # type: ignore[call-arg]
    names = {p.variable for p in missing.problems()}
    assert {"JOURNEYS_TENCENT_SMS_SECRET_ID", "JOURNEYS_TENCENT_SMS_SECRET_KEY"} <= names
    secret = ChannelSettings(_env_file=None, tencent_sms_secret_key=SecretStr("s3cret"))  # type: ignore[call-arg]
    assert "s3cret" not in repr(secret)


def test_the_outbox_is_the_default(shop: sessionmaker[Session]) -> None:
    acts = activities(shop, ChannelSettings(_env_file=None))  # type: ignore[call-arg]
    assert acts._provider_for("sms").name == "outbox"
    assert acts._provider_for("webhook").name == "webhook"

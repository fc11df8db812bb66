"""Fake SMS and SMTP providers on loopback, a small shop to send to, and the activities
wired to them through the real provider registry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities import JourneyActivities
from activities.channels import ChannelSettings
from activities.channels.fake_servers import (
    FakeAliyunSms,
    FakeSmtp,
    FakeTencentSms,
    serve_aliyun,
    serve_smtp,
    serve_tencent,
)
from db.models import Customer, Region, Store
from engine.effects import EffectContext, SendMessageRequest, idempotency_key
from settings import Settings

NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
ALIYUN_ID, ALIYUN_SECRET = "LTAI-test", "aliyun-secret"
TENCENT_ID, TENCENT_SECRET = "AKID-test", "tencent-secret"
SMTP_USER, SMTP_PASSWORD = "journeys@example.com", "smtp-password"
TOKEN = "callback-token"


@pytest.fixture
def shop(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C1 a mainland mobile with e-mail · C2 a phone that is no number · C3 E.164 abroad."""
    with sessions() as s:
        s.add(Region(id="R1", name="华东"))
        s.add(Store(id="S1", region_id="R1", name="上海店", city="上海"))
        s.commit()
        s.add(
            Customer(
                id="C1",
                name="李雷",
                phone="138 0000 1234",
                store_id="S1",
                attributes={"email": "li@example.com"},
            )
        )
        s.add(Customer(id="C2", name="韩梅梅", phone="12345", store_id="S1"))
        s.add(Customer(id="C3", name="Lee", phone="+85291234567", store_id="S1"))
        s.commit()
    return sessions


@pytest.fixture
def aliyun() -> Iterator[FakeAliyunSms]:
    with serve_aliyun(FakeAliyunSms(ALIYUN_ID, ALIYUN_SECRET, stall_seconds=1.5)) as fake:
        yield fake


@pytest.fixture
def tencent() -> Iterator[FakeTencentSms]:
    with serve_tencent(FakeTencentSms(TENCENT_ID, TENCENT_SECRET, stall_seconds=1.5)) as fake:
        yield fake


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with serve_smtp(FakeSmtp(SMTP_USER, SMTP_PASSWORD)) as fake:
        yield fake


def aliyun_config(fake: FakeAliyunSms, **overrides: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "sms_provider": "aliyun",
        "aliyun_sms_access_key_id": ALIYUN_ID,
        "aliyun_sms_access_key_secret": ALIYUN_SECRET,
        "aliyun_sms_endpoint": fake.url,
        "aliyun_sms_sign_name": fake.sign_name,
        "aliyun_sms_template_code": "SMS_0001",
        "aliyun_sms_callback_token": TOKEN,
        "aliyun_sms_rate_per_second": 1000,
        "throttle_backoff_seconds": 0,
    }
    return ChannelSettings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


def tencent_config(fake: FakeTencentSms, **overrides: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "sms_provider": "tencent",
        "tencent_sms_secret_id": TENCENT_ID,
        "tencent_sms_secret_key": TENCENT_SECRET,
        "tencent_sms_endpoint": fake.url,
        "tencent_sms_sdk_app_id": "1400000001",
        "tencent_sms_sign_name": "测试签名",
        "tencent_sms_template_id": "100001",
        "tencent_sms_callback_token": TOKEN,
        "tencent_sms_rate_per_second": 1000,
        "throttle_backoff_seconds": 0,
    }
    return ChannelSettings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


def smtp_config(fake: FakeSmtp, **overrides: Any) -> ChannelSettings:
    values: dict[str, Any] = {
        "email_provider": "smtp",
        "smtp_host": "127.0.0.1",
        "smtp_port": fake.port,
        "smtp_security": "none",
        "smtp_username": SMTP_USER,
        "smtp_password": SMTP_PASSWORD,
        "smtp_from": "Journeys <journeys@example.com>",
        "smtp_timeout_seconds": 5,
        "smtp_rate_per_second": 1000,
        "throttle_backoff_seconds": 0,
    }
    return ChannelSettings(_env_file=None, **{**values, **overrides})  # type: ignore[call-arg]


def activities(
    sessions: sessionmaker[Session], channels: ChannelSettings, timeout: float = 1.0
) -> JourneyActivities:
    """The journey activities with the real registry over ``channels`` (a short HTTP
    timeout, so a stalled fake provider times out quickly)."""
    return JourneyActivities(
        sessions=sessions,
        settings=Settings(webhook_secret="test-webhook-secret"),
        http_client=httpx.Client(timeout=timeout),
        channels=channels,
        clock=lambda: NOW,
    )


def sms(customer_id: str = "C1", node_id: str = "n1", channel: str = "sms") -> SendMessageRequest:
    wf = f"journey-j1-{customer_id}"
    ctx = EffectContext(
        idempotency_key=idempotency_key(wf, "e1", node_id, 1),
        workflow_id=wf,
        journey_id="j1",
        journey_version=1,
        node_id=node_id,
        visit=1,
        customer_id=customer_id,
    )
    return SendMessageRequest(
        ctx=ctx, channel=channel, content="{{ customer.name }}，会员日见", subject="会员日"
    )

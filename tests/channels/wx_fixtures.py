"""Fixtures of the WeCom / WeChat tests: the fake server, settings pointing at it, a shop
whose guide and customers have WeCom / WeChat ids. Import them into a test module."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.wechat import WeChatClient, WeChatSettings
from activities.channels.wecom import WeComClient, WeComSettings
from activities.channels.wx_api import RetryPolicy
from db.models import Customer, Guide, Region, Store
from tests.channels.wx_fake import APP_ID, APP_SECRET, CORP_ID, CORP_SECRET, FakeWx, running_fake

CALLBACK_TOKEN = "cb-token"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # 43 characters


@pytest.fixture
def fake() -> Iterator[FakeWx]:
    with running_fake() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5) as client:
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def wecom_settings(fake: FakeWx) -> WeComSettings:
    return WeComSettings(
        corp_id=CORP_ID,
        secret=SecretStr(CORP_SECRET),
        agent_id=1000002,
        callback_token=SecretStr(CALLBACK_TOKEN),
        callback_aes_key=SecretStr(AES_KEY),
        base_url=fake.base_url,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def wechat_settings(fake: FakeWx) -> WeChatSettings:
    return WeChatSettings(
        app_id=APP_ID,
        secret=SecretStr(APP_SECRET),
        token=SecretStr(CALLBACK_TOKEN),
        template_id="TPL-1",
        base_url=fake.base_url,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
def wecom(wecom_settings: WeComSettings, http: httpx.Client, sleeps: list[float]) -> WeComClient:
    return WeComClient(wecom_settings, http, retry=RetryPolicy(attempts=3), sleep=sleeps.append)


@pytest.fixture
def wechat(
    wechat_settings: WeChatSettings, http: httpx.Client, sleeps: list[float]
) -> WeChatClient:
    return WeChatClient(wechat_settings, http, retry=RetryPolicy(attempts=3), sleep=sleeps.append)


@pytest.fixture
def wx_shop(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """S1: manager GM (WeCom ``chen``), guide G1 (WeCom ``wangfang``), guide G2 (no WeCom).
    C1 bound to G1, a WeCom contact and an official-account follower; C2 bound to G1 with
    neither; C3 bound to G2 with an external id."""
    with sessions() as s:
        s.add(Region(id="R1", name="华东"))
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海", manager_guide_id="GM"))
        s.commit()
        s.add(
            Guide(id="GM", store_id="S1", name="陈店长", role="store_manager", wecom_userid="chen")
        )
        s.add(Guide(id="G1", store_id="S1", name="王芳", wecom_userid="wangfang"))
        s.add(Guide(id="G2", store_id="S1", name="李娜"))
        s.commit()
        s.add(
            Customer(
                id="C1",
                name="李女士",
                store_id="S1",
                guide_id="G1",
                wecom_external_userid="wmEXT1",
                wechat_openid="oOPENID1",
            )
        )
        s.add(Customer(id="C2", name="张先生", store_id="S1", guide_id="G1"))
        s.add(
            Customer(
                id="C3", name="赵女士", store_id="S1", guide_id="G2", wecom_external_userid="wmEXT3"
            )
        )
        s.add(Customer(id="C4", name="周女士", store_id="S1"))
        s.commit()
    return sessions

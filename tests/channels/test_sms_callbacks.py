"""The SMS providers' callbacks: receipts in and out of order, duplicates, an unknown
message, a bad token, and replies that opt a customer out (T / TD / 退订)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, select

from activities.channels.fake_servers import FakeAliyunSms, FakeTencentSms
from canvas_ui.api.sms_callbacks import get_channel_settings
from canvas_ui.app import create_app
from db.models import Customer, OutboxMessage
from services.provider_callbacks import is_unsubscribe
from settings import Settings
from tests.channels.conftest import TOKEN, activities, aliyun_config, sms, tencent_config

ALIYUN_RECEIPTS = f"/callbacks/aliyun-sms/receipts?token={TOKEN}"
TENCENT_RECEIPTS = f"/callbacks/tencent-sms/receipts?token={TOKEN}"


@pytest.fixture
def web(engine: Engine, db_url: str, shop: sessionmaker[Session]) -> Iterator[Any]:
    settings = Settings(database_url=db_url, secret_key="cb-secret", webhook_secret="cb-hook")
    app = create_app(settings, temporal=None, engine=engine)
    yield app


def _client(app: Any, config: Any) -> TestClient:
    app.dependency_overrides[get_channel_settings] = lambda: config
    return TestClient(app)


def _row(sessions: sessionmaker[Session]) -> OutboxMessage:
    with sessions() as s:
        (row,) = s.exec(select(OutboxMessage)).all()
        return row


async def test_aliyun_receipts_out_of_order_and_repeated(
    web: Any, shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    config = aliyun_config(aliyun)
    await activities(shop, config).send_message(sms())
    (taken,) = aliyun.accepted
    client = _client(web, config)
    failed = aliyun.receipt(taken, success=False, at=time.time() - 60)
    delivered = aliyun.receipt(taken, success=True)

    answer = client.post(ALIYUN_RECEIPTS, json=[delivered])
    assert answer.status_code == 200 and answer.json()["code"] == 0
    row = _row(shop)
    assert row.status == "delivered" and row.delivered_at is not None
    # the earlier failure arrives late, then everything again: delivered stays
    assert client.post(ALIYUN_RECEIPTS, json=[failed]).status_code == 200
    assert client.post(ALIYUN_RECEIPTS, json=[delivered, failed]).status_code == 200
    again = _row(shop)
    assert again.status == "delivered" and again.delivered_at == row.delivered_at
    assert again.failed_at is not None  # kept for the record


async def test_a_failure_then_a_late_delivery(
    web: Any, shop: sessionmaker[Session], tencent: FakeTencentSms
) -> None:
    config = tencent_config(tencent)
    await activities(shop, config).send_message(sms())
    (taken,) = tencent.accepted
    client = _client(web, config)
    answer = client.post(TENCENT_RECEIPTS, json=[tencent.receipt(taken, success=False)])
    assert answer.status_code == 200 and answer.json() == {"result": 0, "errmsg": "OK"}
    assert _row(shop).status == "failed"
    client.post(TENCENT_RECEIPTS, json=[tencent.receipt(taken, success=False)])  # duplicate
    assert _row(shop).status == "failed"
    client.post(TENCENT_RECEIPTS, json=[tencent.receipt(taken, success=True)])
    assert _row(shop).status == "delivered"


async def test_a_receipt_found_by_out_id_when_the_biz_id_was_lost(
    web: Any, shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    """A retry after a timeout finds the message by OutId (QuerySendDetails has no BizId):
    its receipt still finds the row, by out_id."""
    aliyun.script = ["timeout"]
    config = aliyun_config(aliyun)
    acts = activities(shop, config, timeout=0.5)
    with pytest.raises(Exception):  # noqa: B017 - the timeout
        await acts.send_message(sms())
    await acts.send_message(sms())
    assert _row(shop).provider_message_id is None
    client = _client(web, config)
    assert (
        client.post(ALIYUN_RECEIPTS, json=[aliyun.receipt(aliyun.accepted[0])]).status_code == 200
    )
    row = _row(shop)
    assert row.status == "delivered"
    assert row.provider_message_id == aliyun.accepted[0].provider_message_id


async def test_unknown_message_is_404_and_logged_once(
    web: Any,
    shop: sessionmaker[Session],
    aliyun: FakeAliyunSms,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = _client(web, aliyun_config(aliyun))
    biz_id = f"{uuid.uuid4().hex[:8]}^0"  # "logged once" is per process: a fresh id
    stray = {"biz_id": biz_id, "success": True, "report_time": "2026-06-01 10:00:00"}
    for _ in range(3):
        answer = client.post(ALIYUN_RECEIPTS, json=[stray])
        assert answer.status_code == 404 and biz_id in answer.json()["detail"]
    assert sum(biz_id in r.getMessage() for r in caplog.records) == 1


async def test_bad_token_is_401_and_changes_nothing(
    web: Any, shop: sessionmaker[Session], aliyun: FakeAliyunSms
) -> None:
    config = aliyun_config(aliyun)
    await activities(shop, config).send_message(sms())
    client = _client(web, config)
    receipt = [aliyun.receipt(aliyun.accepted[0])]
    for url, headers in (
        ("/callbacks/aliyun-sms/receipts?token=wrong", {}),
        ("/callbacks/aliyun-sms/receipts", {}),
        ("/callbacks/aliyun-sms/replies", {"X-Callback-Token": "wrong"}),
    ):
        assert client.post(url, json=receipt, headers=headers).status_code == 401
    assert _row(shop).status == "sent"
    # the header works as well as the query
    ok = client.post(
        "/callbacks/aliyun-sms/receipts", json=receipt, headers={"X-Callback-Token": TOKEN}
    )
    assert ok.status_code == 200 and _row(shop).status == "delivered"
    # no token configured: every callback is refused, naming the variable
    bare = _client(web, aliyun_config(aliyun, aliyun_sms_callback_token=""))
    refused = bare.post(ALIYUN_RECEIPTS, json=receipt)
    assert refused.status_code == 401
    assert "JOURNEYS_ALIYUN_SMS_CALLBACK_TOKEN" in refused.json()["detail"]


def test_a_body_that_is_not_the_format_is_422(web: Any, aliyun: FakeAliyunSms) -> None:
    client = _client(web, aliyun_config(aliyun))
    answer = client.post(ALIYUN_RECEIPTS, json=[{"success": True}])
    assert answer.status_code == 422 and "biz_id" in answer.json()["detail"]


@pytest.mark.parametrize("text", ["T", " td ", "退订", "ＴＤ", "退 订"])
def test_unsubscribe_words(text: str) -> None:
    assert is_unsubscribe(text)


@pytest.mark.parametrize("text", ["thanks", "TDD", "不退订", ""])
def test_other_replies_are_not_unsubscribes(text: str) -> None:
    assert not is_unsubscribe(text)


def test_replies_opt_out_of_sms(
    web: Any, shop: sessionmaker[Session], aliyun: FakeAliyunSms, tencent: FakeTencentSms
) -> None:
    client = _client(web, aliyun_config(aliyun))
    up = {
        "phone_number": "13800001234",
        "send_time": "2026-06-01 10:00:00",
        "content": " 退订 ",
        "sign_name": "测试签名",
        "dest_code": "1234",
        "sequence_id": 1,
    }
    other = {**up, "phone_number": "13900009999", "content": "TD"}  # nobody's number
    answer = client.post(f"/callbacks/aliyun-sms/replies?token={TOKEN}", json=[up, other])
    assert answer.status_code == 200 and answer.json()["code"] == 0
    with shop() as s:
        c1 = s.get(Customer, "C1")
        assert c1 is not None and "sms" in c1.opted_out_channels

    client = _client(web, tencent_config(tencent))
    reply = {"mobile": "91234567", "nationcode": "852", "text": "td", "sign": "x", "time": 1}
    assert client.post(f"/callbacks/tencent-sms/replies?token={TOKEN}", json=reply).json() == {
        "result": 0,
        "errmsg": "OK",
    }
    with shop() as s:
        c3 = s.get(Customer, "C3")
        assert c3 is not None and "sms" in c3.opted_out_channels

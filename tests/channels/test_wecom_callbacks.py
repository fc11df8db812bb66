"""The WeCom and WeChat callback endpoints: signatures, the AES envelope, contact events
moving the guide binding (with history and a tag), template-message receipts."""

# ruff: noqa: F811  (fixtures imported from tests.channels.wx_fixtures)

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from activities.channels.wechat import WeChatSettings
from activities.channels.wecom import WeComSettings
from activities.channels.wx_crypto import CallbackRejectedError, WXBizMsgCrypt, sha1_signature
from canvas_ui.app import create_app
from canvas_ui.routes.wx_callbacks import get_wechat_settings, get_wecom_settings
from db.crud import binding_history
from db.models import Customer, CustomerGuideBinding, OutboxMessage, WeComContactEvent
from settings import Settings
from tests.channels.wx_fake import CORP_ID
from tests.channels.wx_fixtures import (  # noqa: F401 - fixtures
    AES_KEY,
    CALLBACK_TOKEN,
    fake,
    wechat_settings,
    wecom_settings,
    wx_shop,
)

#: contact events happen after the fixture binds C3 to G2 (at the test's wall-clock time),
#: however long after this module was imported the test runs
AT = int(time.time()) + 6 * 3600
TS, NONCE = "1709345000", "n0nce"
CRYPT = WXBizMsgCrypt(token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY, receive_id=CORP_ID)


@pytest.fixture
def client(
    engine: Engine,
    db_url: str,
    wx_shop: sessionmaker[Session],
    wecom_settings: WeComSettings,
    wechat_settings: WeChatSettings,
) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=db_url, secret_key="cb-secret"), engine=engine)
    app.dependency_overrides[get_wecom_settings] = lambda: wecom_settings
    app.dependency_overrides[get_wechat_settings] = lambda: wechat_settings
    with TestClient(app) as test_client:
        yield test_client


def _contact_event(change: str, user: str, external: str, at: int, state: str = "") -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName>"
        "<FromUserName><![CDATA[sys]]></FromUserName>"
        f"<CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        "<Event><![CDATA[change_external_contact]]></Event>"
        f"<ChangeType><![CDATA[{change}]]></ChangeType>"
        f"<UserID><![CDATA[{user}]]></UserID>"
        f"<ExternalUserID><![CDATA[{external}]]></ExternalUserID>"
        f"<State><![CDATA[{state}]]></State></xml>"
    )


def _post_wecom(client: TestClient, plain: str, *, signature: str | None = None) -> int:
    body = CRYPT.encrypt_message(plain, timestamp=TS, nonce=NONCE)
    encrypted = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    params = {
        "msg_signature": signature or CRYPT.sign(TS, NONCE, encrypted),
        "timestamp": TS,
        "nonce": NONCE,
    }
    return client.post("/callbacks/wecom", params=params, content=body).status_code


def _customer(sessions: sessionmaker[Session], customer_id: str) -> Customer:
    with sessions() as s:
        customer = s.get(Customer, customer_id)
        assert customer is not None
        return customer


# --------------------------------------------------------------------------- crypto


def test_the_envelope_round_trips_and_refuses_another_corp() -> None:
    assert CRYPT.decrypt(CRYPT.encrypt("<xml>你好</xml>")) == "<xml>你好</xml>"
    other = WXBizMsgCrypt(token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY, receive_id="ww-other")
    with pytest.raises(CallbackRejectedError, match="another corp"):
        other.decrypt(CRYPT.encrypt("<xml/>"))
    assert sha1_signature("b", "a", "c") == sha1_signature("c", "b", "a")


def test_wecom_url_check_echoes_the_decrypted_echostr(client: TestClient) -> None:
    echostr = CRYPT.encrypt("4729384729")
    params = {"msg_signature": CRYPT.sign(TS, NONCE, echostr), "timestamp": TS, "nonce": NONCE}
    good = client.get("/callbacks/wecom", params={**params, "echostr": echostr})
    assert (good.status_code, good.text) == (200, "4729384729")
    params["msg_signature"] = "0" * 40
    assert client.get("/callbacks/wecom", params={**params, "echostr": echostr}).status_code == 401


# --------------------------------------------------------------------------- contacts


def test_a_guide_adding_a_known_contact_binds_and_tags_with_history(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    # C3 (wmEXT3) was bound to G2; 王芳 (wangfang = G1) adds them
    assert (
        _post_wecom(client, _contact_event("add_external_contact", "wangfang", "wmEXT3", AT)) == 200
    )
    customer = _customer(wx_shop, "C3")
    assert customer.guide_id == "G1" and "企微好友" in customer.tags
    with wx_shop() as s:
        history = binding_history(session=s, customer_id="C3")
    assert [(h.guide_id, h.bound_to is None) for h in history] == [("G2", False), ("G1", True)]
    assert history[1].bound_from == datetime.fromtimestamp(AT, UTC)


def test_a_first_contact_is_matched_by_the_contact_way_state(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    event = _contact_event("add_external_contact", "wangfang", "wmNEW4", AT, "c:C4")
    assert _post_wecom(client, event) == 200
    customer = _customer(wx_shop, "C4")
    assert (customer.guide_id, customer.wecom_external_userid) == ("G1", "wmNEW4")


def test_a_customer_deleting_their_guide_unbinds_and_retags(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    _post_wecom(client, _contact_event("add_external_contact", "wangfang", "wmEXT1", AT))
    assert (
        _post_wecom(client, _contact_event("del_follow_user", "wangfang", "wmEXT1", AT + 1000))
        == 200
    )
    customer = _customer(wx_shop, "C1")
    assert customer.guide_id is None
    assert "企微好友" not in customer.tags and "企微已删除" in customer.tags


def test_a_bad_signature_is_401_and_changes_nothing(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    event = _contact_event("add_external_contact", "wangfang", "wmEXT3", AT)
    assert _post_wecom(client, event, signature="f" * 40) == 401
    assert _customer(wx_shop, "C3").guide_id == "G2"
    with wx_shop() as s:
        assert s.exec(select(WeComContactEvent)).all() == []
        assert s.exec(select(CustomerGuideBinding)).all() == []


def test_repeated_and_late_events_change_nothing(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    add = _contact_event("add_external_contact", "wangfang", "wmEXT3", AT)
    delete = _contact_event("del_external_contact", "wangfang", "wmEXT3", AT + 1000)
    for plain in (add, delete, add, delete):  # WeCom repeats; the add's repeat comes late
        assert _post_wecom(client, plain) == 200
    assert _customer(wx_shop, "C3").guide_id is None
    with wx_shop() as s:
        events = s.exec(select(WeComContactEvent).order_by(col(WeComContactEvent.id))).all()
        periods = binding_history(session=s, customer_id="C3")
    assert [e.outcome for e in events] == ["bound", "unbound"]
    assert [(p.guide_id, p.bound_to is None) for p in periods] == [("G2", False), ("G1", False)]
    # an older add arriving after the delete is kept, not applied
    older = _contact_event("add_external_contact", "wangfang", "wmEXT3", AT + 500)
    assert _post_wecom(client, older) == 200
    assert _customer(wx_shop, "C3").guide_id is None


def test_an_unknown_guide_or_contact_is_stored_and_answered(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    assert (
        _post_wecom(client, _contact_event("add_external_contact", "stranger", "wmEXT1", 1)) == 200
    )
    assert (
        _post_wecom(client, _contact_event("add_external_contact", "wangfang", "wmZZZ", 2)) == 200
    )
    with wx_shop() as s:
        outcomes = [e.outcome for e in s.exec(select(WeComContactEvent))]
    assert sorted(outcomes) == ["unknown_customer", "unknown_guide"]


# --------------------------------------------------------------------------- WeChat


def _wechat_params(timestamp: str = TS) -> dict[str, str]:
    return {
        "signature": sha1_signature(CALLBACK_TOKEN, timestamp, NONCE),
        "timestamp": timestamp,
        "nonce": NONCE,
    }


def _receipt(msgid: str, status: str) -> str:
    return (
        "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
        "<FromUserName><![CDATA[oOPENID1]]></FromUserName><CreateTime>1709346000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[TEMPLATESENDJOBFINISH]]></Event>"
        f"<MsgID>{msgid}</MsgID><Status><![CDATA[{status}]]></Status></xml>"
    )


@pytest.fixture
def sent_wechat(wx_shop: sessionmaker[Session]) -> sessionmaker[Session]:
    with wx_shop() as s:
        s.add(
            OutboxMessage(
                id="m1",
                idempotency_key="k1",
                customer_id="C1",
                channel="wechat_template",
                body="券到期提醒",
                status="sent",
                provider="wechat",
                provider_message_id="200228332",
            )
        )
        s.commit()
    return wx_shop


def _status(sessions: sessionmaker[Session]) -> tuple[str, str]:
    with sessions() as s:
        row = s.get(OutboxMessage, "m1")
        assert row is not None
        return row.status, row.status_detail


def test_wechat_url_check(client: TestClient) -> None:
    good = client.get("/callbacks/wechat", params={**_wechat_params(), "echostr": "e123"})
    assert (good.status_code, good.text) == (200, "e123")
    bad = {**_wechat_params(), "signature": "0" * 40, "echostr": "e123"}
    assert client.get("/callbacks/wechat", params=bad).status_code == 401


def test_a_template_receipt_marks_the_message_delivered_once(
    client: TestClient, sent_wechat: sessionmaker[Session]
) -> None:
    for _ in range(2):  # WeChat repeats it
        answer = client.post(
            "/callbacks/wechat", params=_wechat_params(), content=_receipt("200228332", "success")
        )
        assert (answer.status_code, answer.text) == (200, "success")
    assert _status(sent_wechat) == ("delivered", "success")


def test_a_failed_receipt_says_why(client: TestClient, sent_wechat: sessionmaker[Session]) -> None:
    client.post(
        "/callbacks/wechat",
        params=_wechat_params(),
        content=_receipt("200228332", "failed:user block"),
    )
    assert _status(sent_wechat) == ("failed", "failed:user block")


def test_a_receipt_with_a_bad_signature_is_401_and_changes_nothing(
    client: TestClient, sent_wechat: sessionmaker[Session]
) -> None:
    params = {**_wechat_params(), "signature": "f" * 40}
    answer = client.post(
        "/callbacks/wechat", params=params, content=_receipt("200228332", "success")
    )
    assert answer.status_code == 401
    assert _status(sent_wechat) == ("sent", "")


def test_a_receipt_for_an_unknown_message_is_404(
    client: TestClient, sent_wechat: sessionmaker[Session]
) -> None:
    answer = client.post(
        "/callbacks/wechat", params=_wechat_params(), content=_receipt("999", "success")
    )
    assert answer.status_code == 404 and "999" in answer.json()["detail"]


def test_an_encrypted_receipt_is_decrypted(
    client: TestClient, sent_wechat: sessionmaker[Session], wechat_settings: WeChatSettings
) -> None:
    wechat_settings.aes_key = SecretStr(AES_KEY)
    crypt = WXBizMsgCrypt(
        token=CALLBACK_TOKEN, encoding_aes_key=AES_KEY, receive_id=wechat_settings.app_id
    )
    body = crypt.encrypt_message(_receipt("200228332", "success"), timestamp=TS, nonce=NONCE)
    encrypted = body.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    params = {
        **_wechat_params(),
        "encrypt_type": "aes",
        "msg_signature": crypt.sign(TS, NONCE, encrypted),
    }
    assert client.post("/callbacks/wechat", params=params, content=body).status_code == 200
    assert _status(sent_wechat)[0] == "delivered"


def test_unfollowing_the_official_account_opts_out_of_template_messages(
    client: TestClient, wx_shop: sessionmaker[Session]
) -> None:
    event = (
        "<xml><ToUserName><![CDATA[gh_7f083739789a]]></ToUserName>"
        "<FromUserName><![CDATA[oOPENID1]]></FromUserName><CreateTime>1709346000</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event></xml>"
    )
    for _ in range(2):
        answer = client.post("/callbacks/wechat", params=_wechat_params(), content=event)
        assert answer.status_code == 200
    assert "wechat_template" in _customer(wx_shop, "C1").opted_out_channels


def test_a_signed_body_that_is_not_xml_is_400(
    client: TestClient, sent_wechat: sessionmaker[Session]
) -> None:
    answer = client.post("/callbacks/wechat", params=_wechat_params(), content=b"not xml <")
    assert answer.status_code == 400 and "not XML" in answer.json()["detail"]
    doctype = b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><Event>&e;</Event></xml>'
    assert (
        client.post("/callbacks/wechat", params=_wechat_params(), content=doctype).status_code
        == 400
    )
    assert _status(sent_wechat) == ("sent", "")

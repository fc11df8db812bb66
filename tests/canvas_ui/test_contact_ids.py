"""WeCom / WeChat ids set by hand: a customer's external contact id and openid on the
customer card (HQ and admins), a guide's WeCom userid on the accounts page (admins); each
change audited, checked (a 422 naming the field), and used by the next send."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select

from activities.channels.wechat import WeChatClient, WeChatSettings, WeChatTemplateProvider
from activities.providers import OutboundMessage
from db.models import AuditEntry, Customer, Guide, Region, Store
from services import accounts
from tests.canvas_ui.harness import CSRF_COOKIE
from tests.channels.wx_fake import APP_ID, APP_SECRET, running_fake

HX = {"HX-Request": "true"}
OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz1"


@pytest.fixture
def shop(canvas_app: FastAPI) -> FastAPI:
    """Store S1 with guides G1 (WeCom ``wangfang``) and G2; customers C1 (openid set) and C2."""
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Guide(id="G1", store_id="S1", name="王芳", wecom_userid="wangfang"))
        s.add(Guide(id="G2", store_id="S1", name="李娜"))
        s.commit()
        s.add(Customer(id="C1", name="李女士", store_id="S1", wechat_openid="oOLDOPENID00"))
        s.add(Customer(id="C2", name="张先生", store_id="S1", guide_id="G1"))
        s.commit()
    return canvas_app


def _as(app: FastAPI, username: str, role: str, guide_id: str | None = None) -> TestClient:
    with Session(app.state.engine) as session:
        accounts.create_user(
            session=session, username=username, password="pw", role=role, guide_id=guide_id
        )
        _principal, cookie = accounts.login(
            session=session, username=username, password="pw", secret=app.state.settings.secret_key
        )
    c = TestClient(app)
    c.cookies.set(accounts.SESSION_COOKIE, cookie)
    c.get("/api/schema/journey.json")
    c.headers["X-CSRF-Token"] = c.cookies[CSRF_COOKIE]
    c.headers["Accept-Language"] = "en"
    return c


@pytest.fixture
def admin(shop: FastAPI) -> Iterator[TestClient]:
    with _as(shop, "root", "admin") as c:
        yield c


def _customer(app: FastAPI, customer_id: str) -> Customer:
    with Session(app.state.engine) as s:
        found = s.get(Customer, customer_id)
        assert found is not None
        return found


def _audit(app: FastAPI, object_type: str) -> list[AuditEntry]:
    with Session(app.state.engine) as s:
        return list(
            s.exec(
                select(AuditEntry)
                .where(AuditEntry.object_type == object_type)
                .order_by(col(AuditEntry.id))
            ).all()
        )


def _ids(external: str = "", openid: str = "", q: str = "C2") -> dict[str, str]:
    return {"wecom_external_userid": external, "wechat_openid": openid, "q": q}


# ------------------------------------------------------------------------------ customer card


def test_hq_sets_a_customers_ids_on_the_card_with_an_audit_entry(
    client: TestClient, shop: FastAPI
) -> None:
    card = client.get("/customers?q=C2", headers=HX)
    assert 'data-contact-ids="C2"' in card.text and 'name="wechat_openid"' in card.text
    saved = client.post("/customers/C2/ids", data=_ids("wmEXTc2abcd", OPENID), headers=HX)
    assert saved.status_code == 200
    assert "WeCom / WeChat ids saved." in saved.text and f'value="{OPENID}"' in saved.text
    customer = _customer(shop, "C2")
    assert (customer.wecom_external_userid, customer.wechat_openid) == ("wmEXTc2abcd", OPENID)
    (entry,) = _audit(shop, "customer")
    assert (entry.actor, entry.action, entry.object_id) == ("hq", "update", "C2")
    assert entry.before == {"wecom_external_userid": None, "wechat_openid": None}
    assert entry.after == {"wecom_external_userid": "wmEXTc2abcd", "wechat_openid": OPENID}
    # the same ids again change nothing and log nothing; empty fields remove them
    client.post("/customers/C2/ids", data=_ids("wmEXTc2abcd", OPENID), headers=HX)
    assert len(_audit(shop, "customer")) == 1
    client.post("/customers/C2/ids", data=_ids(), headers=HX)
    customer = _customer(shop, "C2")
    assert (customer.wecom_external_userid, customer.wechat_openid) == (None, None)
    audit_page = client.get("/audit?object_type=customer")
    assert audit_page.status_code == 200 and "C2" in audit_page.text


def test_a_malformed_id_is_a_422_with_the_error_on_its_field(
    client: TestClient, shop: FastAPI
) -> None:
    bad = client.post("/customers/C2/ids", data=_ids("not an id", OPENID), headers=HX)
    assert bad.status_code == 422
    assert "starts with wm or wo" in bad.text and 'aria-invalid="true"' in bad.text
    assert 'value="not an id"' in bad.text  # the form keeps what was typed
    zh = client.post(
        "/customers/C2/ids",
        data=_ids("wm", ""),
        headers={**HX, "Accept-Language": "zh-CN"},
    )
    assert zh.status_code == 422 and "企业微信外部联系人 ID" in zh.text
    assert _customer(shop, "C2").wechat_openid is None and _audit(shop, "customer") == []


def test_an_id_another_customer_holds_is_refused_naming_them(
    client: TestClient, shop: FastAPI
) -> None:
    taken = client.post("/customers/C2/ids", data=_ids(openid="oOLDOPENID00"), headers=HX)
    assert taken.status_code == 422 and "Customer C1 already has this id." in taken.text
    assert _customer(shop, "C2").wechat_openid is None


def test_unknown_customer_and_oversized_input_are_4xx(client: TestClient, shop: FastAPI) -> None:
    assert client.post("/customers/NOPE/ids", data=_ids(), headers=HX).status_code == 404
    long = client.post("/customers/C2/ids", data=_ids(openid="o" * 65), headers=HX)
    assert long.status_code == 422
    plain = client.post("/customers/C2/ids", data=_ids("bad id"))  # no htmx: the error itself
    assert plain.status_code == 422 and "wm or wo" in plain.json()["detail"]


def test_guides_and_store_managers_cannot_edit_ids(shop: FastAPI) -> None:
    for username, role in (("g1", "guide"), ("m1", "store_manager")):
        with _as(shop, username, role, guide_id="G1") as c:
            answer = c.post("/customers/C2/ids", data=_ids(openid=OPENID), headers=HX)
            assert answer.status_code == 403
            assert (
                c.post("/accounts/guides/G2/wecom", data={"wecom_userid": "x"}).status_code == 403
            )
    assert _customer(shop, "C2").wechat_openid is None


def test_a_saved_openid_is_used_by_the_next_send(client: TestClient, shop: FastAPI) -> None:
    client.post("/customers/C1/ids", data=_ids(openid=OPENID, q="C1"), headers=HX)
    with running_fake() as fake, httpx.Client(timeout=5) as http:
        settings = WeChatSettings(
            app_id=APP_ID,
            secret=SecretStr(APP_SECRET),
            template_id="TPL-1",
            base_url=fake.base_url,
            _env_file=None,  # type: ignore[call-arg]
        )
        sessions = sessionmaker(shop.state.engine, class_=Session)
        provider = WeChatTemplateProvider(WeChatClient(settings, http), sessions)
        provider.deliver(
            OutboundMessage(
                message_id="m1",
                idempotency_key="k1",
                customer_id="C1",
                channel="wechat_template",
                subject="",
                body="会员日",
                journey_id=None,
                node_id=None,
            )
        )
        (call,) = fake.to("/cgi-bin/message/template/send")
    assert call.body["touser"] == OPENID


# ------------------------------------------------------------------------------ guides


def test_an_admin_sets_a_guides_wecom_userid(admin: TestClient, shop: FastAPI) -> None:
    page = admin.get("/accounts")
    assert 'data-guide="G2"' in page.text and 'value="wangfang"' in page.text
    saved = admin.post("/accounts/guides/G2/wecom", data={"wecom_userid": "lina.li"}, headers=HX)
    assert saved.status_code == 200 and "WeCom userid of 李娜 saved." in saved.text
    with Session(shop.state.engine) as s:
        guide = s.get(Guide, "G2")
        assert guide is not None and guide.wecom_userid == "lina.li"
    (entry,) = _audit(shop, "guide")
    assert (entry.actor, entry.object_id, entry.after) == (
        "root",
        "G2",
        {"wecom_userid": "lina.li"},
    )


def test_a_bad_or_taken_guide_userid_is_a_422_on_its_row(admin: TestClient, shop: FastAPI) -> None:
    bad = admin.post("/accounts/guides/G2/wecom", data={"wecom_userid": "-lina"}, headers=HX)
    assert bad.status_code == 422 and 'id="wecomerr-G2"' in bad.text and 'value="-lina"' in bad.text
    taken = admin.post("/accounts/guides/G2/wecom", data={"wecom_userid": "wangfang"}, headers=HX)
    assert taken.status_code == 422 and "Guide G1 already has this WeCom userid." in taken.text
    assert admin.post("/accounts/guides/NOPE/wecom", data={"wecom_userid": "x"}).status_code == 404
    assert _audit(shop, "guide") == []


def test_hq_cannot_open_the_guides_ids(client: TestClient, shop: FastAPI) -> None:
    assert client.post("/accounts/guides/G2/wecom", data={"wecom_userid": "x"}).status_code == 403

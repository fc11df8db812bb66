"""The customer lookup shows the points balance now and the newest ledger rows (issue 13,
item 4a): a journey's award names its journey, lapsed points leave the balance."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from canvas_ui import i18n
from db.crud.points import award_points
from db.models import Customer, utcnow
from tests.canvas_ui.harness import create_journey

HX = {"HX-Request": "true"}


def test_lookup_shows_balance_and_last_ledger_rows(client: TestClient, canvas_app: FastAPI) -> None:
    jid = create_journey(client)
    now = utcnow()
    with Session(canvas_app.state.engine) as s:
        s.add(Customer(id="C000777", name="周女士", phone="13800007777"))
        s.commit()
        award_points(
            session=s,
            customer_id="C000777",
            points=300,
            idempotency_key="k1",
            created_at=now - timedelta(days=1),
            expires_at=now + timedelta(days=29),
            reason="生日礼",
            journey_id=jid,
        )
        award_points(
            session=s,
            customer_id="C000777",
            points=50,
            idempotency_key="k2",
            created_at=now - timedelta(days=40),
            expires_at=now - timedelta(days=10),  # lapsed
            reason="order",
        )
    with i18n.use_locale("zh_CN"):
        page = client.get("/customers?q=C000777", headers={**HX, "Accept-Language": "zh-CN"})
    assert page.status_code == 200
    html = page.text
    assert '<dd class="points-balance">300</dd>' in html
    assert "积分明细" in html or "Points history" in html
    assert "+300" in html and "+50" in html
    assert f'href="/journeys/{jid}/edit"' in html and "新客二回</a> · 生日礼" in html


def test_a_customer_without_points_shows_zero_and_no_history(client: TestClient) -> None:
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        s.add(Customer(id="C000888", name="吴先生"))
        s.commit()
    html = client.get("/customers?q=C000888", headers=HX).text
    assert '<dd class="points-balance">0</dd>' in html
    assert "points-history" not in html

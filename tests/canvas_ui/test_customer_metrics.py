"""The customer lookup shows every stored metric of engine.metrics (purchase cycle,
purchases, average order …) in the UI language; a customer with no orders shows none."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from audiences import metrics
from canvas_ui import i18n
from db.models import Customer, OrderCreate, utcnow
from engine.metrics import STORED_METRICS

HX = {"HX-Request": "true"}


def _metric(html: str, name: str) -> str:
    found = re.search(rf'<dd data-metric="{name}">([^<]*)</dd>', html)
    assert found is not None, name
    return found.group(1)


def test_lookup_shows_the_stored_metrics(client: TestClient) -> None:
    now = utcnow()
    with Session(client.app.state.engine) as s:  # type: ignore[attr-defined]
        s.add(Customer(id="C000901", name="钱女士"))
        s.add(Customer(id="C000902", name="孙先生"))
        s.commit()
        for days_ago, amount in ((95, 300.0), (50, 400.0), (5, 560.0)):
            metrics.record_order(
                session=s,
                order_create=OrderCreate(
                    customer_id="C000901", amount=amount, created_at=now - timedelta(days=days_ago)
                ),
                now=now,
            )
    with i18n.use_locale("zh_CN"):
        html = client.get("/customers?q=C00090", headers={**HX, "Accept-Language": "zh-CN"}).text
    cards = {
        cid: card
        for card in html.split('<article class="card customer">')[1:]
        for cid in ("C000901", "C000902")
        if cid in card.split("</h2>", 1)[0]
    }
    first, second = cards["C000901"], cards["C000902"]
    assert {m.name for m in STORED_METRICS} <= set(re.findall(r'data-metric="(\w+)"', html))
    assert "客单价（累计平均订单金额）" in html
    assert _metric(first, "avg_order_amount") == "¥420.00"
    assert _metric(first, "purchase_interval_median_days") == "45 天"  # gaps 45 and 45
    assert _metric(first, "purchases_count") == "3"
    # no orders: no average, no cycle, no purchases
    assert _metric(second, "avg_order_amount") == "—"
    assert _metric(second, "purchase_interval_median_days") == "—"
    assert _metric(second, "purchases_count") == "0"

"""Language from the switch (cookie), else from the browser; Babel catalogs for both."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from canvas_ui import i18n
from canvas_ui.summaries import SummaryContext, node_meta


@pytest.mark.parametrize(
    ("accept", "expected"),
    [("zh-CN,zh;q=0.9,en;q=0.8", "客户旅程"), ("en-US,en;q=0.9", "Journeys"), ("", "客户旅程")],
)
def test_default_language_from_browser(client: TestClient, accept: str, expected: str) -> None:
    html = client.get("/journeys", headers={"Accept-Language": accept}).text
    assert f"<h1>{expected}</h1>" in html


def test_switch_sets_cookie_and_refreshes(client: TestClient) -> None:
    response = client.post("/lang", data={"lang": "en"})
    assert response.status_code == 204
    assert response.headers["hx-refresh"] == "true"
    html = client.get("/journeys", headers={"Accept-Language": "zh-CN"}).text
    assert "<h1>Journeys</h1>" in html and '<html lang="en">' in html
    assert client.post("/lang", data={"lang": "fr"}).status_code == 422


def test_catalogs_are_complete() -> None:
    from babel.messages.pofile import read_po

    po = i18n.HERE / "zh_CN" / "LC_MESSAGES" / "messages.po"
    catalog = read_po(po.open("rb"))
    untranslated = [
        m.id
        for m in catalog
        if m.id and not (all(m.string) if isinstance(m.string, tuple) else m.string)
    ]
    assert untranslated == []
    pot = read_po((i18n.HERE / "messages.pot").open("rb"))
    assert {m.id for m in pot if m.id} == {m.id for m in catalog if m.id}


@pytest.mark.parametrize(
    ("node", "zh", "en"),
    [
        (
            {
                "kind": "wait",
                "config": {
                    "until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}}
                },
            },
            "等待 3 天",
            "Wait 3 days",
        ),
        (
            {"kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
            "优惠券 ¥20 · 30天",
            "Coupon ¥20 · 30 days",
        ),
        (
            {"kind": "assign_guide_task", "config": {"instructions": "x"}},
            "导购电话回访 · 24h",
            "Guide phone call · 24h",
        ),
        (
            {"kind": "wait_for_event", "config": {"event_type": "purchase"}},
            "等待 购买 · 最多 3 天",
            "Wait for purchase · up to 3 days",
        ),
        (
            {
                "kind": "wait",
                "config": {"until": {"type": "customer_date", "field": "birthday_month_start"}},
            },
            "直到生日月初",
            "Until birthday month start",
        ),
        (
            {"kind": "send_coupon", "config": {}},
            "尚未配置 — 点击设置",
            "Not configured yet — click to set up",
        ),
    ],
)
def test_summaries(node: dict, zh: str, en: str) -> None:
    from canvas_ui.summaries import CouponInfo

    ctx = SummaryContext(coupons={"NEW20": CouponInfo("新客券", 20, 30)})
    raw = {"id": "n", **node}
    with i18n.use_locale("zh-CN"):
        assert node_meta(raw, ctx)["summary"] == zh
    with i18n.use_locale("en"):
        assert node_meta(raw, ctx)["summary"] == en


def test_pot_matches_the_sources() -> None:
    """Every string marked in canvas_ui is in messages.pot (re-run pybabel extract if not)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.pofile import read_po

    root = i18n.HERE.parent
    found = {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            str(root),
            method_map=[("**.py", "python"), ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
            keywords={**DEFAULT_KEYWORDS, "lazy": None},
        )
    }
    pot = {m.id for m in read_po((i18n.HERE / "messages.pot").open("rb")) if m.id}
    assert found - pot == set(), "run: pybabel extract -F canvas_ui/i18n/babel.cfg -k lazy …"


def test_diagnostics_in_the_ui_language(client: TestClient) -> None:
    from canvas_ui.diagnostics import MESSAGES
    from engine.compiler import Code
    from tests.canvas_ui.harness import create_journey, linear_document

    assert {c.value for c in Code} <= set(MESSAGES)
    doc = linear_document()
    doc["edges"] = doc["edges"][:1]  # the wait "等三天" leads nowhere
    jid = create_journey(client, doc)
    zh = client.post(f"/api/journeys/{jid}/validate", headers={"Accept-Language": "zh-CN"})
    missing = next(d for d in zh.json()["diagnostics"] if d["code"] == "MISSING_EDGE")
    assert missing["message"] == "“等三天”的一个输出没有连线：客户将无处可去。"
    assert missing["hint"] == "把它连到下一步，或连到出口。"
    assert "next" in missing["detail"]  # the compiler's words stay available
    en = client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]
    # English reads as a sentence too, not the compiler's words (issue 18, item 2)
    assert next(d for d in en if d["code"] == "MISSING_EDGE")["message"] == (
        "An output of “等三天” is not connected: customers would have nowhere to go."
    )

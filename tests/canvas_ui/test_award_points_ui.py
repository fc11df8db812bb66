"""The editor's pickers know award_points: a message after an award step offers its points,
balance, pack codes and expiry; a branch's "earlier step" offers the award step; the panel
labels its fields in both languages."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from canvas_ui.diagnostics import node_labels
from canvas_ui.forms.render import field_label
from canvas_ui.forms.spec import model_spec
from canvas_ui.i18n import use_locale
from canvas_ui.placeholders import placeholder_groups
from canvas_ui.queries import earlier_steps
from canvas_ui.texts import SummaryContext
from engine.kinds.award_points import AwardPointsConfig
from tests.canvas_ui.harness import create_journey

HX = {"HX-Request": "true"}


def _document() -> dict[str, Any]:
    nodes = [
        {"id": "entry", "kind": "entry"},
        {"id": "p", "kind": "award_points", "label": "生日积分", "config": {"points": 200}},
        {"id": "m", "kind": "send_message", "config": {"content": ""}},
        {"id": "b", "kind": "branch", "config": {"rules": []}},
    ]
    edges = [("entry", "p"), ("p", "m"), ("m", "b")]
    return {
        "nodes": nodes,
        "edges": [
            {"id": f"e{i}", "source": s, "source_port": "next", "target": t}
            for i, (s, t) in enumerate(edges)
        ],
    }


def test_a_message_after_an_award_offers_its_values() -> None:
    doc = _document()
    with use_locale("zh_CN"):
        groups = placeholder_groups(doc, "m", node_labels(doc))
    award = next(g for g in groups if "生日积分" in g.label)
    assert [p for p, _label in award.items] == [
        "{{ ctx.p.points }}",
        "{{ ctx.p.balance }}",
        "{{ ctx.p.coupon_codes }}",
        "{{ ctx.p.points_expire_at[:10] }}",
    ]
    assert [label for _p, label in award.items][:2] == ["发放的积分", "发放后的积分余额"]


def test_a_branch_can_pick_the_award_step() -> None:
    doc = _document()
    assert ("p", "生日积分") in earlier_steps(doc, "b", node_labels(doc), SummaryContext())


def test_the_panel_labels_the_award_fields_in_both_languages() -> None:
    specs = {s.name: s for s in model_spec(AwardPointsConfig)}
    with use_locale("zh_CN"):
        assert field_label(specs["points"]) == "积分"
        assert field_label(specs["coupon_template_ids"]) == "权益礼包：优惠券模板"
    with use_locale("en"):
        assert field_label(specs["expires_in_days"]) == "Points expire after (days)"


def test_the_panel_saves_an_award_with_a_pack(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "config.points": "200",
        "config.expires_in_days": "",
        "config.coupon_template_ids": "NEW20\nVIP100\n",
        "config.reason": "生日礼",
        "config.on_failure": "port",
    }
    response = client.post(
        f"/journeys/{jid}/nodes/p1/panel?kind=award_points", data=data, headers=HX
    )
    assert response.status_code == 200, response.text
    event = json.loads(response.headers["HX-Trigger"])["node-updated"]
    assert event["node"]["config"] == {
        "points": 200,
        "expires_in_days": None,
        "coupon_template_ids": ["NEW20", "VIP100"],
        "reason": "生日礼",
        "on_failure": "port",
    }
    assert event["meta"]["ports"] == ["next", "failed"]
    with use_locale("en"):
        assert event["meta"]["summary"] in (
            "+200 points · pack of 2 coupons",
            "+200 积分 · 礼包 2 张券",
        )

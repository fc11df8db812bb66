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
    offered = earlier_steps(doc, "b", node_labels(doc), SummaryContext())
    assert ("p", "生日积分") in offered
    # from the registry: every kind whose recorded values a branch compares, e.g. whether
    # the message failed
    assert [i for i, _name in offered] == ["m", "p"]


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


def _award_over(client: TestClient, points: int) -> str:
    doc = _document()
    doc["nodes"][1]["config"]["points"] = points
    doc["nodes"][2]["config"]["content"] = "{{ customer.name }}，积分到账"
    doc["nodes"] = doc["nodes"][:3] + [{"id": "x", "kind": "exit"}]
    doc["edges"][2] = {"id": "e2", "source": "m", "source_port": "next", "target": "x"}
    return create_journey(client, {"name": "积分上限", **doc})


def test_the_chain_sets_its_points_per_step_and_journeys_are_checked_against_it(
    client: TestClient,
) -> None:
    """Issue 13: the per-step maximum is the chain's setting (API and policy page), recorded
    with the policy's changes, and the next validate and test run check journeys against it."""
    jid = _award_over(client, 600)
    assert client.get("/api/policy/points").json() == {"max_points_per_step": 10_000}
    assert not client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]

    r = client.put("/api/policy/points", json={"max_points_per_step": 500})
    assert r.status_code == 200 and r.json() == {"max_points_per_step": 500}
    [diag] = client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]
    assert (diag["code"], diag["node_ids"]) == ("INVALID_CONFIG", ["p"])
    assert "Points: must be at most 500" in diag["message"]
    test_run = client.post(f"/journeys/{jid}/test-run", json={})
    assert test_run.status_code == 422 and "500" in test_run.text

    policy = client.get("/api/policy").json()
    assert policy["max_points_per_step"] == 500
    change = policy["changes"][0]
    assert (change["subject"], change["old"], change["new"]) == (
        "max_points_per_step",
        "10000",
        "500",
    )


def test_points_per_step_refuses_bad_input_naming_the_field(client: TestClient) -> None:
    for bad in (0, -5, 1_000_001):
        r = client.put("/api/policy/points", json={"max_points_per_step": bad})
        assert r.status_code == 422 and "max_points_per_step" in r.json()["detail"]
    assert client.put("/api/policy/points", json={"max_points_per_step": "lots"}).status_code == 422
    for text in ("²", "1e3", "-3", ""):
        odd = client.post("/policy/points", data={"max_points_per_step": text}, headers=HX)
        assert odd.status_code == 422, text
    page = client.post("/policy/points", data={"max_points_per_step": "lots"}, headers=HX)
    assert page.status_code == 422
    assert 'id="polerr-max_points_per_step"' in page.text and 'value="lots"' in page.text
    assert client.get("/api/policy/points").json() == {"max_points_per_step": 10_000}


def test_the_policy_page_saves_points_per_step_and_lists_the_change(client: TestClient) -> None:
    page = client.post("/policy/points", data={"max_points_per_step": "2,000"}, headers=HX)
    assert page.status_code == 200 and 'value="2000"' in page.text
    assert 'data-subject="max_points_per_step"' in page.text
    assert client.get("/api/policy/points").json() == {"max_points_per_step": 2000}
    again = client.post("/policy/points", data={"max_points_per_step": "2000"}, headers=HX)
    assert again.status_code == 200 and again.text.count('data-subject="max_points_per_step"') == 1

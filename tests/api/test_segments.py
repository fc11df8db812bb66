"""Segments through the HTTP API: save, preview, where used; bad rules → 422 naming the rule;
a journey entering by an empty segment publishes with a warning; unknown segment refused."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlmodel import Session

from db.models import CouponTemplate
from db.seed import seed_demo
from tests.canvas_ui.harness import create_journey, linear_document

pytest_plugins = ("tests.canvas_ui.harness",)

DORMANT = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 90}]}


@pytest.fixture
def shop(canvas_app: FastAPI, client: TestClient) -> TestClient:
    with Session(canvas_app.state.engine) as session:
        # the harness made NEW20; the demo chain brings it (and the rest) itself
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=200)
    return client


def _problems(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    return list(response.json()["problems"])


def test_save_preview_and_where_used(shop: TestClient) -> None:
    preview = shop.post("/api/segments/preview", json={"definition": DORMANT, "sample": 3})
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["count"] > 0 and len(body["sample"]) == 3
    saved = shop.post(
        "/api/segments", json={"id": "dormant_90d", "name": "沉睡90天", "definition": DORMANT}
    )
    assert saved.status_code == 201, saved.text
    again = shop.post(
        "/api/segments", json={"id": "dormant_90d", "name": "dup", "definition": DORMANT}
    )
    assert again.status_code == 409
    doc = copy.deepcopy(linear_document("沉睡唤醒"))
    doc["nodes"][0]["config"]["trigger"] = {"type": "segment", "segment_id": "dormant_90d"}
    journey_id = create_journey(shop, doc)
    used = shop.get("/api/segments/dormant_90d").json()["used_by"]
    assert [(u["journey_id"], u["in_draft"]) for u in used] == [(journey_id, True)]
    assert shop.delete("/api/segments/dormant_90d").status_code == 409
    fields = {f["name"] for f in shop.get("/api/segments/fields").json()["fields"]}
    assert {"rfm_class", "r_days", "birthday_month", "region_id"} <= fields


@pytest.mark.parametrize(
    ("rule", "code", "words"),
    [
        (
            {"type": "field", "field": "member_levl", "op": "eq", "value": "gold"},
            "UNKNOWN_FIELD",
            "did you mean 'member_level'",
        ),
        (
            {"type": "field", "field": "r_days", "op": "gte", "value": "ninety"},
            "WRONG_VALUE_TYPE",
            "expected a whole number",
        ),
        (
            {"type": "field", "field": "rfm_class", "op": "gt", "value": "重要价值"},
            "OP_NOT_ALLOWED",
            "does not apply to rfm_class",
        ),
        (
            {"type": "field", "field": "member_level", "op": "eq", "value": "platinum"},
            "UNKNOWN_VALUE",
            "unknown value 'platinum'",
        ),
        (
            {"type": "event", "event_type": "browse", "window_days": 0, "op": "gte", "value": 2},
            "IMPOSSIBLE_WINDOW",
            "window of 0 days is impossible",
        ),
        (
            {"type": "event", "event_type": "browse", "window_days": "week"},
            "WRONG_VALUE_TYPE",
            "window_days",
        ),
        ({"type": "coupon", "state": "expiring"}, "IMPOSSIBLE_WINDOW", "needs within_days"),
        (
            {"type": "field", "field": "m_amount", "op": "between", "value": [500, 100]},
            "IMPOSSIBLE_WINDOW",
            "range 500–100 is empty",
        ),
        ({"type": "segmentz"}, "INVALID_RULE", "unknown rule type 'segmentz'"),
    ],
)
def test_bad_rule_is_a_422_naming_the_rule(
    shop: TestClient, rule: dict[str, Any], code: str, words: str
) -> None:
    good = {"type": "tag", "tags": ["孕期"]}
    definition = {
        "rules": [good, {"type": "group", "match": "any", "rules": [good, {**rule, "id": "r-bad"}]}]
    }
    for response in (
        shop.post("/api/segments/preview", json={"definition": definition}),
        shop.post("/api/segments", json={"id": "x", "name": "x", "definition": definition}),
    ):
        [problem] = _problems(response)
        assert problem["code"] == code
        assert problem["rule"] == "rules[1].rules[1]" and problem["label"] == "2.2"
        assert problem["message"].startswith("Rule 2.2: ") and words in problem["message"]
        if code != "INVALID_RULE":
            assert problem["rule_id"] == "r-bad"


def test_every_problem_is_listed_and_groups_nest_once(shop: TestClient) -> None:
    definition = {
        "rules": [
            {"type": "field", "field": "nope", "op": "eq", "value": 1},
            {"type": "group", "rules": [{"type": "group", "rules": []}]},
            {"type": "group", "rules": []},
        ]
    }
    problems = _problems(shop.post("/api/segments/preview", json={"definition": definition}))
    assert [(p["label"], p["code"]) for p in problems] == [("2.1", "NESTED_GROUP")]
    definition["rules"] = [definition["rules"][0], definition["rules"][2]]
    problems = _problems(shop.post("/api/segments/preview", json={"definition": definition}))
    assert [(p["label"], p["code"]) for p in problems] == [
        ("1", "UNKNOWN_FIELD"),
        ("2", "EMPTY_GROUP"),
    ]


def test_empty_audience_publishes_with_a_warning(shop: TestClient) -> None:
    nobody = {"rules": [{"type": "field", "field": "r_days", "op": "gt", "value": 700}]}
    assert (
        shop.post(
            "/api/segments", json={"id": "nobody", "name": "没人", "definition": nobody}
        ).status_code
        == 201
    )
    doc = copy.deepcopy(linear_document("空人群"))
    doc["nodes"][0]["config"]["trigger"] = {"type": "segment", "segment_id": "nobody"}
    journey_id = create_journey(shop, doc)
    published = shop.post(f"/api/journeys/{journey_id}/publish")
    assert published.status_code == 200, published.text
    warnings = {d["code"]: d for d in published.json()["diagnostics"]}
    assert warnings["EMPTY_AUDIENCE"]["severity"] == "warning"
    assert "has no customers right now" in warnings["EMPTY_AUDIENCE"]["message"]
    assert "matches no customers" in warnings["EMPTY_AUDIENCE"]["detail"]


def test_unknown_segment_refuses_publish(shop: TestClient) -> None:
    doc = copy.deepcopy(linear_document("没有人群"))
    doc["nodes"][0]["config"]["trigger"] = {"type": "segment", "segment_id": "dormat_90d"}
    shop.post("/api/segments", json={"id": "dormant_90d", "name": "沉睡", "definition": DORMANT})
    journey_id = create_journey(shop, doc)
    refused = shop.post(f"/api/journeys/{journey_id}/publish")
    errors = [d for d in refused.json()["diagnostics"] if d["severity"] == "error"]
    assert refused.status_code == 422 and [e["code"] for e in errors] == ["UNKNOWN_SEGMENT"]
    assert "dormat_90d" in errors[0]["message"]
    assert "Did you mean" in errors[0]["hint"] and "dormant_90d" in errors[0]["hint"]


def test_count_is_taken_on_demand_and_remembered(shop: TestClient) -> None:
    """The list's "Customers" (issue 18, item 9) through the API: counted, remembered, kept
    while fresh when only stale counts are wanted."""
    shop.post(
        "/api/segments", json={"id": "dormant_90d", "name": "沉睡90天", "definition": DORMANT}
    )
    assert shop.get("/api/segments/dormant_90d").json()["last_count"] is None
    expected = shop.post("/api/segments/preview", json={"definition": DORMANT}).json()["count"]
    counted = shop.post("/api/segments/dormant_90d/count")
    assert counted.status_code == 200, counted.text
    body = counted.json()
    assert body["count"] == expected and body["counted_at"] and body["error"] is None
    stored = shop.get("/api/segments/dormant_90d").json()
    assert (stored["last_count"], stored["last_counted_at"]) == (expected, body["counted_at"])
    kept = shop.post("/api/segments/dormant_90d/count", params={"only_if_stale": True}).json()
    assert kept["counted_at"] == body["counted_at"]
    assert shop.post("/api/segments/nope/count").status_code == 404

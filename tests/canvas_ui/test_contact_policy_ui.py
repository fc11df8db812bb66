"""The contact policy in test runs and the run view: a test run applies the brand's policy
to its synthetic customer, with scripted earlier contacts, and each step notes the decision
with the rule that caused it; the panel offers the policy fields of action steps."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from canvas_ui.run_notes import step_note
from services.run_explain import StepView
from tests.canvas_ui.harness import create_journey, linear_document


def _steps(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["node_id"]: s for s in answer["run"]["steps"]}


def test_a_test_run_skips_a_capped_coupon_and_names_the_cap(client: TestClient) -> None:
    policy = {"caps": [{"id": "coupon7", "channel": "coupon", "max_contacts": 1, "window_days": 7}]}
    assert client.put("/api/policy", json=policy).status_code == 200
    jid = create_journey(client)  # entry → wait 3 days → coupon → exit
    answer = client.post(
        f"/journeys/{jid}/test-run", json={"name": "李女士", "earlier_contacts": "coupon 2"}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    coupon = _steps(body)["coupon"]
    assert coupon["port"] == "next" and body["coupons"] == []
    assert coupon["note"].startswith("Skipped: frequency cap coupon7 reached (allowed again ")
    assert coupon["inputs"]["policy"][0]["rule"] == "coupon7"
    # the marketers' words for channels ("优惠券 2") read the same
    zh = client.post(
        f"/journeys/{jid}/test-run", json={"name": "李女士", "earlier_contacts": "优惠券 2"}
    ).json()
    assert _steps(zh)["coupon"]["inputs"]["policy"][0]["decision"] == "skipped"
    # without the earlier contact the coupon is issued
    free = client.post(f"/journeys/{jid}/test-run", json={"name": "李女士"}).json()
    assert len(free["coupons"]) == 1 and "policy" not in _steps(free)["coupon"]["inputs"]


def test_a_test_run_defers_marketing_in_quiet_hours(client: TestClient) -> None:
    # a test run's day 0 is 10:00 in the journey's zone: the coupon comes at 10:00 on day 3
    policy = {"quiet_hours": {"start": "09:00", "end": "11:30"}}
    assert client.put("/api/policy", json=policy).status_code == 200
    jid = create_journey(client)
    body = client.post(f"/journeys/{jid}/test-run", json={"name": "李女士"}).json()
    coupon = _steps(body)["coupon"]
    assert coupon["note"].startswith("Deferred by quiet hours (09:00–11:30 Asia/Shanghai) until ")
    assert "11:30" in coupon["note"] and len(body["coupons"]) == 1
    zh = client.post(
        f"/journeys/{jid}/test-run",
        json={"name": "李女士"},
        headers={"Accept-Language": "zh-CN"},
    ).json()
    assert _steps(zh)["coupon"]["note"].startswith(
        "因免打扰时段（09:00–11:30 Asia/Shanghai）顺延至"
    )


def test_a_test_run_of_a_real_customer_counts_their_real_contacts(
    client: TestClient, canvas_app: Any
) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlmodel import Session, select

    from db.crud import contact_policy as policy_crud
    from db.models import Customer

    policy = {"caps": [{"id": "coupon7", "channel": "coupon", "max_contacts": 1, "window_days": 7}]}
    assert client.put("/api/policy", json=policy).status_code == 200
    with Session(canvas_app.state.engine) as s:
        customer = s.exec(select(Customer)).first()
        if customer is None:
            customer = Customer(id="CREAL", name="王女士")
            s.add(customer)
            s.commit()
        customer_id = customer.id
    with Session(canvas_app.state.engine) as s:  # another journey gave them a coupon
        policy_crud.check_contact(
            session=s,
            decision_key="elsewhere@1",
            customer_id=customer_id,
            channel="coupon",
            category="marketing",
            at=datetime.now(UTC) - timedelta(days=1),
            default_zone="Asia/Shanghai",
        )
    jid = create_journey(client)
    body = client.post(f"/journeys/{jid}/test-run", json={"customer_id": customer_id}).json()
    assert _steps(body)["coupon"]["inputs"]["policy"][0]["rule"] == "coupon7"


def test_unreadable_earlier_contacts_are_a_422(client: TestClient) -> None:
    jid = create_journey(client)
    refused = client.post(f"/journeys/{jid}/test-run", json={"earlier_contacts": "fax 2"})
    assert refused.status_code == 422
    assert "earlier contacts" in refused.json()["detail"]


def test_a_capped_step_notes_the_cap_and_the_port() -> None:
    step = StepView(
        index=0,
        node_id="m",
        kind="send_message",
        visit=1,
        at="2026-05-04T02:00:00+00:00",
        finished_at=None,
        port="capped",
        next_node=None,
        summary="",
        inputs={
            "policy": [
                {
                    "decision": "capped",
                    "rule": "mkt7",
                    "detail": "2 per 7 days (message)",
                    "until": "2026-05-08T02:00:00+00:00",
                }
            ]
        },
        result={"capped": True, "cap": "mkt7"},
        error=None,
    )
    # outside a request the default language (zh-CN)
    assert step_note(step, "Asia/Shanghai") == (
        "达到频次上限 mkt7（05-08 10:00 后可再触达）：走“已达上限”出口"
    )


def test_the_panel_offers_the_contact_fields(client: TestClient) -> None:
    doc = linear_document()
    doc["nodes"][2]["config"] |= {"when_capped": "wait"}
    jid = create_journey(client, doc)
    panel = client.get(f"/journeys/{jid}/nodes/coupon/panel").text
    assert "Contact category" in panel and "If a frequency cap is reached" in panel
    assert "Take the &#39;capped&#39; port" in panel or "Take the 'capped' port" in panel
    assert "Wait at most" in panel


def test_a_too_long_cap_wait_is_named_in_the_users_words(client: TestClient) -> None:
    doc = linear_document()
    doc["nodes"][2]["config"] |= {"when_capped": "wait", "max_wait": {"amount": 31, "unit": "days"}}
    jid = create_journey(client, doc)
    diagnostics = client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]
    [problem] = [d for d in diagnostics if d["code"] == "INVALID_WAIT"]
    assert "“Wait at most” is longer than 30 days" in problem["message"]
    zh = client.post(f"/api/journeys/{jid}/validate", headers={"Accept-Language": "zh-CN"})
    [problem] = [d for d in zh.json()["diagnostics"] if d["code"] == "INVALID_WAIT"]
    assert "“最多等待”超过了 30 天" in problem["message"]


def test_an_action_at_any_hour_is_a_warning_until_quiet_hours_are_set(client: TestClient) -> None:
    doc = linear_document()  # entry → wait 3 days (no window) → message → exit
    doc["nodes"][2] |= {"kind": "send_message", "config": {"content": "新品到店"}}
    jid = create_journey(client, doc)
    diagnostics = client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]
    [warning] = [d for d in diagnostics if d["code"] == "ACTION_WITHOUT_WINDOW"]
    assert warning["severity"] == "warning" and warning["node_ids"] == ["coupon"]
    assert "at any hour (even at 03:00)" in warning["message"]
    assert "Contact policy page" in warning["hint"]
    policy = {"quiet_hours": {"start": "21:00", "end": "08:00"}}
    assert client.put("/api/policy", json=policy).status_code == 200
    again = client.post(f"/api/journeys/{jid}/validate").json()["diagnostics"]
    assert not [d for d in again if d["code"] == "ACTION_WITHOUT_WINDOW"]


def test_the_canvas_draws_the_capped_port_when_chosen() -> None:
    from canvas_ui.summaries import SummaryContext, node_meta

    raw = {
        "id": "m",
        "kind": "send_message",
        "config": {"content": "hi", "when_capped": "port", "on_failure": "port"},
    }
    meta = node_meta(raw, SummaryContext())
    assert meta["ports"] == ["next", "capped", "failed"]
    assert meta["port_labels"]["capped"] == "已达上限"  # outside a request: zh-CN
    raw["config"]["when_capped"] = "skip"
    assert node_meta(raw, SummaryContext())["ports"] == ["next", "failed"]

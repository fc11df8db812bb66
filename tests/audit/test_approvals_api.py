"""Launch approval through the API (issue 17 item 4): the chain's setting, submission with a
diff against the live version, who may decide (never the submitter: 403; an HQ marketer
without ``approve_journeys``: 403), an approved version goes live, a rejected one does not;
campaign dates (422 naming ``ends_at``)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.audit.conftest import login_as
from tests.canvas_ui.harness import create_journey, linear_document


def _require_approval(client: TestClient) -> None:
    r = client.put("/api/policy/approval", json={"required": True})
    assert r.status_code == 200 and r.json() == {"required": True}


def test_publishing_needs_approval_once_the_setting_is_on(team: dict[str, TestClient]) -> None:
    hq, lead = team["hq"], team["lead"]
    jid = create_journey(hq)
    assert hq.post(f"/api/journeys/{jid}/publish").status_code == 200  # setting off: as ever
    _require_approval(hq)
    doc = linear_document()
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 5
    hq.put(f"/api/journeys/{jid}", json=doc)
    refused = hq.post(f"/api/journeys/{jid}/publish")
    assert refused.status_code == 409 and "approval" in refused.json()["detail"]

    sub = hq.post(f"/api/journeys/{jid}/approvals", json={"note": "wait 5 days"})
    assert sub.status_code == 201, sub.text
    body = sub.json()
    assert body["status"] == "pending" and body["base_version"] == 1
    assert [c["id"] for c in body["diff"]["changed"]] == ["wait"]
    assert "config.until" in body["diff"]["changed"][0]["fields"]
    assert body["diff"]["added"] == [] and body["diff"]["removed"] == []
    assert body["backtest"]["url"] == f"/journeys/{jid}/backtest"

    # the draft moves on after submitting: what goes live is what was submitted
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 9
    hq.put(f"/api/journeys/{jid}", json=doc)
    approved = lead.post(f"/api/approvals/{body['id']}/approve", json={"comment": "ok"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["version"] == 2
    v2 = hq.get(f"/api/journeys/{jid}/versions/2").json()
    assert v2["document"]["nodes"][1]["config"]["until"]["duration"]["amount"] == 5
    assert v2["published_by"] == "lead"
    again = lead.post(f"/api/approvals/{body['id']}/approve", json={})
    assert again.status_code == 409


def test_who_may_decide(team: dict[str, TestClient]) -> None:
    hq, lead, admin, hq2 = team["hq"], team["lead"], team["admin"], team["hq2"]
    _require_approval(admin)
    jid = create_journey(hq)
    aid = hq.post(f"/api/journeys/{jid}/approvals", json={}).json()["id"]
    own = hq.post(f"/api/approvals/{aid}/approve", json={})
    assert own.status_code == 403 and "someone else" in own.json()["detail"]
    assert hq.post(f"/api/approvals/{aid}/reject", json={"comment": "no"}).status_code == 403
    marketer = hq2.post(f"/api/approvals/{aid}/approve", json={})
    assert marketer.status_code == 403 and "allowed to approve" in marketer.json()["detail"]
    assert hq.get(f"/api/journeys/{jid}").json()["journey"]["status"] == "draft"

    # a lead's own submission: the lead cannot approve it, an admin can
    lead_sub = lead.post(f"/api/journeys/{jid}/approvals", json={}).json()["id"]
    assert lead.post(f"/api/approvals/{lead_sub}/approve", json={}).status_code == 403
    assert admin.post(f"/api/approvals/{lead_sub}/approve", json={}).status_code == 200
    # the earlier submission was withdrawn by the newer one
    assert hq.get(f"/api/approvals/{aid}").json()["status"] == "withdrawn"


def test_rejected_version_does_not_go_live(team: dict[str, TestClient]) -> None:
    hq, lead = team["hq"], team["lead"]
    _require_approval(hq)
    jid = create_journey(hq)
    aid = hq.post(f"/api/journeys/{jid}/approvals", json={}).json()["id"]
    no_comment = lead.post(f"/api/approvals/{aid}/reject", json={"comment": "  "})
    assert no_comment.status_code == 422
    assert no_comment.json()["errors"][0]["field"] == "comment"
    rejected = lead.post(f"/api/approvals/{aid}/reject", json={"comment": "coupon too big"})
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_comment"] == "coupon too big"
    journey = hq.get(f"/api/journeys/{jid}").json()["journey"]
    assert journey["status"] == "draft" and journey["live_version"] is None
    assert hq.get(f"/api/journeys/{jid}/versions").json() == []
    assert lead.post(f"/api/approvals/{aid}/approve", json={}).status_code == 409
    listed = lead.get("/api/approvals", params={"status": "rejected"}).json()
    assert [a["id"] for a in listed] == [aid]
    bad = lead.get("/api/approvals", params={"status": "maybe"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.status"


def test_an_invalid_draft_is_not_submitted(team: dict[str, TestClient]) -> None:
    hq = team["hq"]
    jid = create_journey(hq)
    doc = linear_document()
    doc["nodes"][2]["config"]["template_id"] = "NOPE"
    hq.put(f"/api/journeys/{jid}", json=doc)
    refused = hq.post(f"/api/journeys/{jid}/approvals", json={})
    assert refused.status_code == 422 and refused.json()["diagnostics"]
    assert hq.get("/api/approvals").json() == []


def test_only_admin_grants_the_permission_and_only_to_hq(
    canvas_app: FastAPI, team: dict[str, TestClient]
) -> None:
    admin = team["admin"]
    accounts_list = admin.get("/api/accounts").json()
    hq2 = next(a for a in accounts_list if a["username"] == "hq2")
    granted = admin.put(
        f"/api/accounts/{hq2['id']}/permissions", json={"permissions": ["approve_journeys"]}
    )
    assert granted.status_code == 200 and granted.json()["permissions"] == ["approve_journeys"]
    # the accounts page: take it back, then give it again
    page = admin.post(f"/accounts/{hq2['id']}/permissions", data={"approve_journeys": ""})
    assert page.status_code == 200 and "Allow to approve launches" in page.text
    listed = {a["username"]: a["permissions"] for a in admin.get("/api/accounts").json()}
    assert listed["hq2"] == []
    page = admin.post(f"/accounts/{hq2['id']}/permissions", data={"approve_journeys": "1"})
    assert "Stop approving launches" in page.text
    guide = login_as(canvas_app, "guide1", "guide")  # noqa: F841 - an account to refuse
    gid = next(a["id"] for a in admin.get("/api/accounts").json() if a["username"] == "guide1")
    refused = admin.put(
        f"/api/accounts/{gid}/permissions", json={"permissions": ["approve_journeys"]}
    )
    assert refused.status_code == 422 and "permissions" in refused.json()["detail"]
    assert (
        team["hq"].put(f"/api/accounts/{gid}/permissions", json={"permissions": []}).status_code
        == 403
    )


def test_campaign_dates(team: dict[str, TestClient]) -> None:
    hq = team["hq"]
    jid = create_journey(hq)
    backwards = hq.put(
        f"/api/journeys/{jid}/campaign",
        json={"starts_at": "2026-12-24T00:00:00+08:00", "ends_at": "2026-12-20T00:00:00+08:00"},
    )
    assert backwards.status_code == 422
    assert backwards.json()["errors"][0]["field"] == "ends_at"
    naive = hq.put(f"/api/journeys/{jid}/campaign", json={"starts_at": "2026-12-24T00:00:00"})
    assert naive.status_code == 422 and naive.json()["errors"][0]["field"] == "starts_at"
    ok = hq.put(
        f"/api/journeys/{jid}/campaign",
        json={"starts_at": "2026-12-20T00:00:00+08:00", "ends_at": "2026-12-27T00:00:00+08:00"},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["starts_at"].startswith("2026-12-19T16:00:00")
    assert ok.json()["schedules"] == []  # a draft: nothing scheduled until it is published
    unknown = hq.put("/api/journeys/nope/campaign", json={})
    assert unknown.status_code == 404

"""The audit log (issue 17 item 5): an entry for each change to journeys, segments, the
contact policy (its own change history kept) and accounts, written in the change's own
transaction; ``GET /api/audit`` and the ``/audit`` page with filters, pages and 422s naming
the field; admins and HQ only."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

from services import accounts
from tests.audit.conftest import login_as
from tests.canvas_ui.harness import create_journey, linear_document

DORMANT = {"rules": [{"type": "field", "field": "r_days", "op": "gte", "value": 90}]}
CAP = {"id": "mkt7", "channel": "message", "max_contacts": 2, "window_days": 7}


def _entries(client: TestClient, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/api/audit", params={"page_size": 200, **params})
    assert r.status_code == 200, r.text
    return list(r.json()["entries"])


def _actions(client: TestClient, **params: Any) -> list[tuple[str, str]]:
    """(actor, action) oldest first."""
    return [(e["actor"], e["action"]) for e in reversed(_entries(client, **params))]


def test_every_journey_action_is_recorded(team: dict[str, TestClient]) -> None:
    hq, lead = team["hq"], team["lead"]
    jid = create_journey(hq)  # create + save of the document
    assert hq.post(f"/api/journeys/{jid}/publish").status_code == 200
    assert hq.post(f"/api/journeys/{jid}/pause").status_code == 200
    assert hq.post(f"/api/journeys/{jid}/resume").status_code == 200
    assert hq.post(f"/api/journeys/{jid}/pause").status_code == 200
    assert hq.post(f"/api/journeys/{jid}/archive").status_code == 200
    assert hq.post(f"/api/journeys/{jid}/restore").status_code == 200
    doc = linear_document()
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 4
    hq.put(f"/api/journeys/{jid}", json=doc)
    aid = hq.post(f"/api/journeys/{jid}/approvals", json={}).json()["id"]
    assert lead.post(f"/api/approvals/{aid}/reject", json={"comment": "no"}).status_code == 200
    aid = hq.post(f"/api/journeys/{jid}/approvals", json={}).json()["id"]
    assert lead.post(f"/api/approvals/{aid}/approve", json={}).status_code == 200
    hq.put(
        f"/api/journeys/{jid}/campaign",
        json={"starts_at": "2026-12-20T00:00:00+08:00", "ends_at": "2026-12-27T00:00:00+08:00"},
    )
    actions = [a for _, a in _actions(hq, object_type="journey", object_id=jid)]
    assert actions == [
        "create", "publish", "pause", "resume", "pause", "archive", "restore",
        "save", "submit", "reject", "submit", "approve", "publish", "campaign",
    ]  # fmt: skip
    entries = _entries(hq, object_id=jid)
    pause = next(e for e in entries if e["action"] == "pause")
    assert pause["before"] == {"status": "live"} and pause["after"] == {"status": "paused"}
    publish = next(e for e in entries if e["action"] == "publish")  # newest: by the approver
    assert publish["actor"] == "lead" and publish["after"]["live_version"] == 2
    save = next(e for e in entries if e["action"] == "save")
    assert "1 step(s) changed" in save["summary"]
    campaign = entries[0]
    assert campaign["action"] == "campaign" and campaign["before"]["starts_at"] is None
    assert campaign["after"]["ends_at"].startswith("2026-12-26T16:00:00")


def test_segments_policy_and_accounts_are_recorded(
    canvas_app: FastAPI, team: dict[str, TestClient]
) -> None:
    hq, admin = team["hq"], team["admin"]
    seg = {"id": "dormant_90d", "name": "沉睡90天", "definition": DORMANT}
    assert hq.post("/api/segments", json=seg).status_code == 201
    # a refused change leaves no entry: the entry was in the same transaction
    assert hq.post("/api/segments", json=seg).status_code == 409
    assert hq.put("/api/segments/dormant_90d", json={**seg, "name": "沉睡"}).is_success
    assert hq.delete("/api/segments/dormant_90d").status_code == 204
    segs = _entries(hq, object_type="segment")
    assert [e["action"] for e in reversed(segs)] == ["create", "update", "delete"]
    update = segs[1]
    assert update["before"]["name"] == "沉睡90天" and update["after"]["name"] == "沉睡"

    body = {"quiet_hours": {"start": "21:00", "end": "08:00"}, "caps": [CAP]}
    assert hq.put("/api/policy", json=body).status_code == 200
    assert hq.put("/api/policy/approval", json={"required": True}).status_code == 200
    assert hq.post("/api/policy/groups", json={"name": "VIP"}).status_code == 201
    policy = {(e["object_id"], e["before"], e["after"]) for e in _entries(hq, object_type="policy")}
    assert ("quiet_hours", None, "21:00-08:00") in policy
    assert ("cap:mkt7", None, "2/7/message/all") in policy
    assert ("publish_requires_approval", "off", "on") in policy
    assert [e["object_id"] for e in _entries(hq, object_type="priority_group")] == ["group:VIP"]
    # the policy page keeps its own history
    subjects = {c["subject"] for c in hq.get("/api/policy").json()["changes"]}
    assert {"quiet_hours", "cap:mkt7", "publish_requires_approval", "group:VIP"} <= subjects

    made = admin.post(
        "/api/accounts", json={"username": "ops1", "password": "long-enough", "role": "hq"}
    )
    assert made.status_code == 201, made.text
    uid = made.json()["id"]
    admin.post(f"/api/accounts/{uid}/password", json={"password": "another-one"})
    admin.post(f"/api/accounts/{uid}/active", json={"active": False})
    admin.put(f"/api/accounts/{uid}/permissions", json={"permissions": ["approve_journeys"]})
    acts = _entries(admin, object_type="account", object_id="ops1")
    assert [(e["actor"], e["action"]) for e in reversed(acts)] == [
        ("boss", "create"),
        ("boss", "password"),
        ("boss", "deactivate"),
        ("boss", "update"),
    ]
    assert all("another-one" not in str(e) and "long-enough" not in str(e) for e in acts)
    assert acts[0]["after"] == {"permissions": ["approve_journeys"]}


def test_filters_pages_and_bad_filters(team: dict[str, TestClient]) -> None:
    hq, lead = team["hq"], team["lead"]
    for name in ("a", "b", "c"):
        create_journey(hq, linear_document(name))
    create_journey(lead, linear_document("d"))
    assert {e["actor"] for e in _entries(hq, actor="lead")} == {"lead"}
    assert all(e["action"] == "create" for e in _entries(hq, action="create"))
    first = hq.get("/api/audit", params={"action": "create", "page_size": 3}).json()
    assert first["total"] == 4 and first["pages"] == 2 and len(first["entries"]) == 3
    second = hq.get("/api/audit", params={"action": "create", "page_size": 3, "page": 2}).json()
    assert len(second["entries"]) == 1
    assert not {e["id"] for e in first["entries"]} & {e["id"] for e in second["entries"]}
    assert _entries(hq, since="2999-01-01T00:00:00Z") == []
    for params, field in (
        ({"object_type": "coupon"}, "query.object_type"),
        ({"action": "explode"}, "query.action"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "query.until"),
        ({"page_size": 0}, "query.page_size"),
        ({"since": "yesterday"}, "query.since"),
    ):
        bad = hq.get("/api/audit", params=params)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.json()["errors"][0]["field"] == field
    schema = hq.get("/openapi.json").json()
    assert "/api/audit" in schema["paths"]


def test_the_page_and_who_may_open_it(canvas_app: FastAPI, team: dict[str, TestClient]) -> None:
    hq = team["hq"]
    jid = create_journey(hq, linear_document("生日关怀"))
    hq.post(f"/api/journeys/{jid}/publish")
    hq.post(f"/api/journeys/{jid}/pause")
    doc = linear_document("生日关怀")
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 4
    hq.put(f"/api/journeys/{jid}", json=doc)
    page = hq.get("/audit", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and 'data-action="create"' in page.text
    # the facts worded in the reader's language
    assert "版本 1 上线" in page.text and "运行中 → 已暂停" in page.text
    assert "新增 0 · 删除 0 · 修改 1" in page.text
    filtered = hq.get("/audit", params={"action": "publish"}, headers={"HX-Request": "true"})
    assert filtered.status_code == 200 and 'data-action="create"' not in filtered.text
    backwards = hq.get("/audit", params={"from": "2026-12-05", "to": "2026-12-01"})
    assert backwards.status_code == 200 and 'data-field="to"' in backwards.text
    with Session(canvas_app.state.engine) as session:
        accounts.create_user(session=session, username="mgr", password="pw-mgr-123", role="guide")
    guide = login_as(canvas_app, "guide9", "guide")
    assert guide.get("/api/audit").status_code == 403
    assert guide.get("/audit").status_code == 403

"""Launch approval in Chromium (zh-CN): with the chain's "publishing requires approval" on,
the editor offers "提交审批" instead of publishing; the marketer submits, cannot decide their
own submission; the approver (an HQ lead) sees the diff against the live version with the
steps' summaries, rejects without a comment (refused in place), rejects with one (the editor
shows it), and approves the next submission: version 2 goes live."""

from __future__ import annotations

from pathlib import Path

import httpx
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect
from sqlmodel import Session

from services import accounts
from tests.canvas_ui.harness import linear_document
from tests.ui.conftest import LiveServer


def _lead_page(browser: Browser, live_server: LiveServer, app: FastAPI) -> Page:
    with Session(app.state.engine) as session:
        account = accounts.create_user(
            session=session, username="lead", password="lead-pass-1", role="hq"
        )
        account.permissions = "approve_journeys"
        session.add(account)
        session.commit()
        _p, cookie = accounts.login(
            session=session,
            username="lead",
            password="lead-pass-1",
            secret=app.state.settings.secret_key,
        )
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 1440, "height": 900}, locale="zh-CN"
    )
    context.add_cookies(
        [{"name": accounts.SESSION_COOKIE, "value": cookie, "url": live_server.url}]
    )
    return context.new_page()


def test_submit_reject_and_approve(
    page: Page,
    browser: Browser,
    live_server: LiveServer,
    canvas_app: FastAPI,
    client_for: httpx.Client,
    artifacts: Path,
) -> None:
    created = client_for.post(
        "/api/journeys", json={"name": "新客二回", "document": linear_document()}
    )
    jid = created.json()["id"]
    assert client_for.post(f"/api/journeys/{jid}/publish").status_code == 200
    assert client_for.put("/api/policy/approval", json={"required": True}).status_code == 200
    doc = linear_document()
    doc["nodes"][1]["config"]["until"]["duration"]["amount"] = 5
    assert client_for.put(f"/api/journeys/{jid}", json=doc).status_code == 200

    # the marketer: no publish button, "submit for approval" instead
    page.goto(f"/journeys/{jid}/edit")
    expect(page.locator('[data-cmd="publish"]')).to_have_count(0)
    page.locator("#approval-note").fill("等待改为 5 天")
    page.locator("#submit-approval").click()
    state = page.locator("#approval-state")
    expect(state).to_have_attribute("data-status", "pending")
    expect(state).to_contain_text("待审批")
    approval_url = state.locator("a").get_attribute("href")
    assert approval_url and approval_url.startswith("/approvals/")
    page.goto(approval_url)
    expect(page.locator("#own-submission")).to_be_visible()
    expect(page.locator("#approve-open")).to_have_count(0)

    lead = _lead_page(browser, live_server, canvas_app)
    lead.goto("/approvals")
    lead.locator("#approval-table a", has_text="新客二回").click()
    changed = lead.locator('#approval-diff tr.diff-changed[data-node="wait"]')
    expect(changed).to_contain_text("等待 5 天")
    expect(changed).to_contain_text("等待 3 天")
    expect(lead.locator("#approval-backtest a")).to_have_attribute(
        "href", f"/journeys/{jid}/backtest"
    )
    lead.screenshot(path=str(artifacts / "approval-detail.png"), full_page=True)
    lead.locator("#reject-open").click()
    lead.locator("#reject-confirm").click()
    expect(lead.locator("#reject-error")).to_contain_text("请说明驳回原因")
    lead.locator("#reject-open").click()
    lead.locator("#reject-comment").fill("券门槛太低")
    lead.locator("#reject-confirm").click()
    expect(lead.locator("#approval-status")).to_have_attribute("data-status", "rejected")

    page.goto(f"/journeys/{jid}/edit")
    expect(page.locator("#approval-state")).to_contain_text("券门槛太低")
    assert client_for.get(f"/api/journeys/{jid}").json()["journey"]["live_version"] == 1

    page.locator("#submit-approval").click()
    expect(page.locator("#approval-state")).to_have_attribute("data-status", "pending")
    lead.goto("/approvals?status=pending")
    lead.locator("#approval-table a", has_text="新客二回").click()
    lead.locator("#approve-open").click()
    lead.locator("#approve-comment").fill("同意")
    lead.locator("#approve-confirm").click()
    expect(lead.locator("#approval-status")).to_have_attribute("data-status", "approved")
    expect(lead.locator(".notice.ok")).to_contain_text("版本 2 已上线")
    lead.screenshot(path=str(artifacts / "approval-approved.png"), full_page=True)
    journey = client_for.get(f"/api/journeys/{jid}").json()["journey"]
    assert journey["live_version"] == 2 and journey["status"] == "live"

    page.goto("/audit?action=approve")
    expect(page.locator('#audit-table tr[data-action="approve"]')).to_contain_text("lead")
    page.screenshot(path=str(artifacts / "audit-log.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]
    lead.context.close()

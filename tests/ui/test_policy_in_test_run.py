"""In Chromium (zh-CN): a test run under the brand's contact policy, with an earlier contact
typed in the form, shows at the coupon step that quiet hours deferred it and which cap then
skipped it; the step pane names the decision's parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import expect

from tests.canvas_ui.harness import linear_document


def test_a_test_run_shows_the_policys_decisions(
    page: Any, client_for: httpx.Client, artifacts: Path
) -> None:
    policy = {
        "quiet_hours": {"start": "09:00", "end": "11:30"},
        "caps": [{"id": "coupon7", "channel": "coupon", "max_contacts": 1, "window_days": 7}],
    }
    assert client_for.put("/api/policy", json=policy).status_code == 200
    doc = linear_document()  # entry → wait 3 days → coupon → exit; day 0 is 10:00
    created = client_for.post("/api/journeys", json={"name": doc["name"], "document": doc})
    assert created.status_code == 201, created.text
    page.goto(f"/journeys/{created.json()['id']}/test-run")
    page.wait_for_function("document.getElementById('canvas').dataset.ready === 'true'")
    expect(page.locator("input[name=earlier_contacts]")).to_have_attribute(
        "placeholder", "短信 2, 优惠券 5"
    )
    page.fill("input[name=earlier_contacts]", "优惠券 2")
    page.click("text=开始测试")
    page.wait_for_function("document.getElementById('test-run-form').dataset.done === 'true'")
    coupon = page.locator("#run-timeline li", has_text="免打扰")
    expect(coupon).to_contain_text("因免打扰时段（09:00–11:30 Asia/Shanghai）顺延至")
    expect(coupon).to_contain_text("已跳过：达到频次上限 coupon7")
    coupon.click()
    pane = page.locator("#step-state")
    expect(pane).to_contain_text("触达策略")
    expect(pane).to_contain_text("coupon7")
    page.screenshot(path=str(artifacts / "policy-test-run.png"))
    assert page.errors == []

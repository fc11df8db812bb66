"""Real Chromium: every page and panel in zh-CN shows no English a user would have to read
(issue 18, item 14). The words looked for are those of the catalog's own source strings
(msgids the Chinese catalog translates): one of them on a Chinese page is a string that was
never passed through gettext, or a stored value (an operator, a level, an event, a port id)
shown as it is stored.

Identifiers stay as they are (C000123, dormant_90d, NEW20, {{ customer.name }}), and so do
a few names that are not translated in Chinese either (RFM, SMS, JSON, Temporal …).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI
from playwright.sync_api import Browser, Page
from sqlalchemy import delete
from sqlmodel import Session, select

from canvas_ui import i18n
from db.models import CouponTemplate, Customer, GuideTask, Segment
from db.seed import seed_demo
from services.accounts import DEMO_PASSWORD, seed_demo_users
from services.demo import DEMO_GUIDE
from tests.runs.harness import add_run, publish_every_kind, simulated_state
from tests.ui.conftest import LiveServer
from tests.ui.test_run_view import FakeGateway

pytestmark = pytest.mark.ui

#: English that stays English on a Chinese page: product and protocol names, units of code.
ALLOWED = {
    "rfm",
    "sms",
    "json",
    "csv",
    "api",
    "temporal",
    "ui",
    "url",
    "http",
    "https",
    "webhook",
    "hmac",
    "sha",
    "utf",
    "jinja",
    "html",
    "english",
    "hq",
    "ctrl",
    "shift",
    "del",
    "cmd",
    "id",
    "ids",
    "vip",
    "ab",
    "utc",
    "crm",
    # WeChat's own name of a follower's id, as Chinese operators and docs write it (OpenID)
    "openid",
}

#: Everything a person reads: the text, option labels, tooltips, placeholders, labels read
#: out by a screen reader, and the canvas's SVG text.
VISIBLE = """() => {
  // code (a script example, a login name, an id) stays as it is in every language
  let text = document.body.innerText;
  document.querySelectorAll('code, kbd').forEach((c) => {
    text = text.split(c.innerText).join(' ');
  });
  const out = [document.title, text];
  document.querySelectorAll('option').forEach((o) => out.push(o.textContent));
  document.querySelectorAll('[title]').forEach((e) => out.push(e.getAttribute('title')));
  document.querySelectorAll('[placeholder]')
    .forEach((e) => out.push(e.getAttribute('placeholder')));
  document.querySelectorAll('[aria-label]').forEach((e) => out.push(e.getAttribute('aria-label')));
  document.querySelectorAll('svg text').forEach((e) => out.push(e.textContent));
  return out.join('\\n');
}"""

#: A word on its own: not part of an identifier (dormant_90d, attrs.vip, a@b, /path, x-y).
WORD = re.compile(r"(?<![\w.@/{-])[A-Za-z]{2,}(?![\w.@/}(-])")


def catalog_words() -> set[str]:
    """The English words of the strings the Chinese catalog translates."""
    po = i18n.HERE / "zh_CN" / "LC_MESSAGES" / "messages.po"
    words: set[str] = set()
    for message in read_po(po.open("rb")):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        for text in ids:
            text = re.sub(r"%\(\w+\)[sd]|%[sd]|\{\w+\}", " ", text)
            words |= {w.lower() for w in WORD.findall(text) if len(w) >= 3}
    return words - ALLOWED


class Sweep:
    """Visits pages and collects the catalog's English words found on each."""

    def __init__(self, artifacts: Path) -> None:
        self.words = catalog_words()
        self.found: dict[str, set[str]] = {}
        self.artifacts = artifacts

    def check(self, page: Page, where: str, shot: str | None = None) -> None:
        text = page.evaluate(VISIBLE)
        english = {w for w in WORD.findall(text) if w.lower() in self.words}
        if english:
            # each word with a line it stands in, so a failure says where to look
            lines = text.splitlines()
            self.found[where] = {
                f"{w} ({next((ln.strip()[:80] for ln in lines if w in WORD.findall(ln)), '')})"
                for w in english
            }
        if shot:
            page.screenshot(path=str(self.artifacts / f"zh-{shot}.png"), full_page=True)

    def visit(
        self,
        page: Page,
        url: str,
        shot: str | None = None,
        ready: Callable[[Page], Any] | None = None,
    ) -> None:
        page.goto(url)
        page.wait_for_load_state("networkidle")
        if ready:
            ready(page)
        self.check(page, url, shot)


def _canvas_ready(page: Page) -> None:
    page.wait_for_function(
        "window.__canvasReady > 0 || document.getElementById('canvas').dataset.ready === 'true'"
    )


@pytest.fixture
def chain(canvas_app: FastAPI) -> dict[str, str]:
    """The demo chain, demo logins, a published journey of every kind with a run, a task."""
    engine = canvas_app.state.engine
    with Session(engine) as session:
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=60)
        seed_demo_users(session_or_engine=session)
        journey_id, journey = publish_every_kind(session)
        add_run(session, journey_id, "journey-every-kind-C1")
        customer = session.exec(select(Customer).where(Customer.guide_id == DEMO_GUIDE)).first()
        assert customer is not None
        now = datetime.now(UTC)
        session.add(
            GuideTask(
                id="T-zh",
                idempotency_key="test/T-zh",
                customer_id=customer.id,
                guide_id=DEMO_GUIDE,
                store_id=customer.store_id or "",
                task_type="call",
                title="券到期前回访",
                instructions="您好，您的券三天后到期",
                status="open",
                outcomes=["interested", "declined"],
                due_at=now + timedelta(hours=3),
                created_at=now,
                journey_id=journey_id,
                node_id="call",
            )
        )
        customer_id = customer.id
        session.commit()
        segment = session.exec(select(Segment)).first()
        segment_id = segment.id if segment else ""
    with ThreadPoolExecutor(1) as pool:
        state = pool.submit(asyncio.run, simulated_state(journey)).result()
    canvas_app.state.temporal = FakeGateway(state)
    return {
        "journey": journey_id,
        "customer": customer_id,
        "segment": segment_id,
    }


def test_every_page_reads_chinese(
    page: Page, browser: Browser, live_server: LiveServer, chain: dict[str, str], artifacts: Path
) -> None:
    sweep = Sweep(artifacts)
    jid = chain["journey"]
    sweep.visit(page, "/journeys", "journeys")
    sweep.visit(page, f"/journeys/{jid}/edit", "editor", _canvas_ready)
    nodes = page.evaluate("() => window.journeyCanvas.graph.getNodes().map((n) => n.id)")
    for node in nodes:
        sweep.visit(page, f"/journeys/{jid}/nodes/{node}/panel", None, _canvas_ready)
    sweep.visit(page, f"/journeys/{jid}/versions/1", "version", _canvas_ready)
    sweep.visit(page, f"/journeys/{jid}/test-run", None, _canvas_ready)
    page.locator("#test-run-form button[type=submit]").click()
    page.wait_for_selector('#test-run-form[data-done="true"]')
    for i in range(page.locator("#run-timeline li").count()):
        page.locator("#run-timeline li").nth(i).click()
        sweep.check(page, f"test run, step {i}")
    page.screenshot(path=str(artifacts / "zh-test-run.png"), full_page=True)
    sweep.visit(page, "/runs", "runs")
    sweep.visit(page, "/runs/journey-every-kind-C1", "run", _canvas_ready)
    for i in range(page.locator("#run-timeline li").count()):
        page.locator("#run-timeline li").nth(i).click()
        sweep.check(page, f"run, step {i}")
    sweep.visit(page, f"/customers?q={chain['customer']}", "customers")
    sweep.visit(page, "/segments", "segments")
    page.goto("/segments/new")
    for kind in ("＋ 属性 / 价值", "＋ 标签", "＋ 时间窗内的行为", "＋ 优惠券", "＋ 添加条件组"):
        page.get_by_role("button", name=kind).click()
    page.wait_for_load_state("networkidle")
    sweep.check(page, "/segments/new (every rule)", "segment-new")
    if chain["segment"]:
        sweep.visit(page, f"/segments/{chain['segment']}", "segment")
    sweep.visit(page, "/templates", "templates")
    sweep.visit(page, "/templates/second_purchase/use", "template-use")
    sweep.visit(page, "/tasks", "tasks")
    sweep.visit(page, "/accounts", "accounts")
    sweep.visit(page, "/policy", "policy")
    sweep.visit(page, "/no-such-page", "not-found")

    guide = browser.new_context(
        base_url=live_server.url, viewport={"width": 375, "height": 812}, locale="zh-CN"
    )
    phone = guide.new_page()
    try:
        sweep.visit(phone, "/login", "login")
        phone.locator("#username").fill("guide")
        phone.locator("#password").fill(DEMO_PASSWORD)
        phone.locator("#login-form button[type=submit]").click()
        phone.wait_for_url("**/workbench")
        sweep.check(phone, "/workbench", "workbench")
        sweep.visit(phone, "/workbench/tasks/T-zh", "workbench-task")
        sweep.visit(phone, f"/workbench/customers/{chain['customer']}", "workbench-customer")
    finally:
        guide.close()
    assert page.errors == []  # type: ignore[attr-defined]
    assert sweep.found == {}, "\n".join(f"{k}: {sorted(v)}" for k, v in sweep.found.items())

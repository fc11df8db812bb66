"""A guide works a task on a 375 px phone screen in real Chromium; the journey moves on.

The app runs in uvicorn (tests/ui/conftest.py); a Temporal test server and a worker with the
real activities run in a background thread with their own event loop, so the page's click
really signals the customer's workflow.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import expect
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities import JourneyActivities, all_activities
from db.models import CouponTemplate, Customer, Guide, GuideTask, JourneyRun, Region, Store
from db.seed import seed_demo
from services.accounts import DEMO_PASSWORD, create_user, seed_demo_users
from services.temporal import TemporalGateway, data_converter
from settings import Settings
from tests.temporal_env import binary
from tests.ui.conftest import LiveServer
from workflows import JourneyWorkflow

pytestmark = pytest.mark.ui

PHONE = {"width": 375, "height": 812}
JOURNEY = {
    "name": "新客二回 · 券到期前回访",
    "nodes": [
        {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
        {
            "id": "t",
            "kind": "assign_guide_task",
            "label": "券到期前电话回访",
            "config": {
                "task_type": "call",
                "instructions": "{{ customer.name }}您好，您的20元券三天后到期，周末来看看新款？",
                "outcomes": ["interested", "declined"],
            },
        },
        {"id": "goal", "kind": "exit", "label": "到店意向", "config": {"goal_reached": True}},
        {"id": "no", "kind": "exit"},
        {"id": "lost", "kind": "exit"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "t"},
        {"id": "2", "source": "t", "source_port": "interested", "target": "goal"},
        {"id": "3", "source": "t", "source_port": "declined", "target": "no"},
        {"id": "4", "source": "t", "source_port": "expired", "target": "lost"},
    ],
}


class TemporalThread:
    """A Temporal test server and a journey worker on their own event loop and thread."""

    def __init__(self, acts: JourneyActivities, task_queue: str, settings: Settings) -> None:
        self.acts = acts
        self.settings = settings
        self.task_queue = task_queue
        self.address = ""
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._loop.run_until_complete(self._main())
        except BaseException as exc:  # surfaced by __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=binary("temporal-test-server")
        )
        # the app's converter (its codec compresses large payloads): the app starts the runs
        config = env.client.config()
        config["data_converter"] = data_converter(self.settings)
        try:
            async with Worker(
                Client(**config),
                task_queue=self.task_queue,
                workflows=[JourneyWorkflow],
                activities=all_activities(self.acts),
            ):
                self.address = env.client.service_client.config.target_host
                self._ready.set()
                await self._stop.wait()
        finally:
            await env.shutdown()

    def __enter__(self) -> TemporalThread:
        self._thread.start()
        self._ready.wait(timeout=60)
        if self._error is not None or not self.address:
            raise RuntimeError(f"Temporal test server did not start: {self._error}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


@pytest.fixture
def temporal_for(canvas_app: FastAPI) -> Iterator[TemporalThread]:
    """Temporal + worker on the app's database; the app's gateway points at it."""
    queue = f"ui-{uuid.uuid4()}"
    settings = canvas_app.state.settings
    acts = JourneyActivities.from_engine(canvas_app.state.engine, settings)
    with TemporalThread(acts, queue, settings) as temporal:
        canvas_app.state.temporal = TemporalGateway(
            Settings(
                database_url=settings.database_url,
                temporal_address=temporal.address,
                task_queue=queue,
            )
        )
        yield temporal


def _until(check: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def test_guide_completes_a_task_on_a_phone_and_the_journey_moves_on(
    browser: Any,
    live_server: LiveServer,
    canvas_app: FastAPI,
    client_for: Any,
    temporal_for: TemporalThread,
    artifacts: Path,
) -> None:
    engine = canvas_app.state.engine
    with Session(engine) as s:  # the harness's NEW20 stands in the way of the demo chain's
        s.delete(s.get_one(CouponTemplate, "NEW20"))
        s.commit()
    seed_demo(session_or_engine=engine, customers=40)
    guide = next(u for u in seed_demo_users(session_or_engine=engine) if u.username == "guide")
    with Session(engine, expire_on_commit=False) as s:  # bind one customer to the guide
        customer = s.exec(select(Customer).order_by(col(Customer.id))).first()
        assert customer is not None
        customer.guide_id, customer.store_id = guide.guide_id, guide.store_id
        s.add(customer)
        s.commit()

    created = client_for.post("/api/journeys", json={"name": JOURNEY["name"], "document": JOURNEY})
    journey_id = created.json()["id"]
    assert client_for.post(f"/api/journeys/{journey_id}/publish").status_code == 200
    enrolled = client_for.post(
        f"/api/journeys/{journey_id}/enroll", json={"customer_ids": [customer.id]}
    )
    assert enrolled.json()["started"] == 1, enrolled.text

    def open_task() -> GuideTask | None:
        with Session(engine) as s:
            return s.exec(select(GuideTask).where(GuideTask.customer_id == customer.id)).first()

    task = _until(open_task, "the journey created the guide task")

    context = browser.new_context(
        base_url=live_server.url,
        viewport=PHONE,
        locale="zh-CN",
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto("/workbench")
        page.wait_for_url("**/login?next=/workbench")
        page.locator("#username").fill("guide")
        page.locator("#password").fill(DEMO_PASSWORD)
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/workbench")

        card = page.locator(f'[data-task-id="{task.id}"]')
        expect(card).to_be_visible()
        expect(card).to_contain_text(customer.name)
        expect(card).to_contain_text("新客二回 · 券到期前回访")  # why: the journey …
        expect(card).to_contain_text("券到期前电话回访")  # … and the step
        expect(card.locator("blockquote.script")).to_contain_text("20元券三天后到期")
        # fits the phone: nothing wider than the screen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        page.screenshot(path=str(artifacts / "workbench-375.png"), full_page=True)

        card.locator("textarea[name=note]").fill("周六下午带孩子来")
        card.locator('button[data-result="interested"]').tap()

        done = page.locator(f'[data-task-id="{task.id}"][data-state="moved"]')
        expect(done).to_be_visible(timeout=15_000)
        expect(done).to_contain_text("旅程")
        page.screenshot(path=str(artifacts / "workbench-375-done.png"), full_page=True)
    finally:
        context.close()
    assert errors == []

    def finished() -> JourneyRun | None:
        with Session(engine) as s:
            run = s.exec(select(JourneyRun).where(JourneyRun.customer_id == customer.id)).first()
        return run if run is not None and run.status == "exited" else None

    run = _until(finished, "the journey finished")
    assert run.goal_reached is True and run.current_node == "goal"
    stored = open_task()
    assert stored is not None and (stored.status, stored.outcome) == ("completed", "interested")
    assert stored.note == "周六下午带孩子来"


def test_counters_follow_the_cards(
    browser: Any, live_server: LiveServer, canvas_app: FastAPI, artifacts: Path
) -> None:
    """Completing a task updates "to do" and "done today" at once, on the list and on a
    task's own page; a contact attempt that completes nothing leaves them as they are."""
    engine = canvas_app.state.engine
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S1", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Guide(id="G1", store_id="S1", name="王导购", role="guide", daily_capacity=20))
        s.commit()
        for cid, name in (("C1", "李女士"), ("C2", "张先生"), ("C3", "陈女士")):
            s.add(Customer(id=cid, name=name, phone="13800001234", store_id="S1", guide_id="G1"))
        s.commit()
        for i, cid in enumerate(("C1", "C2", "C3")):
            s.add(
                GuideTask(
                    id=f"T{i + 1}",
                    idempotency_key=f"test/T{i + 1}",
                    customer_id=cid,
                    guide_id="G1",
                    store_id="S1",
                    task_type="call",
                    title=f"回访 {cid}",
                    instructions="您好，您的20元券三天后到期",
                    status="open",
                    outcomes=["interested", "declined"],
                    due_at=now + timedelta(hours=3 + i),
                    created_at=now,
                )
            )
        s.commit()
        create_user(session=s, username="g1", password="pw-g1-secret", role="guide", guide_id="G1")

    context = browser.new_context(base_url=live_server.url, viewport=PHONE, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # htmx logs its own errors (an out-of-band swap without its target …) to the console
    page.on(
        "console", lambda msg: errors.append(msg.text) if msg.text.startswith("htmx:") else None
    )
    open_count = page.locator('#wb-summary [data-count="open"]')
    done_count = page.locator('#wb-summary [data-count="done"]')
    try:
        page.goto("/login?next=/workbench")
        page.locator("#username").fill("g1")
        page.locator("#password").fill("pw-g1-secret")
        page.locator("#login-form button[type=submit]").click()
        page.wait_for_url("**/workbench")
        expect(open_count).to_have_text("3")
        expect(done_count).to_have_text("0")

        # not reached: a contact attempt, the task stays open
        page.locator('[data-task-id="T1"] button[data-result="not_reached"]').click()
        expect(page.locator('[data-task-id="T1"]')).to_contain_text("联系记录")
        expect(open_count).to_have_text("3")

        page.locator('[data-task-id="T1"] button[data-result="interested"]').click()
        expect(page.locator('[data-task-id="T1"].done')).to_be_visible()
        expect(open_count).to_have_text("2")
        expect(done_count).to_have_text("1")
        expect(page.locator("#wb-summary")).to_have_count(1)
        page.screenshot(path=str(artifacts / "workbench-counters.png"), full_page=True)

        # a task opened on its own page (a notification's link) shows and updates them too
        page.goto("/workbench/tasks/T2")
        expect(open_count).to_have_text("2")
        page.locator('[data-task-id="T2"] button[data-result="declined"]').click()
        expect(page.locator('[data-task-id="T2"].done')).to_be_visible()
        expect(open_count).to_have_text("1")
        expect(done_count).to_have_text("2")
    finally:
        context.close()
    assert errors == []

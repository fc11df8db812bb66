"""Real Chromium: runs and the customer lookup name steps as the canvas does, and "who is
waiting here" is picked from the journey's steps or from a step on the canvas."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db import crud
from db.models import Customer
from tests.runs.harness import publish_every_kind
from tests.ui.canvas_driver import center, open_editor

pytestmark = pytest.mark.ui

PEOPLE = {"C1": "李女士", "C2": "张先生", "C3": "王女士", "C4": "赵先生"}
AT = {"C1": "wait", "C2": "wait", "C3": "buy", "C4": "goal"}  # C4 has finished


def _journey_with_customers(app: FastAPI) -> str:
    with Session(app.state.engine) as session:
        journey_id, _ = publish_every_kind(session)
        for cid, name in PEOPLE.items():
            session.add(Customer(id=cid, name=name, phone="13800001234"))
        session.commit()
        for cid, node in AT.items():
            run = crud.create_run(
                session=session,
                workflow_id=f"journey-{journey_id}-{cid}",
                journey_id=journey_id,
                journey_version=1,
                customer_id=cid,
                current_node=node,
            )
            if node == "goal":
                run.status = "exited"
                session.add(run)
        session.commit()
    return journey_id


def test_runs_name_steps_and_filter_by_a_step(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    journey_id = _journey_with_customers(canvas_app)
    page.goto("/runs")
    rows = page.locator("#run-results tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.filter(has_text="李女士")).to_contain_text("等待 1 天")  # the step's label
    expect(rows.filter(has_text="王女士")).to_contain_text("等待事件")  # no label: its kind
    expect(rows.filter(has_text="赵先生")).to_contain_text("出口")
    assert "wait" not in page.locator("#run-results").inner_text()

    step = page.locator("select#run-step")
    expect(step).to_be_disabled()  # steps come with a journey
    page.select_option("select[name=journey_id]", journey_id)
    expect(step).to_be_enabled()
    expect(rows).to_have_count(3)  # everyone in the journey now
    options = step.locator("option").all_inner_texts()
    assert "等待 1 天（现有 2 人）" in options and "等待事件（现有 1 人）" in options
    assert "RFM 分层" in options and not any("wait" in o for o in options)

    step.select_option("wait")  # picks the step: the list follows at once
    expect(rows).to_have_count(2)
    expect(page.locator("#run-filter-note")).to_have_text("“等待 1 天” 现有 2 位客户。")
    assert sorted(rows.locator("td:first-child").all_inner_texts()) == [
        "张先生 C2",
        "李女士 C1",
    ]
    expect(page).to_have_url(re.compile(r"node_id=wait"))
    page.screenshot(path=str(artifacts / "runs-waiting-at-step.png"))

    # the customer lookup names the step too
    page.goto("/customers?q=C3")
    expect(page.locator("#customer-results")).to_contain_text("等待事件")
    assert page.errors == []  # type: ignore[attr-defined]


def test_click_a_step_on_the_canvas_to_see_who_is_there(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    journey_id = _journey_with_customers(canvas_app)
    open_editor(page, f"/journeys/{journey_id}/edit")
    page.evaluate("window.journeyCanvas.runOverlay.focus('wait')")
    page.mouse.click(*center(page, '#canvas [data-cell-id="wait"] rect'))
    waiting = page.locator('#panel[data-node-id="wait"] #panel-waiting')
    expect(waiting).to_contain_text("现有 2 位客户停在此步骤")
    expect(waiting.locator("li")).to_have_count(2)
    expect(waiting).to_contain_text("李女士")
    page.screenshot(path=str(artifacts / "panel-waiting-here.png"))

    waiting.locator("a", has_text="停在此步骤").click()
    page.wait_for_url(re.compile(r"/runs\?journey_id=.*node_id=wait"))
    expect(page.locator("#run-results tbody tr")).to_have_count(2)
    expect(page.locator("select#run-step")).to_have_value("wait")

    # a step nobody is at says so; a step the live version lacks shows nothing
    open_editor(page, f"/journeys/{journey_id}/edit")
    page.evaluate("window.journeyCanvas.runOverlay.focus('msg')")
    page.mouse.click(*center(page, '#canvas [data-cell-id="msg"] rect'))
    expect(page.locator('#panel[data-node-id="msg"] #panel-waiting')).to_contain_text(
        "目前没有客户停在此步骤"
    )
    assert page.errors == []  # type: ignore[attr-defined]

"""Real Chromium: the segment form (issue 18, item 15): a rule just added is not called wrong
before it is filled in, saving says so, the id is marked required with its format, the
inputs keep off the card's edge; and its operators and levels read Chinese (item 14)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy import delete
from sqlmodel import Session

from db.models import CouponTemplate
from db.seed import seed_demo

pytestmark = pytest.mark.ui


@pytest.fixture
def chain(canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as session:
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=60)


def test_new_rule_save_and_form_layout(page: Page, chain: None, artifacts: Path) -> None:
    page.goto("/segments/new")
    # the id says it is required and what it takes
    id_field = page.locator("#seg-id").locator("xpath=..")
    expect(id_field.locator("label .req")).to_have_text("*")
    expect(page.locator("#seg-id-help")).to_contain_text("dormant_90d")
    # the inputs keep off the card's edge
    form_box = page.locator("#segment-form").bounding_box()
    name_box = page.locator("#seg-name").bounding_box()
    assert form_box and name_box and name_box["x"] - form_box["x"] >= 12

    expect(page.locator("#segment-preview [data-count]")).to_be_visible()
    page.get_by_role("button", name="＋ 属性 / 价值").click()
    row = page.locator("#rule-builder li.rule").first
    # untouched: counted without it, and nothing is called wrong
    expect(page.locator("#segment-preview [data-count]")).to_be_visible()
    expect(page.locator("#segment-preview .diag")).to_have_count(0)
    expect(row).not_to_have_class("rule bad")
    page.screenshot(path=str(artifacts / "segment-new-rule-untouched.png"), full_page=True)

    row.locator("select").first.select_option("member_level")
    op = row.locator("select").nth(1)
    # operators and member levels in the UI's language
    assert "属于" in op.locator("option").all_inner_texts()
    assert not {"in", "not in", "between"} & set(op.locator("option").all_inner_texts())
    op.select_option("in")
    value = row.locator("select").nth(2)
    assert "金卡" in " ".join(value.locator("option").all_inner_texts())
    value.select_option("gold")
    expect(page.locator("#segment-preview [data-count]")).to_be_visible()

    page.locator("#seg-name").fill("金卡会员")
    page.locator("#seg-id").fill("gold_members")
    page.get_by_role("button", name="保存人群").click()
    page.wait_for_url("**/segments/gold_members?saved=1")
    expect(page.locator("#save-status .notice.ok")).to_contain_text("人群“金卡会员”已保存。")
    page.screenshot(path=str(artifacts / "segment-saved.png"), full_page=True)

    # saving again on its page says so too, in place
    page.locator("#seg-desc").fill("会员等级为金卡")
    page.goto("/segments/gold_members")
    expect(page.locator("#save-status .notice")).to_have_count(0)
    page.locator("#seg-desc").fill("会员等级为金卡")
    page.get_by_role("button", name="保存人群").click()
    expect(page.locator("#save-status .notice.ok")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_touched_rule_that_is_wrong_is_still_shown(page: Page, chain: None) -> None:
    page.goto("/segments/new")
    page.get_by_role("button", name="＋ 属性 / 价值").click()
    row = page.locator("#rule-builder li.rule").first
    row.locator("select").first.select_option("region_id")
    expect(page.locator("#segment-preview .diag")).to_have_count(1)
    expect(row).to_have_class("rule bad")

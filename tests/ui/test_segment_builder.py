"""Real Chromium: every select of the segment builder shows what the rules hold (issue 18,
item 3: a Region rule showed 华东 while its value was null)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy import delete
from sqlmodel import Session

from db import crud
from db.models import CouponTemplate, SegmentCreate
from db.seed import seed_demo

pytestmark = pytest.mark.ui

#: Each select of a builder row, and what in the rule it shows (JS, run in the page).
SHOWN_VS_HELD = """() => {
  const model = JSON.parse(document.getElementById('segment-definition').value);
  const rows = [];
  const walk = (owner, el) => {
    const head = el.querySelector(':scope > .rule-head select');
    rows.push({shown: head.value, held: owner.match});
    const items = el.querySelectorAll(':scope > .rule-list > li');
    owner.rules.forEach((rule, i) => {
      const li = items[i];
      if (rule.type === 'group') { walk(rule, li.querySelector('.rules-nested')); return; }
      const sels = Array.from(li.querySelectorAll(':scope > select'));
      const shown = sels.map((s) => s.multiple
        ? Array.from(s.selectedOptions).map((o) => o.value).join(',') : s.value);
      rows.push({type: rule.type, shown, rule});
    });
  };
  walk(model, document.querySelector('.rules-top'));
  return rows;
}"""


@pytest.fixture
def chain(canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as session:
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=60)


def _held(rule: dict[str, Any], key: str) -> str:
    value = rule.get(key)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def test_region_rule_shows_nothing_chosen_until_a_region_is_picked(
    page: Page, chain: None, artifacts: Path
) -> None:
    page.goto("/segments/new")
    page.get_by_role("button", name="＋ 属性 / 价值").click()
    row = page.locator("#rule-builder li.rule").first
    row.locator("select").first.select_option("region_id")
    value = row.locator("select").nth(2)
    # nothing chosen: a "— choose —" placeholder, not the first region
    expect(value).to_have_value("")
    expect(value.locator("option:checked")).to_have_text("— 请选择 —")
    held = json.loads(page.locator("#segment-definition").input_value())
    assert held["rules"][0]["field"] == "region_id" and held["rules"][0]["value"] is None
    page.screenshot(path=str(artifacts / "segment-region-unset.png"))

    value.select_option(label="华东 (R-EAST)")
    held = json.loads(page.locator("#segment-definition").input_value())
    assert held["rules"][0]["value"] == "R-EAST"
    expect(page.locator("#segment-preview [data-count]")).to_be_visible()
    expect(value.locator("option:checked")).to_have_text("华东 (R-EAST)")
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_saved_segment_shows_exactly_what_its_rules_hold(
    page: Page, canvas_app: FastAPI, chain: None, artifacts: Path
) -> None:
    # rules as the API or an old version stored them: defaults left out, a region that is
    # gone, an operator that takes a list given one value
    definition = {
        "rules": [
            {"type": "field", "field": "region_id", "value": "R-GONE"},
            {"type": "field", "field": "member_level", "op": "in", "value": "gold"},
            {"type": "field", "field": "r_days", "op": "between", "value": 30},
            {"type": "tag", "tags": ["VIP"]},
            {"type": "coupon", "within_days": 3},
            {"type": "event", "event_type": "browse", "window_days": 7},
            {"type": "group", "rules": [{"type": "field", "field": "gender", "op": "eq"}]},
        ]
    }
    with Session(canvas_app.state.engine) as session:
        crud.create_segment(
            session=session,
            segment_create=SegmentCreate(id="old_rules", name="旧规则", definition=definition),
        )
    page.goto("/segments/old_rules")
    page.wait_for_selector("#rule-builder li.rule")
    rows = page.evaluate(SHOWN_VS_HELD)
    assert rows[0] == {"shown": "all", "held": "all"}
    keys = {
        "field": ["field", "op", "value"],
        "tag": ["match"],
        "coupon": ["present", "state", "template_id"],
        "event": ["op"],
    }
    checked = 0
    for row in rows[1:]:
        if "rule" not in row:  # a group's own all/any
            assert row["shown"] == row["held"], row
            continue
        rule = row["rule"]
        wanted = [_held(rule, k) for k in keys[row["type"]]]
        # a number or text value is an input, not a select
        assert row["shown"] == wanted[: len(row["shown"])] and len(row["shown"]) >= 1, row
        checked += 1
    assert checked == 7
    # what the rules were missing is now said, as the server assumes it
    held = json.loads(page.locator("#segment-definition").input_value())
    region, levels, r_days, tag, coupon, event, group = held["rules"]
    assert region["op"] == "eq" and region["value"] == "R-GONE"
    assert levels["value"] == ["gold"] and r_days["value"] == [None, None]
    assert tag["match"] == "any" and coupon["state"] == "held" and coupon["present"] is True
    assert event["op"] == "gte" and group["match"] == "any"
    assert group["rules"][0]["value"] is None
    between = page.locator("#rule-builder li.rule").nth(2).locator("input[type=number]")
    expect(between.nth(0)).to_have_value("")
    expect(between.nth(1)).to_have_value("")
    # a region that is gone is shown as it is, marked, not as another region
    gone = page.locator("#rule-builder li.rule").first.locator("select").nth(2)
    expect(gone.locator("option:checked")).to_have_text("R-GONE（已不可用）")
    page.screenshot(path=str(artifacts / "segment-saved-rules.png"))
    assert page.errors == []  # type: ignore[attr-defined]

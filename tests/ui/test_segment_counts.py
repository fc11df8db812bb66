"""Real Chromium: the segments list shows each segment's size and how old that count is,
counting stale ones as the page loads and again on demand (issue 18, item 9)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlalchemy import delete
from sqlmodel import Session

from db.models import CouponTemplate
from db.seed import seed_demo

pytestmark = pytest.mark.ui

RULES = {
    "recent": {"rules": [{"type": "field", "field": "r_days", "op": "lte", "value": 60}]},
    "gold": {"rules": [{"type": "field", "field": "member_level", "op": "eq", "value": "gold"}]},
}


@pytest.fixture
def chain(canvas_app: FastAPI) -> None:
    with Session(canvas_app.state.engine) as session:
        session.execute(delete(CouponTemplate))
        session.commit()
        seed_demo(session_or_engine=session, customers=60)


def test_segments_list_counts_and_says_when(
    page: Page, chain: None, client_for: httpx.Client, artifacts: Path
) -> None:
    expected = {}
    for segment_id, rules in RULES.items():
        created = client_for.post(
            "/api/segments", json={"id": segment_id, "name": segment_id, "definition": rules}
        )
        assert created.status_code == 201, created.text
        preview = client_for.post("/api/segments/preview", json={"definition": rules})
        expected[segment_id] = preview.json()["count"]

    page.goto("/segments")
    for segment_id, n in expected.items():
        cell = page.locator(f'td[data-segment-count="{segment_id}"]')
        # never counted: the row counts itself as the page loads (not "—")
        expect(cell).to_have_attribute("data-state", "counted")
        expect(cell.locator(".v")).to_have_text(f"{n:,}")
        expect(cell.locator(".age")).to_have_text("刚刚统计")
    page.screenshot(path=str(artifacts / "segments-counts.png"))

    # on demand: "count again" answers the cell anew
    cell = page.locator('td[data-segment-count="gold"]')
    page.evaluate("document.querySelector('td[data-segment-count=\"gold\"]').dataset.probe = 'old'")
    cell.get_by_role("button", name="重新统计").click()
    expect(page.locator('td[data-segment-count="gold"][data-probe]')).to_have_count(0)
    expect(cell.locator(".v")).to_have_text(f"{expected['gold']:,}")
    listed = client_for.get("/api/segments").json()
    counts = {s["id"]: s["last_count"] for s in listed}
    assert counts == expected
    assert page.errors == []  # type: ignore[attr-defined]

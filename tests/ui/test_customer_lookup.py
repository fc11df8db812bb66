"""Real Chromium: the customer lookup shows a masked phone and store/guide names, as the
workbench does (issue 18, item 20)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db.models import Customer, Guide, Region, Store

pytestmark = pytest.mark.ui


def test_lookup_masks_the_phone_and_names_store_and_guide(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S01", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Guide(id="G07", store_id="S01", name="王导购", role="guide", daily_capacity=20))
        s.commit()
        s.add(
            Customer(
                id="C000123", name="李女士", phone="13800004321", store_id="S01", guide_id="G07"
            )
        )
        s.commit()
    # the whole number still finds the customer; the page shows only its end
    page.goto("/customers?q=13800004321")
    card = page.locator("article.customer")
    expect(card).to_have_count(1)
    facts = card.locator("dl.facts")
    expect(facts).to_contain_text("•••• 4321")
    expect(facts).to_contain_text("南京西路店")
    expect(facts).to_contain_text("王导购")
    text = card.inner_text()
    assert "13800004321" not in text and "S01" not in text and "G07" not in text
    page.screenshot(path=str(artifacts / "customer-lookup.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]

"""Real Chromium: HQ corrects a customer's WeCom / WeChat ids on the customer card — a bad
one is refused on its field, a good one is saved and shown after a reload."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from playwright.sync_api import Page, expect
from sqlmodel import Session

from db.models import Customer, Region, Store

pytestmark = pytest.mark.ui

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz1"


def test_hq_edits_a_customers_ids_and_sees_them_saved(
    page: Page, canvas_app: FastAPI, artifacts: Path
) -> None:
    with Session(canvas_app.state.engine) as s:
        s.add(Region(id="R1", name="华东"))
        s.commit()
        s.add(Store(id="S01", region_id="R1", name="南京西路店", city="上海"))
        s.commit()
        s.add(Customer(id="C000321", name="周女士", phone="13800004321", store_id="S01"))
        s.commit()
    page.goto("/customers?q=C000321")
    form = page.locator('form[data-contact-ids="C000321"]')
    external = form.locator('input[name="wecom_external_userid"]')
    openid = form.locator('input[name="wechat_openid"]')
    expect(external).to_have_value("")

    external.fill("not an id")
    openid.fill(OPENID)
    form.locator('button[type="submit"]').click()
    form = page.locator('form[data-contact-ids="C000321"]')
    expect(form.locator(".field.invalid .error")).to_be_visible()
    expect(form.locator('input[name="wecom_external_userid"]')).to_have_attribute(
        "aria-invalid", "true"
    )
    expect(form.locator('input[name="wechat_openid"]')).to_have_value(OPENID)  # kept as typed

    form.locator('input[name="wecom_external_userid"]').fill("wmEXT0321abc")
    form.locator('button[type="submit"]').click()
    form = page.locator('form[data-contact-ids="C000321"]')
    expect(form.locator('[role="status"]')).to_be_visible()
    expect(form.locator(".error")).to_have_count(0)

    page.reload()
    form = page.locator('form[data-contact-ids="C000321"]')
    expect(form.locator('input[name="wecom_external_userid"]')).to_have_value("wmEXT0321abc")
    expect(form.locator('input[name="wechat_openid"]')).to_have_value(OPENID)
    with Session(canvas_app.state.engine) as s:
        customer = s.get(Customer, "C000321")
        assert customer is not None
        assert (customer.wecom_external_userid, customer.wechat_openid) == ("wmEXT0321abc", OPENID)
    page.screenshot(path=str(artifacts / "customer-contact-ids.png"), full_page=True)
    assert page.errors == []  # type: ignore[attr-defined]

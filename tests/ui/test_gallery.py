"""The template gallery in real Chromium: use a template with a bad then a good parameter,
land in the editor; save that journey as a template; clone it. Plus the gallery's HTML
fragments through the TestClient (fast)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from templates_lib import all_templates

#: The TestClient fixtures (client, …) of the canvas_ui harness; the browser ones come from
#: tests/ui/conftest.py.
pytest_plugins = ("tests.canvas_ui.harness",)
ZH = {"Accept-Language": "zh-CN"}


def test_gallery_page_lists_builtins_with_previews(client: TestClient) -> None:
    html = client.get("/templates", headers=ZH).text
    for t in all_templates():
        assert f'data-template-id="{t.id}"' in html and t.name.zh in html
    assert html.count('<svg class="tpl-preview"') == len(all_templates())
    assert "使用此模板" in html


def test_use_form_422_names_the_field_then_redirects(client: TestClient) -> None:
    hx = {**ZH, "HX-Request": "true"}
    bad = client.post(
        "/templates/second_purchase/use", data={"remind_days_before_expiry": "0"}, headers=hx
    )
    assert bad.status_code == 422
    assert (
        'data-param="remind_days_before_expiry"' in bad.text and "必须在 1 到 10 之间" in bad.text
    )
    ok = client.post(
        "/templates/second_purchase/use",
        data={"name": "新客二回·华东", "remind_days_before_expiry": "5"},
        headers=hx,
    )
    assert ok.status_code == 204 and ok.headers["hx-redirect"].endswith("/edit")
    jid = ok.headers["hx-redirect"].split("/")[2]
    got = client.get(f"/api/journeys/{jid}").json()
    assert got["journey"]["source_template_id"] == "second_purchase"
    assert got["document"]["name"] == "新客二回·华东"


def test_browser_use_template_save_as_template_and_clone(
    page: Any, live_server: Any, client_for: Any
) -> None:
    page.goto("/templates")
    assert page.locator("#builtin-templates article").count() == len(all_templates())
    page.click('[data-use="second_purchase"]')
    page.wait_for_url("**/templates/second_purchase/use")

    page.fill("#p-name", "新客二回（浏览器）")
    page.fill("#p-remind_days_before_expiry", "30")
    page.click("#use-form button[type=submit]")
    error = page.locator("#perr-remind_days_before_expiry")
    error.wait_for()
    assert "1" in error.inner_text() and "10" in error.inner_text()

    page.fill("#p-remind_days_before_expiry", "4")
    page.click("#use-form button[type=submit]")
    page.wait_for_url("**/journeys/*/edit")
    journey_id = page.url.split("/")[-2]
    doc = client_for.get(f"/api/journeys/{journey_id}").json()["document"]
    reminder = next(n for n in doc["nodes"] if n["id"] == "until_reminder")
    assert reminder["config"]["until"]["offset"]["amount"] == 4

    page.goto("/templates")
    page.click(f'[data-save-template="{journey_id}"]')
    dialog = page.locator(f"#save-template-{journey_id}")
    name = dialog.locator("input[name=name]")
    assert name.input_value() == "新客二回（浏览器）"  # the journey's name, to change
    name.fill("新客二回模板")
    dialog.get_by_role("button", name="保存模板").click()
    page.wait_for_url("**/templates?saved=*")
    saved = page.locator("#saved-templates article")
    saved.first.wait_for()
    assert "新客二回模板" in saved.first.inner_text()
    assert saved.first.locator("text=编辑").count() == 1  # the owner may edit it

    page.click(f'[data-clone="{journey_id}"]')
    page.wait_for_url(lambda url: url.endswith("/edit") and journey_id not in url)
    clone_id = page.url.split("/")[-2]
    clone = client_for.get(f"/api/journeys/{clone_id}").json()["journey"]
    assert clone["source_journey_id"] == journey_id and clone["source_version"] is None
    assert page.errors == []

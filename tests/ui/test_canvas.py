"""A marketer builds, checks, publishes and reviews a journey in real Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.canvas_ui.harness import linear_document
from tests.ui.canvas_driver import (
    center,
    connect,
    drag,
    drop_from_palette,
    edge_count,
    node_ids,
    open_editor,
    port,
    saved,
)
from tests.ui.conftest import LiveServer

pytestmark = pytest.mark.ui


def _new_journey(page: Page, name: str) -> str:
    """Create a journey through the list page's dialog; returns its id."""
    page.goto("/journeys")
    page.get_by_role("button", name="新建旅程").first.click()
    page.locator("#new-journey input[name=name]").fill(name)
    page.get_by_role("button", name="创建并打开").click()
    page.wait_for_url("**/edit")
    page.wait_for_function("window.__canvasReady > 0")
    return page.url.rsplit("/", 2)[-2]


def _confirm(page: Page) -> None:
    """Say yes in the app's own confirmation dialog (never the browser's confirm())."""
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_be_visible()
    dialog.locator('[data-confirm="ok"]').click()
    expect(dialog).to_have_count(0)


def _apply_panel(page: Page) -> None:
    page.locator("#panel").get_by_role("button", name="应用").click()
    expect(page.locator("#panel .notice.ok")).to_be_visible()


def _open_panel(page: Page, node_id: str) -> None:
    # The top-left corner: a pasted copy may overlap the rest of the node.
    page.locator(f'#canvas [data-cell-id="{node_id}"] rect').first.click(position={"x": 70, "y": 8})
    expect(page.locator(f'#panel[data-node-id="{node_id}"]')).to_be_visible()


def _summary(page: Page, node_id: str, text: str) -> None:
    expect(page.locator(f'#canvas [data-cell-id="{node_id}"]').get_by_text(text)).to_be_visible()


def test_build_configure_save_and_reload(page: Page, artifacts: Path) -> None:
    _new_journey(page, "新客二回")
    ids = node_ids(page)
    entry, exit_ = ids["entry"][0], ids["exit"][0]
    canvas = page.locator("#canvas").bounding_box()
    assert canvas is not None
    y = canvas["y"] + canvas["height"] * 0.3
    x0 = canvas["x"] + 60

    wait = drop_from_palette(page, "wait", (x0 + 120, y))
    coupon = drop_from_palette(page, "send_coupon", (x0 + 380, y))
    task = drop_from_palette(page, "assign_guide_task", (x0 + 630, y))
    connect(page, entry, "next", wait)
    connect(page, wait, "next", coupon)
    connect(page, coupon, "next", task)
    connect(page, task, "completed", exit_)
    connect(page, task, "expired", exit_)
    assert edge_count(page) == 5
    page.get_by_role("button", name="自动布局").click()

    _open_panel(page, wait)
    page.locator('[name="config.until.duration.amount"]').fill("3")
    page.locator('[name="config.until.duration.unit"]').select_option("days")
    page.locator('#panel [name="label"]').fill("等三天")
    _apply_panel(page)
    _summary(page, wait, "等待 3 天")

    _open_panel(page, coupon)
    page.locator('[name="config.coupon_template_id"]').select_option("NEW20")
    _apply_panel(page)
    _summary(page, coupon, "优惠券 ¥20 · 30天")

    _open_panel(page, task)
    page.locator('[name="config.instructions"]').fill("提醒客户优惠券 3 天后到期，邀请到店")
    _apply_panel(page)
    _summary(page, task, "导购电话回访 · 24h")

    page.get_by_role("button", name="检查").click()
    expect(page.locator("#diagnostics .diag-summary")).to_have_text("没有发现问题，可以发布。")
    saved(page)

    page.get_by_role("button", name="适应屏幕").click()
    page.locator(".canvas-wrap").screenshot(path=str(artifacts / "canvas-built.png"))
    page.screenshot(path=str(artifacts / "editor-built.png"))

    page.reload()
    page.wait_for_function("window.__canvasReady > 0")
    assert sorted(node_ids(page)) == ["assign_guide_task", "entry", "exit", "send_coupon", "wait"]
    assert edge_count(page) == 5
    _summary(page, wait, "等待 3 天")
    _summary(page, coupon, "优惠券 ¥20 · 30天")
    _summary(page, task, "导购电话回访 · 24h")
    expect(page.locator(f'#canvas [data-cell-id="{wait}"]').get_by_text("等三天")).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_connections_are_refused_as_you_drag(
    page: Page, live_server: LiveServer, client_for: httpx.Client
) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "x", "document": linear_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    assert edge_count(page) == 3
    # into an entry
    drag(
        page,
        center(page, port("exit", "in")),
        center(page, port("entry", "in") + ", " + '#canvas [data-cell-id="entry"] rect'),
    )
    # an output port that already has its edge: the new connection replaces it (see
    # tests/ui/test_edge_editing.py), so the count stays
    drag(page, center(page, port("wait", "next")), center(page, port("exit", "in")))
    # a self-loop
    drag(page, center(page, port("coupon", "next")), center(page, port("coupon", "in")))
    assert edge_count(page) == 3
    assert page.evaluate("() => window.journeyCanvas.graph.getEdges().length") == 3


def test_invalid_graph_publish_and_old_version(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "新客二回", "document": linear_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")

    # Publish v1.
    page.get_by_role("button", name="发布").click()
    _confirm(page)
    expect(page.locator("#status-badge")).to_have_text("运行中")
    expect(page.locator("#versions a", has_text="v1")).to_be_visible()

    # Break it: delete the edge wait → coupon.
    edge_id = page.evaluate(
        "() => window.journeyCanvas.graph.getEdges().find((e) => e.getSourceCellId() === 'wait').id"
    )
    page.evaluate(f"() => window.journeyCanvas.graph.getCellById('{edge_id}').remove()")
    page.get_by_role("button", name="检查").click()
    expect(page.locator("#diagnostics .diag-summary")).to_contain_text("需要修复")
    body = page.locator('#canvas [data-cell-id="wait"] rect').first
    expect(body).to_have_attribute("stroke", "#d92d20")
    page.locator('#canvas [data-cell-id="wait"] rect').first.hover()
    expect(page.locator(".node-tip")).to_contain_text("“等三天”的一个输出没有连线")
    page.locator('.diag[data-code="MISSING_EDGE"]').first.click()
    expect(page.locator('#panel[data-node-id="wait"]')).to_be_visible()
    page.screenshot(path=str(artifacts / "editor-invalid.png"))

    # Publishing is refused with the same diagnostics.
    page.get_by_role("button", name="发布").click()
    _confirm(page)
    expect(page.locator("#toast")).to_contain_text("未发布")
    expect(page.locator("#versions li")).to_have_count(1)

    # Undo the deletion, publish v2.
    page.locator("#canvas").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    page.wait_for_function("window.journeyCanvas.graph.getEdges().length === 3")
    page.get_by_role("button", name="发布").click()
    _confirm(page)
    expect(page.locator("#versions a", has_text="v2")).to_be_visible()

    # Open v1 read-only.
    page.locator("#versions a", has_text="v1").click()
    page.wait_for_function("window.__canvasReady > 0")
    expect(page.locator(".badge.readonly-badge")).to_have_text("只读")
    expect(page.locator(".palette")).to_have_count(0)
    expect(page.get_by_role("button", name="发布")).to_have_count(0)
    expect(page.locator('#canvas [data-cell-id="wait"]').get_by_text("等待 3 天")).to_be_visible()
    page.get_by_role("link", name="返回草稿").click()
    page.wait_for_function("window.__canvasReady > 0")
    assert page.errors == []  # type: ignore[attr-defined]


def test_archive_and_restore_from_the_editor(page: Page, client_for: httpx.Client) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "旧活动", "document": linear_document("旧活动")}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    expect(page.get_by_role("button", name="恢复")).to_be_hidden()
    page.get_by_role("button", name="归档").click()
    _confirm(page)
    expect(page.locator("#archived-banner")).to_be_visible()  # the page reloaded
    page.wait_for_function("window.__canvasReady > 0")
    expect(page.locator("#status-badge")).to_have_text("已归档")
    expect(page.get_by_role("button", name="发布")).to_be_hidden()
    expect(page.get_by_role("button", name="归档")).to_be_hidden()
    assert client_for.get("/api/journeys").json() == []  # gone from the list

    page.get_by_role("button", name="恢复").click()
    expect(page.locator("#archived-banner")).to_have_count(0)
    page.wait_for_function("window.__canvasReady > 0")
    expect(page.locator("#status-badge")).to_have_text("草稿")
    expect(page.get_by_role("button", name="发布")).to_be_visible()
    assert [j["id"] for j in client_for.get("/api/journeys").json()] == [jid]
    assert page.errors == []  # type: ignore[attr-defined]


def test_label_is_text_and_language_switch(page: Page, client_for: httpx.Client) -> None:
    evil = "<img src=x onerror=alert(1)>"
    doc = linear_document()
    doc["nodes"][1]["label"] = evil
    jid = client_for.post("/api/journeys", json={"name": evil, "document": doc}).json()["id"]
    alerts: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    open_editor(page, f"/journeys/{jid}/edit")
    label = page.locator('#canvas [data-cell-id="wait"] text').first
    expect(label).to_have_text(evil[:22] + "…")
    assert page.locator("#canvas img").count() == 0
    _open_panel(page, "wait")
    expect(page.locator('#panel [name="label"]')).to_have_value(evil)
    assert alerts == []

    page.get_by_role("button", name="English").click()
    page.wait_for_function("window.__canvasReady > 0 && document.documentElement.lang === 'en'")
    expect(page.get_by_role("button", name="Publish")).to_be_visible()
    coupon = page.locator('#canvas [data-cell-id="coupon"]')
    expect(coupon.get_by_text("Coupon ¥20 · 30 days")).to_be_visible()
    page.goto("/journeys")
    expect(page.locator("h1")).to_have_text("Journeys")


def test_shortcuts_and_variant_switch(page: Page, client_for: httpx.Client) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "x", "document": linear_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    count = "() => window.journeyCanvas.graph.getNodes().length"

    # copy / paste / undo / redo
    _open_panel(page, "wait")
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    page.wait_for_function(f"({count})() === 5")
    page.keyboard.press("Control+z")
    page.wait_for_function(f"({count})() === 4")
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function(f"({count})() === 5")
    saved(page)
    copy_id = next(i for i in node_ids(page)["wait"] if i != "wait")
    assert 0 < len(copy_id) <= 64

    # a wait "until the start of the birthday month": the union switch shows that variant
    _open_panel(page, "wait")
    page.locator('select[name="config.until.type"]').select_option("customer_date")
    # clicking the node whose panel is open keeps the edits not applied yet
    page.evaluate("document.getElementById('panel').dataset.probe = 'kept'")
    _open_panel(page, "wait")
    page.wait_for_load_state("networkidle")
    expect(page.locator('#panel[data-probe="kept"]')).to_have_count(1)
    field = page.locator('fieldset[data-tag="customer_date"] select[name="config.until.field"]')
    field.select_option("birthday_month_start")
    _apply_panel(page)
    _summary(page, "wait", "直到生日月初")

    # rubber-band selection (Shift + drag on the background), then Delete: the open
    # panel of a deleted node closes with it
    box = page.locator('#canvas [data-cell-id="coupon"]').bounding_box()
    exit_box = page.locator('#canvas [data-cell-id="exit"]').bounding_box()
    assert box is not None and exit_box is not None
    _open_panel(page, "coupon")
    expect(page.locator('#panel[data-node-id="coupon"]')).to_have_count(1)
    page.keyboard.down("Shift")
    drag(
        page,
        (box["x"] - 20, box["y"] - 30),
        (exit_box["x"] + exit_box["width"] + 20, exit_box["y"] + exit_box["height"] + 30),
    )
    page.keyboard.up("Shift")
    page.keyboard.press("Delete")
    page.wait_for_function(f"({count})() === 3")
    saved(page)
    assert sorted(node_ids(page)) == ["entry", "wait"]
    expect(page.locator("#panel[data-node-id]")).to_have_count(0)
    assert page.errors == []  # type: ignore[attr-defined]


def test_import_replaces_the_draft(page: Page, client_for: httpx.Client, tmp_path: Path) -> None:
    jid = client_for.post("/api/journeys", json={"name": "空白"}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    assert sorted(node_ids(page)) == ["entry", "exit"]
    file = tmp_path / "journey.json"
    file.write_text(json.dumps(linear_document("导入的旅程"), ensure_ascii=False), "utf-8")
    page.locator("#import-doc").set_input_files(file)
    with page.expect_navigation():
        _confirm(page)
    page.wait_for_function("window.__canvasReady > 0")
    assert sorted(node_ids(page)) == ["entry", "exit", "send_coupon", "wait"]
    expect(page.locator("#doc-name")).to_have_value("导入的旅程")


def _message_document() -> dict[str, Any]:
    """entry → wait → coupon “新客券” → message “到期提醒” → coupon “复购券” → exit."""
    doc = linear_document()
    coupon = next(n for n in doc["nodes"] if n["id"] == "coupon")
    coupon["label"] = "新客券"
    doc["nodes"] += [
        {
            "id": "send-message-x1",
            "kind": "send_message",
            "label": "到期提醒",
            "position": {"x": 900, "y": 160},
            "config": {"channel": "sms", "content": "您好"},
        },
        {
            "id": "later",
            "kind": "send_coupon",
            "label": "复购券",
            "position": {"x": 1200, "y": 160},
            "config": {"coupon_template_id": "NEW20"},
        },
    ]
    doc["edges"][2]["target"] = "send-message-x1"
    doc["edges"] += [
        {"id": "e4", "source": "send-message-x1", "source_port": "next", "target": "later"},
        {"id": "e5", "source": "later", "source_port": "next", "target": "exit"},
    ]
    return doc


def test_placeholder_picker_and_single_brace_warning(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    jid = client_for.post(
        "/api/journeys", json={"name": "到期提醒", "document": _message_document()}
    ).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    _open_panel(page, "send-message-x1")
    panel = page.locator("#panel")
    content = panel.locator('textarea[name="config.content"]')
    # the real syntax, not {name}
    content_field = panel.locator(".field", has=page.locator('textarea[name="config.content"]'))
    expect(content_field.locator(".help")).to_contain_text("{{ customer.name }}")
    expect(panel).not_to_contain_text("{coupon_code}")
    picker = panel.locator('select[data-insert-into="f-config.content"]')
    groups = picker.locator("optgroup")
    expect(groups).to_have_count(2)  # the customer, and the coupon before this step
    expect(groups.nth(0)).to_have_attribute("label", "客户")
    expect(groups.nth(1)).to_have_attribute("label", "步骤“新客券”")
    assert "ctx.later" not in picker.inner_html()  # the coupon after it has not run yet

    # inserted where the cursor is
    content.click()
    content.press("Home")
    picker.select_option("{{ customer.name }}")
    expect(content).to_have_value("{{ customer.name }}您好")
    content.press("End")
    content.type("，券码 ")
    picker.select_option(label="券码 · {{ ctx.coupon.code }}")
    expect(content).to_have_value("{{ customer.name }}您好，券码 {{ ctx.coupon.code }}")
    expect(picker).to_have_value("")
    _apply_panel(page)
    page.locator("#panel").screenshot(path=str(artifacts / "panel-placeholder-picker.png"))

    # a single-brace placeholder is a warning naming the step, the placeholder and the fix
    content = page.locator('#panel textarea[name="config.content"]')
    content.fill("{name}您好，您的券 {coupon_code} 快到期了")
    _apply_panel(page)
    page.get_by_role("button", name="检查").click()
    warnings = page.locator('.diag.warning[data-code="SINGLE_BRACE_PLACEHOLDER"]')
    expect(warnings).to_have_count(2)
    expect(warnings.nth(0)).to_contain_text("“到期提醒”")
    expect(warnings.nth(0)).to_contain_text("{name}")
    expect(warnings.nth(0).locator(".diag-hint")).to_contain_text("{{ customer.name }}")
    expect(warnings.nth(1).locator(".diag-hint")).to_contain_text("{{ ctx.coupon.code }}")
    body = page.locator('#canvas [data-cell-id="send-message-x1"] rect').first
    expect(body).to_have_attribute("stroke", "#dc6803")
    page.screenshot(path=str(artifacts / "editor-single-brace-warning.png"))
    page.locator("#diagnostics").screenshot(path=str(artifacts / "diagnostics-single-brace.png"))
    assert page.errors == []  # type: ignore[attr-defined]


def test_check_results_read_as_english_sentences(
    page: Page, live_server: LiveServer, client_for: httpx.Client, artifacts: Path
) -> None:
    doc = linear_document()
    doc["nodes"][2] = {**doc["nodes"][2], "id": "send-coupon-l6yz5", "config": {}}
    doc["edges"][1]["target"] = doc["edges"][2]["source"] = "send-coupon-l6yz5"
    doc["edges"] = doc["edges"][:2]  # and its output goes nowhere
    jid = client_for.post("/api/journeys", json={"name": "Second purchase", "document": doc})
    page.context.add_cookies([{"name": "journeys_lang", "value": "en", "url": live_server.url}])
    open_editor(page, f"/journeys/{jid.json()['id']}/edit")
    page.get_by_role("button", name="Validate").click()
    problems = page.locator("#diagnostics .diag")
    expect(problems.first).to_be_visible()
    texts = problems.locator(".diag-msg").all_inner_texts()
    assert "“Send coupon” is not set up completely: Coupon template: required." in texts
    assert "No customer can reach “Exit”." in texts
    for text in texts:
        assert "send-coupon-l6yz5" not in text and "config." not in text, text
    expect(page.locator('.diag[data-code="INVALID_CONFIG"] .diag-hint')).to_have_text(
        "Click the step and fill in the highlighted fields."
    )
    page.locator("#diagnostics").screenshot(path=str(artifacts / "diagnostics-english.png"))
    assert page.errors == []  # type: ignore[attr-defined]


#: Every select of the open panel whose node holds a value there, with what it shows.
PANEL_SELECTS = """(config) => Array.from(
    document.querySelectorAll('#panel select[name^="config."]'))
  .filter((s) => !s.closest('fieldset[disabled]') && !s.name.endsWith('.type'))
  .map((s) => {
    let held = {config};
    for (const part of s.name.split('.')) held = held == null ? undefined : held[part];
    return {name: s.name, shown: s.value, text: s.selectedOptions[0]?.textContent, held};
  })"""


def test_panel_selects_show_what_the_step_holds(page: Page, client_for: httpx.Client) -> None:
    doc = linear_document()
    doc["nodes"] += [
        {
            "id": "m",
            "kind": "send_message",
            "config": {"channel": "fax", "content": "x"},  # an old channel; on_failure unset
        },
        {
            "id": "t",
            "kind": "assign_guide_task",
            "config": {"instructions": "x", "due_in": {"amount": 2, "unit": "weeks"}},
        },
        {
            "id": "w2",
            "kind": "wait",
            "config": {"until": {"type": "context", "field": "expires_at"}},  # no step yet
        },
        {
            "id": "b",
            "kind": "branch",
            "config": {
                "rules": [
                    {
                        "id": "vip",
                        "conditions": [{"type": "rfm_class", "classes": ["重要价值", "老客"]}],
                    }
                ]
            },
        },
    ]
    doc["nodes"][2]["config"]["coupon_template_id"] = "GONE"
    for i, node in enumerate(doc["nodes"][4:]):
        node["position"] = {"x": 300 * i, "y": 200}
    jid = client_for.post("/api/journeys", json={"name": "x", "document": doc}).json()["id"]
    open_editor(page, f"/journeys/{jid}/edit")
    configs = {n["id"]: n["config"] for n in doc["nodes"]}
    shown: dict[str, dict[str, Any]] = {}
    for node_id in ("coupon", "m", "t", "w2", "b"):
        _open_panel(page, node_id)
        for s in page.evaluate(PANEL_SELECTS, configs[node_id]):
            shown[f"{node_id}:{s['name']}"] = s
            if s["held"] is not None:  # what the step holds is what is shown
                assert s["shown"] == str(s["held"]), s
    assert shown["coupon:config.coupon_template_id"]["text"] == "GONE（已不可用）"
    assert shown["m:config.channel"]["text"] == "fax（已不可用）"
    # a field with a default shows it, and offers no blank that the step could not hold
    assert shown["m:config.on_failure"]["shown"] == "continue"
    assert shown["t:config.due_in.unit"]["text"] == "weeks（已不可用）"
    # a required choice not made yet is shown as not made
    assert shown["w2:config.until.node_id"] | {"held": None} == {
        "name": "config.until.node_id",
        "shown": "",
        "text": "— 请选择 —",
        "held": None,
    }
    assert shown["b:config.rules.0.match"]["shown"] == "all"
    _open_panel(page, "m")
    blank = page.locator('#panel select[name="config.on_failure"] option[value=""]')
    expect(blank).to_have_count(0)
    _open_panel(page, "b")
    unknown = page.locator("#panel .chip", has_text="老客（已不可用）").locator("input")
    expect(unknown).to_be_checked()
    assert page.errors == []  # type: ignore[attr-defined]


def test_diagnostics_follow_every_change_without_validate(
    page: Page, client_for: httpx.Client, artifacts: Path
) -> None:
    doc = linear_document()
    doc["edges"] = doc["edges"][:2]  # the coupon's output goes nowhere; the exit is unreachable
    jid = client_for.post("/api/journeys", json={"name": "x", "document": doc}).json()["id"]
    checks: list[str] = []
    page.on(
        "request",
        lambda r: checks.append(r.url.rsplit("/", 1)[-1]) if r.method == "POST" else None,
    )
    open_editor(page, f"/journeys/{jid}/edit")
    coupon = page.locator('#canvas [data-cell-id="coupon"] rect').first
    # checked as it opens
    expect(coupon).to_have_attribute("stroke", "#d92d20")
    expect(page.locator('.diag[data-code="MISSING_EDGE"]')).to_have_count(1)
    coupon.hover(position={"x": 120, "y": 6})
    expect(page.locator(".node-tip")).to_contain_text("没有连线")

    # connecting the port clears the mark, the tooltip and the list — no Validate pressed
    connect(page, "coupon", "next", "exit")
    expect(page.locator("#diagnostics .diag-summary")).to_have_text("没有发现问题，可以发布。")
    expect(page.locator("#diagnostics .diag")).to_have_count(0)
    expect(coupon).to_have_attribute("stroke", "#d0d5dd")
    coupon.hover(position={"x": 60, "y": 6})
    coupon.hover(position={"x": 120, "y": 6})
    expect(page.locator(".node-tip")).to_be_hidden()
    page.screenshot(path=str(artifacts / "editor-live-check-fixed.png"))

    # a new problem shows up as soon as it is made, and goes with an undo
    page.evaluate(
        "() => window.journeyCanvas.graph.getEdges()"
        ".find((e) => e.getSourceCellId() === 'wait').remove()"
    )
    expect(page.locator('.diag[data-code="MISSING_EDGE"]')).to_have_count(1)
    expect(page.locator('#canvas [data-cell-id="wait"] rect').first).to_have_attribute(
        "stroke", "#d92d20"
    )
    page.locator("#canvas").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    expect(page.locator("#diagnostics .diag")).to_have_count(0)

    # a panel edit is re-checked too: a broken placeholder, then fixed
    _open_panel(page, "coupon")
    page.locator('#panel select[name="config.on_failure"]').select_option("port")
    _apply_panel(page)  # the "failed" port is new and goes nowhere
    expect(page.locator('.diag[data-code="MISSING_EDGE"]')).to_contain_text("“发优惠券”")
    page.locator('#panel select[name="config.on_failure"]').select_option("continue")
    _apply_panel(page)
    expect(page.locator("#diagnostics .diag")).to_have_count(0)

    # a burst of changes is checked once it settles, not once per change
    before = checks.count("check")
    page.evaluate(
        """() => { const g = window.journeyCanvas.graph;
          for (let i = 0; i < 5; i++) g.getCellById('wait').translate(0, 0);
          ['a', 'b', 'c'].forEach((id, i) => g.addNode({id: 'tmp-' + id, shape: 'journey-node',
            x: 100 * i, y: 400, data: {kind: 'exit', label: '', config: {},
            meta: {summary: '', ports: [], port_labels: {}, configured: true}}})); }"""
    )
    expect(page.locator('.diag[data-code="UNREACHABLE_NODE"]')).to_have_count(3)
    assert checks.count("check") - before == 1
    assert "validate" not in checks
    assert page.errors == []  # type: ignore[attr-defined]

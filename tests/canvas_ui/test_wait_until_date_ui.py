"""The canvas entry of ``wait_until_date``: summary, ports, run note and panel in both
languages, and its compiler findings in the marketer's words."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from canvas_ui import i18n
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.kinds import KINDS
from canvas_ui.summaries import SummaryContext, node_meta
from engine.compiler import compile_document
from engine.document import NodeKind
from services.run_explain import StepView
from tests.canvas_ui.harness import create_journey

HX = {"HX-Request": "true", "Accept-Language": "en"}


def _meta(config: dict[str, Any], locale: str) -> dict[str, Any]:
    with i18n.use_locale(locale):
        return node_meta({"id": "n", "kind": "wait_until_date", "config": config}, SummaryContext())


@pytest.mark.parametrize(
    ("config", "zh", "en"),
    [
        (
            {"source": "attribute", "attribute": "baby_birthday", "mode": "date", "offset_days": 7},
            "宝宝生日前7 天 10:00",
            "7 days before baby's birthday 10:00",
        ),
        (
            {"source": "attribute", "attribute": "attributes.baby_birthday", "offset_days": 7},
            "宝宝生日前7 天 10:00 · 每年",
            "7 days before baby's birthday 10:00 · every year",
        ),
        (
            {"source": "attribute", "attribute": "due_date", "mode": "date", "offset_days": 30},
            "预产期前30 天 10:00",
            "30 days before due date 10:00",
        ),
        ({"source": "member_since", "at_time": "09:30"}, "直到入会周年 09:30", None),
        (
            {"source": "birthday", "offset_days": 1, "direction": "after"},
            "生日后1 天 10:00",
            "1 day after birthday 10:00",
        ),
        (
            {"source": "attribute", "attribute": "wedding_day", "offset_days": 3},
            "wedding_day前3 天 10:00 · 每年",
            "3 days before wedding_day 10:00 · every year",
        ),
    ],
)
def test_summary_in_both_languages(config: dict[str, Any], zh: str, en: str | None) -> None:
    assert _meta(config, "zh-CN")["summary"] == zh
    if en is not None:
        assert _meta(config, "en")["summary"] == en


def test_ports_and_their_labels() -> None:
    once = _meta({"mode": "date", "on_failure": "port"}, "zh-CN")
    assert once["ports"] == ["next", "passed", "failed"]
    assert once["port_labels"] == {"next": "下一步", "passed": "日期已过", "failed": "失败"}
    assert _meta({}, "en")["ports"] == ["next"]  # yearly: never passed; failing ends the path
    # a half-configured node keeps its ports (and so its connections)
    half = _meta({"mode": "date", "at_time": "10"}, "en")
    assert not half["configured"] and half["ports"] == ["next", "passed"]


def _step(port: str | None, result: dict[str, Any], error: str | None = None) -> StepView:
    return StepView(0, "n", "wait_until_date", 1, "", None, port, None, "s", {}, result, error)


def test_run_notes() -> None:
    info = KINDS[NodeKind.WAIT_UNTIL_DATE]
    waiting = _step(None, {"until": "2027-03-01T02:00:00+00:00", "local": "2027-03-01 10:00"})
    passed = _step("passed", {"local": "2026-11-13 10:00", "passed": True})
    with i18n.use_locale("en"):
        assert info.run_note(waiting, "Asia/Shanghai") == "Waiting until 2027-03-01 10:00"
        assert info.run_note(passed, "Asia/Shanghai") == (
            "Date passed (2026-11-13 10:00): continued at once"
        )
    with i18n.use_locale("zh-CN"):
        assert info.run_note(waiting, "Asia/Shanghai") == "等待至 2027-03-01 10:00"
        assert info.run_note(passed, "Asia/Shanghai") == "日期已过（2026-11-13 10:00）：立即继续"


def test_palette_entry() -> None:
    from canvas_ui.kinds import palette

    with i18n.use_locale("zh-CN"):
        items = {i["kind"]: i for g in palette() for i in g["items"]}
    assert "wait_until_date" in items


def test_panel_labels_in_both_languages(client: TestClient) -> None:
    jid = create_journey(client)
    url = f"/journeys/{jid}/nodes/new-d/panel?kind=wait_until_date"
    en = client.get(url, headers=HX).text
    for words in ("Date attribute", "Days before or after", "Its next anniversary (every year)"):
        assert words in en, words
    assert 'name="config.offset_days"' in en and 'max="365"' in en
    zh = client.get(url, headers={**HX, "Accept-Language": "zh-CN"}).text
    for words in ("日期属性", "提前或推后天数", "下一个周年日（每年）", "日期缺失或不是日期时"):
        assert words in zh, words


@pytest.mark.parametrize(
    ("config", "zh_words"),
    [
        ({"offset_days": 400}, "提前或推后天数"),
        ({"source": "attribute", "attribute": "due date!"}, "日期属性"),
        ({"source": "attribute"}, "日期属性"),
    ],
)
def test_a_bad_config_is_named_in_the_ui_language(config: dict[str, Any], zh_words: str) -> None:
    doc = {
        "name": "t",
        "nodes": [
            {"id": "entry", "kind": "entry"},
            {"id": "d", "kind": "wait_until_date", "label": "预产期前一周", "config": config},
            {"id": "x", "kind": "exit"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "source_port": "next", "target": "d"},
            {"id": "e2", "source": "d", "source_port": "next", "target": "x"},
        ],
    }
    result = compile_document(doc, journey_id="j", version=1, coupon_templates=set())
    diag = next(d for d in result.diagnostics if d.code == "INVALID_CONFIG")
    with i18n.use_locale("zh-CN"):
        shown = localize(diag.to_dict(), node_labels(doc), document=doc)
    assert "预产期前一周" in shown["message"] and zh_words in shown["message"], shown

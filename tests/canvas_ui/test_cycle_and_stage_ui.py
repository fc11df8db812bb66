"""The canvas side of the purchase-cycle and lifecycle-stage conditions: the branch panel
offers them (stages as translated checkboxes, the metric as a picker), problems read in the
UI's language, the segment builder shows stage names, and the entry panel suggests
``lifecycle_stage_changed``."""

from __future__ import annotations

import json
import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient

from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.i18n import use_locale
from engine.compiler import compile_document
from tests.canvas_ui.harness import create_journey
from tests.engine.sim import journey_doc

HX_ZH = {"HX-Request": "true", "Accept-Language": "zh-CN"}
HX_EN = {"HX-Request": "true", "Accept-Language": "en"}


def _post(client: TestClient, jid: str, cond: dict[str, Any], headers: dict[str, str]) -> Any:
    data: dict[str, Any] = {
        "config.rules.0.__item": "1",
        "config.rules.0.id": "r",
        "config.rules.0.match": "all",
        "config.rules.0.conditions.0.__item": "1",
        **{f"config.rules.0.conditions.0.{k}": v for k, v in cond.items()},
    }
    return client.post(f"/journeys/{jid}/nodes/b1/panel?kind=branch", data=data, headers=headers)


def test_stage_condition_is_checkboxes_with_stage_names(client: TestClient) -> None:
    jid = create_journey(client)
    cond = {"type": "lifecycle_stage", "stages": ["decline", "stable"]}
    response = _post(client, jid, cond, HX_ZH)
    assert response.status_code == 200, response.text
    node = json.loads(response.headers["hx-trigger"])["node-updated"]
    assert node["node"]["config"]["rules"][0]["conditions"][0]["stages"] == ["decline", "stable"]
    html = response.text
    assert 'value="decline" checked> 衰退期' in html and 'value="identify" > 识别期' in html
    assert "生命周期阶段" in html and "购买周期" in html  # both in the condition type picker
    en = _post(client, jid, cond, HX_EN).text
    assert 'value="decline" checked> Decline' in en and "(lifecycle stage)" not in en


def test_metric_condition_picks_the_cycle_and_takes_days(client: TestClient) -> None:
    jid = create_journey(client)
    cond = {"type": "metric", "field": "purchase_interval_median_days", "op": "lte", "value": "30"}
    response = _post(client, jid, cond, HX_EN)
    assert response.status_code == 200, response.text
    node = json.loads(response.headers["hx-trigger"])["node-updated"]
    saved = node["node"]["config"]["rules"][0]["conditions"][0]
    assert saved == {
        "type": "metric",
        "field": "purchase_interval_median_days",
        "op": "lte",
        "value": 30.0,
    }
    # the metric is picked from the purchase cycle and the 智能回访 numbers; a number
    html = response.text
    assert '<option value="metric" selected>Customer metric</option>' in html
    for label in ("Days since the last contact", "Contacts in the last 7 days"):
        assert f">{label}</option>" in html
    assert 'type="number" id="f-config.rules.0.conditions.0.value"' in html
    bad = _post(client, jid, {**cond, "value": "-3"}, HX_EN)
    assert bad.status_code == 422


def _problem(rules: list[dict[str, Any]], locale: str) -> dict[str, Any]:
    doc = journey_doc(
        [
            {"id": "entry", "kind": "entry"},
            {"id": "b", "kind": "branch", "label": "阶段分流", "config": {"rules": rules}},
            {"id": "x", "kind": "exit"},
            {"id": "y", "kind": "exit"},
        ],
        [("entry", "next", "b"), ("b", "r", "x"), ("b", "else", "y")],
    )
    [diag] = compile_document(doc, journey_id="j", version=1).diagnostics
    with use_locale(locale):
        return localize(diag.to_dict(), node_labels(doc), document=doc)


def test_problems_read_in_the_ui_language() -> None:
    stage = [{"id": "r", "conditions": [{"type": "lifecycle_stage", "stages": ["asleep"]}]}]
    zh = _problem(stage, "zh_CN")
    assert "未知的生命周期阶段“asleep”" in zh["message"] and "阶段分流" in zh["message"]
    assert "衰退期" in zh["hint"]
    cycle = [{"id": "r", "conditions": [{"type": "metric", "op": "gte"}]}]
    message = _problem(cycle, "en")["message"]
    assert "compares “Own purchase cycle (median days between purchases)” with no" in message


def _builder_meta(client: TestClient, lang: str) -> dict[str, Any]:
    html = client.get("/segments/new", headers={"Accept-Language": lang}).text
    match = re.search(r'data-meta="([^"]*)"', html)
    assert match is not None
    return dict(json.loads(unescape(match.group(1))))


def test_segment_builder_names_the_stages(client: TestClient) -> None:
    zh = _builder_meta(client, "zh-CN")["choice_labels"]["lifecycle_stage"]
    assert zh == {
        "identify": "识别期",
        "develop": "发展期",
        "stable": "稳定期",
        "decline": "衰退期",
    }
    en = _builder_meta(client, "en")["choice_labels"]["lifecycle_stage"]
    assert en == {
        "identify": "Identify",
        "develop": "Develop",
        "stable": "Stable",
        "decline": "Decline",
    }


def test_entry_panel_suggests_the_stage_change_event(client: TestClient) -> None:
    jid = create_journey(client)
    html = client.get(f"/journeys/{jid}/nodes/entry/panel", headers=HX_EN).text
    assert '<option value="lifecycle_stage_changed">' in html

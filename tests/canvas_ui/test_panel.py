"""The property panel: forms generated from typed configs, validation, list actions."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from engine.document import NodeKind
from tests.canvas_ui.harness import create_journey

HX = {"HX-Request": "true", "Accept-Language": "en"}


def _trigger(response: httpx.Response) -> dict[str, Any]:
    return json.loads(response.headers["hx-trigger"])["node-updated"]


@pytest.mark.parametrize("kind", [k.value for k in NodeKind])
def test_every_kind_has_a_panel(client: TestClient, kind: str) -> None:
    jid = create_journey(client)
    response = client.get(f"/journeys/{jid}/nodes/new-{kind}/panel?kind={kind}", headers=HX)
    assert response.status_code == 200, response.text
    assert 'name="label"' in response.text


def test_wait_form_fields_units_and_choices(client: TestClient) -> None:
    jid = create_journey(client)
    html = client.get(f"/journeys/{jid}/nodes/wait/panel", headers=HX).text
    assert 'name="config.until.type"' in html and "For a fixed time" in html
    assert 'value="3"' in html  # the saved amount
    assert '<option value="days" data-one="day" data-many="days" selected>days</option>' in html
    # other variants are present but disabled, so only the chosen one is posted
    assert 'data-tag="context" disabled hidden' in html


def test_coupon_choices_come_from_templates(client: TestClient) -> None:
    jid = create_journey(client)
    html = client.get(f"/journeys/{jid}/nodes/coupon/panel", headers=HX).text
    assert '<option value="NEW20" selected>新客20元券 · ¥20 · 30 days</option>' in html


def test_rfm_classes_are_checkboxes(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "config.rules.0.__item": "1",
        "config.rules.0.id": "vip",
        "config.rules.0.match": "all",
        "config.rules.0.conditions.0.__item": "1",
        "config.rules.0.conditions.0.type": "rfm_class",
        "config.rules.0.conditions.0.classes": ["重要价值", "重要保持"],
    }
    response = client.post(f"/journeys/{jid}/nodes/b1/panel?kind=branch", data=data, headers=HX)
    assert response.status_code == 200, response.text
    node = _trigger(response)
    condition = node["node"]["config"]["rules"][0]["conditions"][0]
    assert condition["classes"] == ["重要价值", "重要保持"]
    assert node["meta"]["ports"] == ["vip", "else"]
    assert 'value="重要价值" checked' in response.text


def test_valid_post_returns_node_with_summary_and_ports(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "label": "等三天",
        "config.until.type": "duration",
        "config.until.duration.amount": "3",
        "config.until.duration.unit": "days",
    }
    response = client.post(
        f"/journeys/{jid}/nodes/wait/panel",
        data=data,
        headers={**HX, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 200
    update = _trigger(response)
    assert update["node"] == {
        "id": "wait",
        "kind": "wait",
        "label": "等三天",
        "position": {"x": 300, "y": 0},
        "config": {
            "until": {"type": "duration", "duration": {"amount": 3, "unit": "days"}},
            "window": None,
        },
    }
    assert update["meta"]["summary"] == "等待 3 天"
    assert update["meta"]["ports"] == ["next"]


def test_invalid_post_is_422_with_inline_errors(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "config.until.type": "duration",
        "config.until.duration.amount": "-1",
        "config.until.duration.unit": "days",
    }
    response = client.post(f"/journeys/{jid}/nodes/wait/panel", data=data, headers=HX)
    assert response.status_code == 422
    assert "hx-trigger" not in response.headers
    assert 'id="err-config.until.duration.amount"' in response.text
    assert "Must be at least 0." in response.text


def test_guide_task_requires_instructions(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "config.task_type": "call",
        "config.instructions": "",
        "config.due_in.amount": "24",
        "config.due_in.unit": "hours",
    }
    response = client.post(
        f"/journeys/{jid}/nodes/t1/panel?kind=assign_guide_task", data=data, headers=HX
    )
    assert response.status_code == 422
    assert 'id="err-config.instructions">Required.' in response.text


def test_guide_task_summary(client: TestClient) -> None:
    jid = create_journey(client)
    data = {
        "config.task_type": "call",
        "config.instructions": "回访",
        "config.due_in.amount": "24",
        "config.due_in.unit": "hours",
        "config.outcomes": "到店\n不感兴趣",
    }
    response = client.post(
        f"/journeys/{jid}/nodes/t1/panel?kind=assign_guide_task",
        data=data,
        headers={**HX, "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 200, response.text
    meta = _trigger(response)["meta"]
    assert meta["summary"] == "导购电话回访 · 24h"
    assert meta["ports"] == ["到店", "不感兴趣", "expired"]


def test_one_per_line_fields_are_not_cut_to_their_item_count(client: TestClient) -> None:
    """A list's limit counts items: as a textarea maxlength it cut outcomes off after 8
    characters (issue 18, item 8). Too many items is the server's sentence instead."""
    jid = create_journey(client)
    panel = client.get(f"/journeys/{jid}/nodes/t1/panel?kind=assign_guide_task", headers=HX)
    outcomes = re.search(r"<textarea[^>]*name=\"config.outcomes\"[^>]*>", panel.text)
    tags = client.get(f"/journeys/{jid}/nodes/u1/panel?kind=update_customer", headers=HX)
    add_tags = re.search(r"<textarea[^>]*name=\"config.add_tags\"[^>]*>", tags.text)
    assert outcomes and add_tags
    assert "maxlength" not in outcomes.group(0) and "maxlength" not in add_tags.group(0)
    data = {
        "config.task_type": "call",
        "config.instructions": "回访",
        "config.due_in.amount": "24",
        "config.due_in.unit": "hours",
        "config.outcomes": "\n".join(f"outcome_{i}" for i in range(9)),
    }
    response = client.post(
        f"/journeys/{jid}/nodes/t1/panel?kind=assign_guide_task", data=data, headers=HX
    )
    assert response.status_code == 422
    assert 'id="err-config.outcomes">At most 8 items.' in response.text


def test_add_and_remove_list_items_without_validating(client: TestClient) -> None:
    jid = create_journey(client)
    url = f"/journeys/{jid}/nodes/s1/panel?kind=split"
    added = client.post(url, data={"_action": "add:config.variants"}, headers=HX)
    assert added.status_code == 200 and "hx-trigger" not in added.headers
    assert re.search(r'name="config\.variants\.0\.id"[^>]*value="a"', added.text)
    data = {
        "config.variants.0.__item": "1",
        "config.variants.0.id": "a",
        "config.variants.0.weight": "50",
        "config.variants.1.__item": "1",
        "config.variants.1.id": "b",
        "config.variants.1.weight": "50",
        "_action": "remove:config.variants.0",
    }
    removed = client.post(url, data=data, headers=HX)
    assert re.search(r'name="config\.variants\.0\.id"[^>]*value="b"', removed.text)
    assert "config.variants.1.id" not in removed.text


def test_label_is_escaped_in_the_panel(client: TestClient) -> None:
    jid = create_journey(client)
    evil = "<img src=x onerror=alert(1)>"
    data = {"label": evil, "config.goal_reached": "on"}
    response = client.post(f"/journeys/{jid}/nodes/exit/panel", data=data, headers=HX)
    assert response.status_code == 200
    assert evil not in response.text
    assert "&lt;img src=x onerror=alert(1)&gt;" in response.text
    assert _trigger(response)["node"]["label"] == evil  # JSON for textContent on the canvas


def test_unknown_kind_is_422(client: TestClient) -> None:
    jid = create_journey(client)
    response = client.get(f"/journeys/{jid}/nodes/zz/panel?kind=teleport", headers=HX)
    assert response.status_code == 422
    assert "teleport" in response.json()["detail"]


def test_every_config_field_has_a_label() -> None:
    """A new config field must get words in forms/labels.py (and the catalogs)."""
    from canvas_ui.forms import labels
    from canvas_ui.forms.spec import FieldSpec, model_spec
    from canvas_ui.kinds import KINDS

    def walk(specs: list[FieldSpec]) -> list[str]:
        missing = []
        for s in specs:
            if (
                s.widget != "hidden"
                and f"{s.model}.{s.name}" not in labels.FIELDS
                and s.name not in labels.FIELDS
                and s.name != "item"
            ):
                missing.append(f"{s.model}.{s.name}")
            missing += walk(s.children)
            for _cls, children in s.variants.values():
                missing += walk(children)
            if s.item is not None:
                missing += walk([s.item])
        return missing

    assert [m for info in KINDS.values() for m in walk(model_spec(info.config_model))] == []


def test_segment_condition_picks_a_saved_segment(client: TestClient) -> None:
    definition = {"rules": [{"type": "tag", "tags": ["vip"], "match": "any"}]}
    saved = client.post(
        "/api/segments", json={"id": "vip", "name": "VIP", "definition": definition}
    )
    assert saved.status_code == 201, saved.text
    jid = create_journey(client)
    data = {
        "config.rules.0.__item": "1",
        "config.rules.0.id": "vip",
        "config.rules.0.match": "all",
        "config.rules.0.conditions.0.__item": "1",
        "config.rules.0.conditions.0.type": "segment",
        "config.rules.0.conditions.0.segment_id": "vip",
        "config.rules.0.conditions.0.member": "on",
    }
    response = client.post(f"/journeys/{jid}/nodes/b1/panel?kind=branch", data=data, headers=HX)
    assert response.status_code == 200, response.text
    condition = _trigger(response)["node"]["config"]["rules"][0]["conditions"][0]
    assert condition == {"type": "segment", "segment_id": "vip", "member": True}
    assert "Segment membership" in response.text
    assert '<option value="vip" selected>VIP · vip</option>' in response.text


def picker_document() -> dict[str, Any]:
    """entry → coupon “首单券” → guide task (no label) → wait → coupon “二次券” → exit, with
    a coupon on a branch that never reaches the wait; the wait points at the later coupon."""

    def node(nid: str, kind: str, label: str, config: dict[str, Any]) -> dict[str, Any]:
        return {"id": nid, "kind": kind, "label": label, "config": config}

    def halves(variant: str) -> dict[str, Any]:
        return {"id": variant, "weight": 50}

    coupon = {"coupon_template_id": "NEW20"}
    until = {"type": "context", "node_id": "coupon-late", "field": "expires_at"}
    condition = {"type": "context", "node_id": "task", "field": "outcome", "value": "completed"}
    rule = {"id": "r", "label": "", "match": "all", "conditions": [condition]}
    return {
        "schema_version": 1,
        "name": "picker",
        "nodes": [
            node("entry", "entry", "", {"trigger": {"type": "manual"}}),
            node("split", "split", "", {"variants": [halves("a"), halves("b")]}),
            node("coupon-first", "send_coupon", "首单券", coupon),
            node("coupon-other", "send_coupon", "另一路的券", coupon),
            node("task", "assign_guide_task", "", {"instructions": "回访"}),
            node("wait", "wait", "到期前", {"until": until}),
            node("used", "branch", "核销了吗", {"rules": [rule]}),
            node("coupon-late", "send_coupon", "二次券", coupon),
            node("exit", "exit", "", {}),
            node("exit-b", "exit", "", {}),
        ],
        "edges": [
            {"id": "e1", "source": "entry", "source_port": "next", "target": "split"},
            {"id": "e2", "source": "split", "source_port": "a", "target": "coupon-first"},
            {"id": "e3", "source": "split", "source_port": "b", "target": "coupon-other"},
            {"id": "e4", "source": "coupon-first", "source_port": "next", "target": "task"},
            {"id": "e5", "source": "task", "source_port": "completed", "target": "wait"},
            {"id": "e6", "source": "wait", "source_port": "next", "target": "used"},
            {"id": "e9", "source": "used", "source_port": "r", "target": "coupon-late"},
            {"id": "e10", "source": "used", "source_port": "else", "target": "exit-b"},
            {"id": "e7", "source": "coupon-late", "source_port": "next", "target": "exit"},
            {"id": "e8", "source": "coupon-other", "source_port": "next", "target": "exit-b"},
        ],
    }


def test_earlier_step_picker_lists_upstream_steps_by_label(client: TestClient) -> None:
    """Only coupon / task steps with a path to the edited step, nearest first, by name; a
    stored step that does not come before it stays selected, named, and marked as such."""
    jid = create_journey(client, picker_document())
    html = client.get(f"/journeys/{jid}/nodes/wait/panel", headers=HX).text
    select = re.search(r'<select[^>]*name="config\.until\.node_id".*?</select>', html, re.S)
    assert select is not None, html
    options = re.findall(r'<option value="([^"]*)" ?(selected)?>([^<]*)</option>', select.group(0))
    assert options == [
        ("task", "", "Guide task"),
        ("coupon-first", "", "首单券"),
        ("coupon-late", "selected", "“二次券” (not before this step)"),
    ]
    # a branch rule's “earlier step” condition, in Chinese: the same steps
    branch = client.get(
        f"/journeys/{jid}/nodes/used/panel", headers={**HX, "Accept-Language": "zh-CN"}
    ).text
    assert '<option value="task" selected>导购任务</option>' in branch
    assert '<option value="coupon-first" >首单券</option>' in branch
    assert "二次券" not in branch and "另一路的券" not in branch

"""Every diagnostic a user sees is a sentence in their language naming steps by label, in
English as in Chinese: never the compiler's developer text (``Node 'x' (kind): config.…``)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from canvas_ui.diagnostics import MESSAGES, VARIANTS, localize, node_labels
from canvas_ui.i18n import use_locale
from engine.compiler import Code, compile_document
from tests.canvas_ui.harness import create_journey, linear_document

#: what the compiler's developer wording looks like
DEVELOPER_TEXT = re.compile(
    r"Node '|config\.|String should|Input should|Field required|source_port|\(send_coupon\)"
)


def _broken_document() -> dict[str, Any]:
    """One journey with most things a marketer can get wrong, on steps with odd ids."""
    doc = linear_document()
    doc["nodes"][2]["config"]["coupon_template_id"] = "NEW2O"
    doc["nodes"] += [
        {"id": "send-coupon-l6yz5", "kind": "send_coupon", "label": "", "config": {}},
        {
            "id": "branch-q1",
            "kind": "branch",
            "label": "看核销",
            "config": {"rules": [{"id": "r1", "label": "已核销", "conditions": []}]},
        },
        {
            "id": "wait-k2",
            "kind": "wait",
            "config": {"until": {"type": "duration", "duration": {"amount": 0, "unit": "days"}}},
        },
        {
            "id": "send-message-z9",
            "kind": "send_message",
            "label": "提醒",
            "config": {"content": "{name}您好 {{ customer.nmae }}", "subject": "{% if %}"},
        },
        {
            "id": "split-p3",
            "kind": "split",
            "config": {"variants": [{"id": "a", "weight": 30}, {"id": "b", "weight": 30}]},
        },
        {"id": "send-message-y8", "kind": "send_message", "config": {"channel": "fax"}},
    ]
    doc["edges"] += [
        {"id": "x1", "source": "coupon", "source_port": "gone", "target": "exit"},
        {"id": "x2", "source": "branch-q1", "source_port": "else", "target": "exit"},
        {"id": "x3", "source": "branch-q1", "source_port": "else", "target": "wait-k2"},
    ]
    return doc


def test_every_compiler_code_has_a_sentence() -> None:
    assert {c.value for c in Code} <= set(MESSAGES)
    assert {code for code, _variant in VARIANTS} <= set(MESSAGES)


@pytest.mark.parametrize("locale", ["en", "zh-CN"])
def test_diagnostics_read_as_sentences_naming_steps_by_label(locale: str) -> None:
    doc = _broken_document()
    result = compile_document(doc, coupon_templates={"NEW20"})
    codes = {d.code for d in result.diagnostics}
    assert {
        Code.INVALID_CONFIG,
        Code.UNKNOWN_COUPON_TEMPLATE,
        Code.EDGE_UNKNOWN_PORT,
        Code.DUPLICATE_PORT_EDGE,
        Code.MISSING_EDGE,
        Code.EMPTY_RULE,
        Code.INVALID_WAIT,
        Code.TEMPLATE_SYNTAX,
        Code.SINGLE_BRACE_PLACEHOLDER,
        Code.SPLIT_WEIGHTS,
        Code.UNREACHABLE_NODE,
    } <= codes
    with use_locale(locale):
        labels = node_labels(doc)
        shown = [localize(d.to_dict(), labels, document=doc) for d in result.diagnostics]
    for d in shown:
        text = d["message"] + " " + d["hint"]
        assert not DEVELOPER_TEXT.search(text), text
        assert d["message"] != d["detail"], d  # never the compiler's words
        # a step appears by its label (or its kind's name), never by its id
        assert not re.search(r"l6yz5|-q1|-k2|-z9|-p3|-y8", d["message"]), d["message"]
        if locale == "zh-CN":
            assert re.search(r"[\u4e00-\u9fff]", d["message"]), d["message"]
    by_code = {d["code"]: d["message"] for d in reversed(shown)}
    if locale == "en":
        # the example: which step, which field, what is wrong
        assert "“Send coupon” is not set up completely: Coupon template: required." in [
            d["message"] for d in shown
        ]
        assert "“看核销”" in by_code["EMPTY_RULE"] and "“已核销”" in by_code["EMPTY_RULE"]
        assert by_code["UNKNOWN_COUPON_TEMPLATE"].endswith("“NEW2O”, which does not exist.")
    else:
        assert "“发优惠券”尚未配置完整：优惠券模板：必填。" in [d["message"] for d in shown]
        assert "“看核销”的输出“其他”有多条连线。" in [d["message"] for d in shown]


def test_validate_and_test_run_answer_in_the_users_language(client: TestClient) -> None:
    doc = linear_document()
    doc["nodes"][2] = {**doc["nodes"][2], "id": "send-coupon-l6yz5", "config": {}}
    doc["edges"][1]["target"] = doc["edges"][2]["source"] = "send-coupon-l6yz5"
    jid = create_journey(client, doc)
    body = client.post(f"/api/journeys/{jid}/validate").json()
    (problem,) = body["diagnostics"]
    assert problem["message"] == (
        "“Send coupon” is not set up completely: Coupon template: required."
    )
    assert problem["detail"].startswith("Node 'send-coupon-l6yz5'")  # kept for engineers
    assert problem["params"]["errors"][0]["loc"] == ["config", "coupon_template_id"]
    zh = client.post(f"/api/journeys/{jid}/validate", headers={"Accept-Language": "zh-CN"})
    assert zh.json()["diagnostics"][0]["message"] == "“发优惠券”尚未配置完整：优惠券模板：必填。"

    refused = client.post(f"/journeys/{jid}/test-run", json={"name": "李女士"})
    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "“Send coupon” is not set up completely: Coupon template: required."
    )

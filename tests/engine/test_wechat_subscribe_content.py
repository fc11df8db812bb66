"""The compiler's check of WeChat subscribe-message content, and how the canvas words it."""

from __future__ import annotations

from typing import Any

import pytest

from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.i18n import use_locale
from engine.compiler import Code, Severity, compile_document
from engine.kinds.send_message import SendMessageStep
from engine.subscribe_content import SubscribeContentError, check, parse
from tests.engine.test_compiler import COUPONS, _node, valid_doc


def _doc(content: str) -> dict[str, Any]:
    doc = valid_doc()
    _node(doc, "m")["config"].update(channel="wechat_subscribe", content=content)
    return doc


@pytest.mark.parametrize(
    "content",
    [
        "{{ customer.name }}，券快到期了",
        '{"template_id": "SUB-1", "data": {"thing1": "{{ customer.name }}", "time2": "6月3日"}}',
        '{"data": {"thing1": {"value": "会员日"}}, "page": "https://m.example.com/"}',
        '{"data": {"phrase3": "已到账"}, "miniprogram": {"appid": "wx1", "pagepath": "p"}}',
    ],
)
def test_subscribe_content_that_fits_compiles(content: str) -> None:
    result = compile_document(_doc(content), journey_id="j1", version=1, coupon_templates=COUPONS)
    assert result.ok, result.diagnostics
    assert result.journey is not None
    step = result.journey.step("m")
    assert isinstance(step, SendMessageStep) and step.channel == "wechat_subscribe"


@pytest.mark.parametrize(
    "content,problem,key",
    [
        ('{"data": {"thing1": "x"', "json", ""),
        ('{"template_id": "SUB-1"}', "data", ""),
        ('{"data": {}}', "data", ""),
        ('{"data": {"标题": "x"}}', "key", "标题"),
        (
            '{"data": {"thing1": "这是一段超过二十个字的会员日活动说明文字呀"}}',
            "too_long",
            "thing1",
        ),
        ('{"data": {"phrase2": "已经成功到账"}}', "too_long", "phrase2"),
        ('{"data": {"thing1": "x"}, "miniprogram": {"pagepath": "p"}}', "miniprogram", ""),
        ('{"data": ' + "[" * 1990, "json", ""),
    ],
)
def test_subscribe_content_that_does_not_fit_is_an_error_naming_it(
    content: str, problem: str, key: str
) -> None:
    result = compile_document(_doc(content), journey_id="j1", version=1, coupon_templates=COUPONS)
    (diag,) = [d for d in result.diagnostics if d.code is Code.WECHAT_SUBSCRIBE_CONTENT]
    assert not result.ok and diag.node_ids == ("m",)
    assert diag.params["problem"] == problem and diag.params["key"] == key
    with pytest.raises(SubscribeContentError):
        check(content)


def test_the_canvas_says_it_in_both_languages() -> None:
    content = '{"data": {"thing1": "这是一段超过二十个字的会员日活动说明文字呀"}}'
    result = compile_document(_doc(content), journey_id="j1", version=1, coupon_templates=COUPONS)
    (diag,) = [d for d in result.diagnostics if d.code is Code.WECHAT_SUBSCRIBE_CONTENT]
    doc = _doc(content)
    with use_locale("en"):
        en = localize(diag.to_dict(), node_labels(doc), document=doc)
    with use_locale("zh-CN"):
        zh = localize(diag.to_dict(), node_labels(doc), document=doc)
    assert "“thing1”" in en["message"] and "20 characters" in en["message"]
    assert "thing1" in zh["message"] and "20" in zh["message"] and "字" in zh["message"]
    assert en["message"] != zh["message"]


def test_long_plain_text_is_a_warning() -> None:
    text = "您的20元优惠券将在3天后到期，欢迎到南京西路店使用"
    result = compile_document(_doc(text), journey_id="j1", version=1, coupon_templates=COUPONS)
    (diag,) = [d for d in result.diagnostics if d.code is Code.WECHAT_SUBSCRIBE_CONTENT]
    assert result.ok and diag.severity is Severity.WARNING
    assert diag.params["problem"] == "plain_long"


def test_a_value_with_a_placeholder_is_checked_when_sent() -> None:
    check('{"data": {"thing1": "{{ customer.name }}您好，您的券将在三天后到期，请尽快使用"}}')
    assert parse("纯文本").plain == "纯文本"

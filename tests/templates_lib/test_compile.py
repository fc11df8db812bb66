"""Every built-in template compiles with its defaults and at every parameter bound; values out
of bounds raise an error naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest

from db.seed_data import COUPON_TEMPLATES
from engine.compiler import compile_document
from templates_lib import (
    ParameterError,
    ParamType,
    all_templates,
    get_template,
    instantiate,
    preview,
    resolve_params,
)

COUPONS = {c[0] for c in COUPON_TEMPLATES}


def _cases() -> list[Any]:
    cases = []
    for t in all_templates():
        cases.append(pytest.param(t.id, {}, id=f"{t.id}-defaults"))
        lows: dict[str, Any] = {p.name: p.minimum for p in t.params if p.type is ParamType.INT}
        highs: dict[str, Any] = {p.name: p.maximum for p in t.params if p.type is ParamType.INT}
        for p in t.params:
            if p.type is ParamType.MULTI:
                lows[p.name] = [p.choices[0].value]
                highs[p.name] = [c.value for c in p.choices]
            elif p.type is ParamType.CHOICE:
                lows[p.name] = p.choices[-1].value
        if t.cross_check is None:
            cases.append(pytest.param(t.id, lows, id=f"{t.id}-all-minimum"))
            cases.append(pytest.param(t.id, highs, id=f"{t.id}-all-maximum"))
        for p in t.params:
            if p.type is ParamType.INT:
                for bound in (p.minimum, p.maximum):
                    cases.append(pytest.param(t.id, {p.name: bound}, id=f"{t.id}-{p.name}={bound}"))
    # the VIP cycle's phases at their tightest and widest legal spacing
    cases.append(
        pytest.param(
            "vip_churn",
            {"care_day": 7, "light_care_until_day": 8, "offer_day": 20},
            id="vip_churn-tight",
        )
    )
    cases.append(
        pytest.param(
            "vip_churn",
            {"care_day": 1, "light_care_until_day": 7, "offer_day": 60},
            id="vip_churn-wide",
        )
    )
    return cases


@pytest.mark.parametrize("template_id,params", _cases())
def test_compiles(template_id: str, params: dict[str, Any]) -> None:
    doc = instantiate(template_id, params)
    result = compile_document(doc, journey_id=template_id, version=1, coupon_templates=COUPONS)
    assert result.ok, [d.message for d in result.errors]
    assert not result.diagnostics, [d.message for d in result.diagnostics]  # no warnings either


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.id)
def test_metadata_reads_in_both_languages(template: Any) -> None:
    for text in (template.name, template.description, template.goal, template.audience):
        assert text.zh and text.en and text.zh != text.en
    for p in template.params:
        assert p.label.zh and p.label.en
        if p.type is ParamType.INT:
            assert p.minimum <= p.default <= p.maximum, p.name
    doc = instantiate(template.id)
    assert preview(doc).nodes and len(preview(doc).edges) == len(doc["edges"])
    assert all(n["label"] for n in doc["nodes"])  # every step is named for the marketer


@pytest.mark.parametrize("template", all_templates(), ids=lambda t: t.id)
def test_out_of_bounds_names_the_parameter(template: Any) -> None:
    for p in template.params:
        if p.type is not ParamType.INT:
            continue
        for bad in (p.minimum - 1, p.maximum + 1):
            with pytest.raises(ParameterError) as exc:
                instantiate(template.id, {p.name: bad})
            assert [i.param for i in exc.value.issues] == [p.name]
            assert f"'{p.name}'" in str(exc.value) and str(bad) in str(exc.value)


def test_all_issues_are_reported_at_once() -> None:
    with pytest.raises(ParameterError) as exc:
        instantiate(
            "second_purchase",
            {
                "care_delay_days": 0,
                "care_channel": "pigeon",
                "final_wait_days": "x",
                "colour": "red",
            },
        )
    assert sorted(i.param for i in exc.value.issues) == [
        "care_channel",
        "care_delay_days",
        "colour",
        "final_wait_days",
    ]
    assert {i.code for i in exc.value.issues} == {
        "out_of_range",
        "not_a_choice",
        "not_an_integer",
        "unknown",
    }


def test_vip_cycle_order_is_checked() -> None:
    with pytest.raises(ParameterError) as exc:
        instantiate("vip_churn", {"care_day": 7, "light_care_until_day": 7, "offer_day": 20})
    assert [i.param for i in exc.value.issues] == ["light_care_until_day"]


def test_form_strings_and_multi_values_are_coerced() -> None:
    values = resolve_params(
        "dormant_wakeup", {"dormant_days": "120", "important_classes": ["重要挽留", "重要价值"]}
    )
    assert values["dormant_days"] == 120
    assert values["important_classes"] == ("重要价值", "重要挽留")  # declared order
    assert get_template("dormant_wakeup").param("dormant_days").unit == "days"


def test_documents_reflect_parameters() -> None:
    doc = instantiate(
        "second_purchase", {"remind_days_before_expiry": 5, "coupon_template_id": "SEASON40"}
    )
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert nodes["coupon"]["config"]["coupon_template_id"] == "SEASON40"
    assert nodes["until_reminder"]["config"]["until"]["offset"] == {"amount": 5, "unit": "days"}
    assert "5天" in nodes["expiry_reminder"]["config"]["content"]
    assert doc["settings"]["goal"] == {"event_type": "purchase"}

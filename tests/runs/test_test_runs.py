"""Test runs of every built-in template with scripted events: the path is the one the
script implies, in milliseconds, with sandbox side effects only."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from db.seed_data import COUPON_TEMPLATES
from engine.effects import CustomerFacts
from engine.simulation import CouponTemplateSpec
from services.test_runs import (
    ScriptError,
    ScriptOutcomeError,
    compile_draft,
    parse_script,
    run_test,
)
from templates_lib import all_templates, instantiate

COUPONS = {
    tid: CouponTemplateSpec(tid, face, min_spend, days, stock)
    for tid, _n, face, min_spend, days, stock in COUPON_TEMPLATES
}
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def facts(**kw: Any) -> CustomerFacts:
    base: dict[str, Any] = {
        "customer_id": "C1",
        "name": "李女士",
        "guide_id": "G1",
        "member_level": "silver",
        "rfm_class": "一般发展",
        "birthday": "1990-11-20",
    }
    base.update(kw)
    return CustomerFacts(**base)


#: template → (facts overrides, script, past purchases (days ago), expected path)
CASES: dict[str, tuple[dict[str, Any], str, list[tuple[float, str]], list[str]]] = {
    "second_purchase": (
        {},
        "purchase ¥300 on day 5",
        [],
        [
            "entry",
            "is_new",
            "care_wait",
            "care_msg",
            "coupon",
            "coupon_notice",
            "until_reminder",
            "until_reminder",
        ],
    ),  # the purchase reaches the journey goal while waiting there
    "lead_activation": (
        {},
        "task outcome will_visit on day 3.5\n第6天 购买 ¥199",
        [],
        [
            "entry",
            "wait_1h",
            "recommend",
            "wait_purchase",
            "invite",
            "last_offer",
            "offer_msg",
            "wait_offer",
            "goal",
        ],
    ),
    "vip_churn": (
        {"member_level": "gold"},
        "purchase ¥800 on day 42",
        [],
        [
            "entry",
            "is_vip",
            "care_wait",
            "care_msg",
            "light_wait",
            "light_msg",
            "offer_wait",
            "offer_coupon",
            "offer_msg",
            "offer_watch",
            "goal",
        ],
    ),
    "birthday_care": (
        {"rfm_class": "重要价值"},
        "task outcome completed on day 18.5",  # the wish task opens on the birthday
        [],
        [
            "entry",
            "to_window",
            "bday_coupon",
            "month_greeting",
            "to_birthday",
            "value",
            "guide_wish",
            "until_reminder",
            "redeemed",
            "reminder",
            "done",
        ],
    ),
    "coupon_expiry": (
        {},
        "",
        [],
        ["entry", "to_window", "notice", "wait_use", "value", "last_sms", "final_wait", "done"],
    ),
}


def test_every_builtin_template_has_a_case() -> None:
    assert {t.id for t in all_templates()} - set(CASES) <= {"dormant_wakeup"}


@pytest.mark.parametrize("template_id", sorted(CASES))
async def test_template_path(template_id: str) -> None:
    overrides, script, past, expected = CASES[template_id]
    journey = compile_draft(
        instantiate(template_id), journey_id=template_id, coupon_templates=set(COUPONS)
    )
    result = await run_test(
        journey,
        facts(**overrides),
        coupon_templates=COUPONS,
        script=parse_script(script),
        start=START,
        past_events=past,
    )
    assert result.stalled is None
    assert result.explanation.path == expected, result.explanation.path
    assert result.elapsed_ms < 2000
    if template_id == "second_purchase":
        assert result.explanation.steps[-1].kind == "goal" and result.explanation.goal_reached
    # every step but the last leads to the next one on the canvas
    steps = result.explanation.steps
    for a, b in zip(steps, steps[1:], strict=False):
        assert a.next_node == b.node_id or b.kind == "goal"


async def test_dormant_wakeup_runs() -> None:
    journey = compile_draft(
        instantiate("dormant_wakeup"), journey_id="dw", coupon_templates=set(COUPONS)
    )
    result = await run_test(
        journey,
        facts(rfm_class="重要挽留"),
        coupon_templates=COUPONS,
        script=parse_script("task outcome will_visit on day 1\npurchase ¥200 on day 4"),
        start=START,
    )
    assert result.explanation.status == "exited"
    assert result.explanation.path[0] == "entry"


async def test_step_states_grow_with_the_run() -> None:
    journey = compile_draft(
        instantiate("second_purchase"), journey_id="sp", coupon_templates=set(COUPONS)
    )
    result = await run_test(
        journey,
        facts(),
        coupon_templates=COUPONS,
        script=parse_script("purchase ¥300 on day 5"),
        start=START,
    )
    by_node = {s.node_id: s for s in result.explanation.steps}
    assert "coupon" not in by_node["care_msg"].context
    assert by_node["coupon"].context["coupon"]["code"].startswith("SIM")
    assert by_node["coupon"].result["expires_at"]
    # the purchase on day 5 is buffered (not consumed) by the time the reminder wait ends
    events = by_node["until_reminder"].events
    assert [e["type"] for e in events] == ["purchase"]
    assert result.coupons and result.messages and not result.tasks


def test_script_forms() -> None:
    lines = parse_script(
        "purchase ¥300 on day 5\ntask outcome interested at call on day 2\n"
        "第3天 10:30 到店\n# comment\ncoupon_redeemed on day 1.5 14:00"
    )
    assert [(x.day, x.event_type, x.task_outcome) for x in lines] == [
        (5, "purchase", None),
        (2, None, "interested"),
        (3, "store_visit", None),
        (1.5, "coupon_redeemed", None),
    ]
    assert lines[0].properties == {"amount": 300}
    assert lines[1].task_node_id == "call"
    assert parse_script('[{"day": 2, "event": "purchase", "properties": {"amount": 9}}]')[
        0
    ].properties == {"amount": 9}
    with pytest.raises(ScriptError, match="line 1"):
        parse_script("buy something sometime")


async def test_segment_branch_follows_the_test_customers_segments() -> None:
    from services.test_runs import facts_for

    document = {
        "name": "人群分支",
        "nodes": [
            {"id": "entry", "kind": "entry", "config": {"trigger": {"type": "manual"}}},
            {
                "id": "b",
                "kind": "branch",
                "config": {
                    "rules": [
                        {
                            "id": "dormant",
                            "conditions": [{"type": "segment", "segment_id": "dormant_90d"}],
                        }
                    ]
                },
            },
            {"id": "in", "kind": "exit"},
            {"id": "out", "kind": "exit"},
        ],
        "edges": [
            {"id": "e1", "source": "entry", "target": "b"},
            {"id": "e2", "source": "b", "source_port": "dormant", "target": "in"},
            {"id": "e3", "source": "b", "source_port": "else", "target": "out"},
        ],
    }
    journey = compile_draft(document, journey_id="seg", coupon_templates=set(COUPONS))
    assert journey.branch_segments() == ("dormant_90d",)
    paths = {}
    for segments in ("dormant_90d, vip", ""):
        customer = facts_for(session=None, segments=segments)
        result = await run_test(journey, customer, coupon_templates=COUPONS, script=[], start=START)
        paths[segments] = result.explanation.path
    assert paths == {"dormant_90d, vip": ["entry", "b", "in"], "": ["entry", "b", "out"]}


# --- issue 17 item 6: scripted task outcomes the run cannot take are refused by line


def _second_purchase() -> Any:
    return compile_draft(
        instantiate("second_purchase"), journey_id="sp", coupon_templates=set(COUPONS)
    )


@pytest.mark.parametrize(
    ("script", "line", "says"),
    [
        # the call's outcomes are will_visit / no_answer / not_interested
        ("purchase ¥300 on day 40\ntask outcome interested on day 29", 2, "'interested'"),
        ("task outcome will_visit at coupon on day 29", 1, "not a guide task step"),
        ("task outcome nope at call on day 29", 1, "the task 'call' has no outcome 'nope'"),
    ],
)
async def test_an_outcome_no_task_defines_is_refused_naming_the_line(
    script: str, line: int, says: str
) -> None:
    with pytest.raises(ScriptOutcomeError) as info:
        await run_test(
            _second_purchase(),
            facts(),
            coupon_templates=COUPONS,
            script=parse_script(script),
            start=START,
        )
    assert info.value.line_no == line
    assert f"line {line}:" in str(info.value) and says in str(info.value)


async def test_an_outcome_before_the_task_exists_is_refused_naming_the_line() -> None:
    # the call is created about 27 days in (3 days before the coupon expires)
    script = "browse on day 1\ntask outcome will_visit on day 2"
    with pytest.raises(ScriptOutcomeError) as info:
        await run_test(
            _second_purchase(),
            facts(),
            coupon_templates=COUPONS,
            script=parse_script(script),
            start=START,
        )
    assert info.value.line_no == 2
    assert "no guide task is open on day 2" in str(info.value)
    assert "after the task is created" in str(info.value)

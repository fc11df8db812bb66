"""Every built-in template, path by path, on the time-skipping Temporal server with sandbox
activities: which steps a synthetic customer visits, and what coupons, guide tasks and
messages the journey produced for them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from temporalio.testing import WorkflowEnvironment

from engine.runtime import CustomerEventIn
from tests.templates_lib.runner import run

SH = ZoneInfo("Asia/Shanghai")
VIP: dict[str, Any] = {"rfm_class": "重要价值", "member_level": "gold"}
MASS: dict[str, Any] = {"rfm_class": "一般挽留", "member_level": "regular"}


def _browse(category: str = "童装") -> CustomerEventIn:
    at = datetime.now(UTC).isoformat()
    return CustomerEventIn("browse-1", "browse", at, {"category": category})


# ------------------------------------------------------------------ 潜客激活 lead activation


async def test_lead_buys_after_the_recommendation(env: WorkflowEnvironment) -> None:
    async with run(env, "lead_activation", entry_event=_browse()) as r:
        await r.reach("wait_purchase")
        await r.event("purchase", amount=299)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.visited(st) == ["entry", "wait_1h", "recommend", "wait_purchase", "goal"]
    assert r.messages() == ["wecom"] and "童装" in r.world.messages[0].rendered
    waited = datetime.fromisoformat(st.trace[1].result["until"]).astimezone(SH)
    assert 10 <= waited.hour < 20  # the recommendation goes out in send hours
    assert r.coupons() == [] and r.tasks() == []


async def test_lead_invited_by_guide_then_buys_with_last_offer(env: WorkflowEnvironment) -> None:
    async with run(env, "lead_activation", entry_event=_browse()) as r:
        await r.reach("invite")
        await r.outcome("invite", "will_visit", "周六来店")
        await r.reach("wait_offer")
        await r.event("purchase", amount=199)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.visited(st)[3:8] == [
        "wait_purchase",
        "invite",
        "last_offer",
        "offer_msg",
        "wait_offer",
    ]
    assert r.tasks() == [("invite", "store_invite")]
    assert r.coupons() == ["MEMBERDAY15"]
    assert r.messages() == ["wecom", "wecom"]
    assert r.world.coupons[0].code in r.world.messages[1].rendered


async def test_lead_declines_and_is_left_alone(env: WorkflowEnvironment) -> None:
    async with run(env, "lead_activation", entry_event=_browse()) as r:
        await r.reach("invite")
        await r.outcome("invite", "declined")
        result, st = await r.finish()
    assert not result.goal_reached and r.visited(st)[-1] == "declined"
    assert r.coupons() == []


async def test_lead_never_buys(env: WorkflowEnvironment) -> None:
    async with run(env, "lead_activation", entry_event=_browse()) as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st)[-3:] == ["offer_msg", "wait_offer", "not_converted"]
    assert [n.kind for n in r.world.notices] == ["reminder", "escalation", "expired"]
    assert r.coupons() == ["MEMBERDAY15"]


# ------------------------------------------------------------------ 新客二回 second purchase


async def test_second_purchase_redeemed_before_reminder(env: WorkflowEnvironment) -> None:
    async with run(env, "second_purchase") as r:
        st = await r.reach("until_reminder")
        r.redeem("coupon", st)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.visited(st) == [
        "entry",
        "is_new",
        "care_wait",
        "care_msg",
        "coupon",
        "coupon_notice",
        "until_reminder",
        "redeemed",
        "goal",
    ]
    assert r.coupons() == ["NEW20"] and r.tasks() == []
    assert r.messages() == ["wecom", "wechat_template"]


async def test_second_purchase_never_buys(env: WorkflowEnvironment) -> None:
    async with run(env, "second_purchase") as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st)[-5:] == ["redeemed", "expiry_reminder", "call", "final_wait", "done"]
    assert r.tasks() == [("call", "call")]
    assert r.messages() == ["wecom", "wechat_template", "wechat_template"]
    assert "3天到期" in r.world.messages[2].rendered
    reminder_at = datetime.fromisoformat(st.trace[8].at)
    expires = datetime.fromisoformat(r.world.coupons[0].expires_at)
    assert timedelta(days=2) < expires - reminder_at <= timedelta(days=3)


async def test_second_purchase_buys_after_the_reminder(env: WorkflowEnvironment) -> None:
    async with run(env, "second_purchase") as r:
        await r.reach("call")
        await r.outcome("call", "will_visit")
        await r.reach("final_wait")
        await r.event("purchase", amount=260)
        result, st = await r.finish()
    assert result.goal_reached
    assert ("call", "will_visit") in [(t.node_id, t.port) for t in st.trace]
    assert r.tasks() == [("call", "call")] and r.coupons() == ["NEW20"]


async def test_second_purchase_skips_repeat_buyers(env: WorkflowEnvironment) -> None:
    async with run(env, "second_purchase", purchases_days_ago=(0, 120)) as r:
        result, st = await r.finish()
    assert r.visited(st) == ["entry", "is_new", "not_new"] and not result.goal_reached
    assert r.coupons() == [] and r.messages() == []


# ------------------------------------------------------------------ 沉睡唤醒 dormant wake-up


async def test_dormant_vip_called_by_guide_comes_back(env: WorkflowEnvironment) -> None:
    async with run(env, "dormant_wakeup", **VIP) as r:
        await r.reach("vip_call")
        await r.outcome("vip_call", "will_visit")
        await r.reach("wait1")
        await r.event("purchase", amount=1200)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.visited(st)[:4] == ["entry", "value", "vip_coupon", "vip_call"]
    assert r.coupons() == ["VIP100"] and r.tasks() == [("vip_call", "call")]
    assert r.messages() == []  # premium customers get a human, not an SMS


async def test_dormant_mass_never_wakes_up(env: WorkflowEnvironment) -> None:
    async with run(env, "dormant_wakeup", **MASS) as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st) == [
        "entry",
        "value",
        "mass_coupon",
        "mass_sms",
        "wait1",
        "value2",
        "gift",
        "gift_msg",
        "wait2",
        "tag_lost",
        "lost",
    ]
    assert r.coupons() == ["WAKE30", "GIFT-SAMPLE"] and r.tasks() == []
    assert r.messages() == ["sms", "wechat_template"]
    assert "回T退订" in r.world.messages[0].rendered
    assert "沉睡未唤醒" in r.world.facts.tags


async def test_dormant_vip_silent_gets_store_manager_invite(env: WorkflowEnvironment) -> None:
    async with run(env, "dormant_wakeup", **VIP) as r:
        await r.reach("vip_invite")
        await r.outcome("vip_invite", "will_visit")
        await r.reach("wait2")
        await r.event("purchase", amount=800)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.tasks() == [("vip_call", "call"), ("vip_invite", "store_invite")]
    assert ("vip_call", "expired") in [(t.node_id, t.port) for t in st.trace]


async def test_dormant_mass_buys_after_second_touch(env: WorkflowEnvironment) -> None:
    async with run(env, "dormant_wakeup", **MASS) as r:
        await r.reach("wait2")
        await r.event("purchase", amount=150)
        result, st = await r.finish()
    assert result.goal_reached and "tag_lost" not in r.visited(st)


# ------------------------------------------------------------------ 生日关怀 birthday care


async def _birthday_in(env: WorkflowEnvironment, days: int) -> str:
    now = (await env.get_current_time()).astimezone(SH)
    return (now + timedelta(days=days)).date().replace(year=1990).isoformat()


async def test_birthday_vip_gets_guide_wishes_and_redeems(env: WorkflowEnvironment) -> None:
    birthday = await _birthday_in(env, 5)
    async with run(env, "birthday_care", birthday=birthday, **VIP) as r:
        await r.reach("guide_wish")
        await r.outcome("guide_wish", "completed")
        st = await r.reach("until_reminder")
        r.redeem("bday_coupon", st)
        result, st = await r.finish()
    assert result.goal_reached and r.visited(st)[-2:] == ["redeemed", "goal"]
    wish_at = datetime.fromisoformat(next(t.at for t in st.trace if t.node_id == "value"))
    assert wish_at.astimezone(SH).strftime("%m-%d %H:%M") == birthday[5:] + " 10:00"
    assert r.coupons() == ["BDAY50"] and r.tasks() == [("guide_wish", "wecom_chat")]
    assert r.messages() == ["wechat_template"]


async def test_birthday_general_customer_sms_then_reminder(env: WorkflowEnvironment) -> None:
    async with run(env, "birthday_care", birthday=await _birthday_in(env, 3), **MASS) as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st)[-5:] == ["sms_wish", "until_reminder", "redeemed", "reminder", "done"]
    assert r.messages() == ["wechat_template", "sms", "wechat_template"]
    assert r.tasks() == []


async def test_birthday_purchase_any_time_is_the_goal(env: WorkflowEnvironment) -> None:
    async with run(env, "birthday_care", birthday=await _birthday_in(env, 10), **MASS) as r:
        await r.reach("to_birthday")
        await r.event("purchase", amount=420)
        result, st = await r.finish()
    assert result.goal_reached and result.exit_reason == "goal"
    assert "sms_wish" not in r.visited(st)


# ------------------------------------------------------------------ 优惠券到期提醒 coupon expiry


def _expiring() -> CustomerEventIn:
    at = datetime.now(UTC)
    props = {
        "coupon_id": "CP9",
        "face_value": 20,
        "expires_at": (at + timedelta(days=3)).isoformat(),
    }
    return CustomerEventIn("exp-1", "coupon_expiring", at.isoformat(), props)


async def test_coupon_expiry_used_after_the_notice(env: WorkflowEnvironment) -> None:
    async with run(env, "coupon_expiry", entry_event=_expiring(), **MASS) as r:
        await r.reach("wait_use")
        await r.event("coupon_redeemed", coupon_id="CP9")
        result, st = await r.finish()
    assert result.goal_reached
    assert r.messages() == ["wechat_template"] and "20元优惠券" in r.world.messages[0].rendered
    assert r.tasks() == []


async def test_coupon_expiry_important_customer_gets_a_call(env: WorkflowEnvironment) -> None:
    async with run(env, "coupon_expiry", entry_event=_expiring(), **VIP) as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st)[-4:] == ["value", "call", "final_wait", "done"]
    assert r.tasks() == [("call", "call")] and r.messages() == ["wechat_template"]


async def test_coupon_expiry_general_customer_last_sms_then_uses_it(
    env: WorkflowEnvironment,
) -> None:
    async with run(env, "coupon_expiry", entry_event=_expiring(), **MASS) as r:
        await r.reach("final_wait")
        await r.event("coupon_redeemed", coupon_id="CP9")
        result, st = await r.finish()
    assert result.goal_reached and "last_sms" in r.visited(st)
    assert r.messages() == ["wechat_template", "sms"] and r.tasks() == []


# ------------------------------------------------------------------ VIP 流失预警 VIP churn


async def test_vip_buys_again_during_light_care_no_offer(env: WorkflowEnvironment) -> None:
    async with run(env, "vip_churn", **VIP) as r:
        await r.reach("light_wait")
        await r.event("purchase", amount=900)
        result, st = await r.finish()
    assert result.goal_reached
    assert r.coupons() == [] and r.tasks() == []  # no marketing in the first 15 days
    assert r.messages() == ["wecom"]


async def test_vip_silent_gets_offer_on_day_40_then_a_call(env: WorkflowEnvironment) -> None:
    async with run(env, "vip_churn", **VIP) as r:
        result, st = await r.finish()
    assert not result.goal_reached
    assert r.visited(st)[-7:] == [
        "offer_coupon",
        "offer_msg",
        "offer_watch",
        "call",
        "final_watch",
        "tag_risk",
        "at_risk",
    ]
    entered = datetime.fromisoformat(st.entered_at)
    offered = datetime.fromisoformat(r.world.coupons[0].issued_at)
    assert timedelta(days=40) <= offered - entered < timedelta(days=41)
    first_marketing = min(
        datetime.fromisoformat(t.at) for t in st.trace if t.node_id == "offer_coupon"
    )
    assert first_marketing - entered > timedelta(days=15)
    assert r.coupons() == ["VIP100"] and r.tasks() == [("call", "call")]
    assert r.messages() == ["wecom", "wecom", "wecom"]
    assert "VIP流失风险" in r.world.facts.tags


async def test_vip_buys_after_the_offer(env: WorkflowEnvironment) -> None:
    async with run(env, "vip_churn", **VIP) as r:
        await r.reach("offer_watch")
        await r.event("purchase", amount=1500)
        result, st = await r.finish()
    assert result.goal_reached and r.coupons() == ["VIP100"] and r.tasks() == []


async def test_vip_churn_skips_non_vips(env: WorkflowEnvironment) -> None:
    async with run(env, "vip_churn", rfm_class="一般发展", member_level="regular") as r:
        result, st = await r.finish()
    assert r.visited(st) == ["entry", "is_vip", "not_vip"] and r.messages() == []

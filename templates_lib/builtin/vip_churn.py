"""VIP 流失预警 VIP churn recall on the ~45-day purchase cycle.

Field rule (DOMAIN.md, a women's-wear chain): days 1–15 after a purchase only light care, no
marketing; the offer comes around day 40; if the customer is still silent, her guide calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_lib.builder import DocBuilder, days, purchase_goal, wait_for
from templates_lib.common import (
    CALL_OUTCOMES,
    MEMBER_LEVELS,
    channel_param,
    coupon_param,
    days_param,
    rfm_param,
    sla_param,
    task,
)
from templates_lib.params import Param, ParamIssue, ParamType, Text
from templates_lib.spec import Template

PARAMS = (
    Param(
        "vip_levels",
        ParamType.MULTI,
        ("gold", "diamond"),
        Text("VIP 会员等级", "VIP member levels"),
        choices=MEMBER_LEVELS,
    ),
    rfm_param(("重要价值", "重要发展")),
    days_param("care_day", 3, 1, 7, Text("购后关怀（第几天）", "Care message on day")),
    days_param(
        "light_care_until_day",
        15,
        7,
        30,
        Text("轻关怀截止（第几天）", "Light care until day"),
        Text("此前只做关怀，不做营销。", "Until then: care only, no marketing."),
    ),
    days_param(
        "offer_day",
        40,
        20,
        60,
        Text("发券（第几天）", "Offer on day"),
        Text("约在平均购买周期（45天）之前。", "Just before the average purchase cycle (45 days)."),
    ),
    coupon_param("VIP100", Text("VIP专享券", "VIP coupon")),
    channel_param("care_channel", "wecom", Text("关怀渠道", "Care channel")),
    days_param("silence_days", 5, 2, 10, Text("发券后沉默几天派电话", "Call if silent this long")),
    sla_param(24),
    days_param("final_wait_days", 7, 3, 14, Text("电话后等待（天）", "Wait after the call")),
)


def cross_check(p: Mapping[str, Any]) -> list[ParamIssue]:
    issues = []
    if p["light_care_until_day"] <= p["care_day"]:
        issues.append(
            ParamIssue(
                "light_care_until_day",
                "order",
                f"Parameter 'light_care_until_day' ({p['light_care_until_day']}) must come after "
                f"'care_day' ({p['care_day']}).",
                {"after": "care_day"},
            )
        )
    if p["offer_day"] <= p["light_care_until_day"]:
        issues.append(
            ParamIssue(
                "offer_day",
                "order",
                f"Parameter 'offer_day' ({p['offer_day']}) must come after the light-care phase "
                f"('light_care_until_day' = {p['light_care_until_day']}).",
                {"after": "light_care_until_day"},
            )
        )
    return issues


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    care, light, offer = p["care_day"], p["light_care_until_day"], p["offer_day"]
    d = DocBuilder(
        "VIP 流失预警",
        f"VIP 每次购买后按45天周期：第{care}天关怀、第{light}天前只做轻关怀不营销；"
        f"第{offer}天发专享券；"
        f"之后{p['silence_days']}天仍无购买则导购电话。再次购买即达成目标并开始新一轮。",
        settings={"goal": purchase_goal()},
    )
    d.node(
        "entry",
        "entry",
        "VIP 购买",
        (0, 1),
        trigger={"type": "event", "event_type": "purchase", "filters": []},
        reentry={"policy": "after_exit"},
    )
    d.node(
        "is_vip",
        "branch",
        "VIP？",
        (1, 1),
        rules=[
            {
                "id": "vip",
                "label": "VIP 等级或重要客户",
                "match": "any",
                "conditions": [
                    {
                        "type": "attribute",
                        "field": "member_level",
                        "op": "in",
                        "value": list(p["vip_levels"]),
                    },
                    {"type": "rfm_class", "classes": list(p["important_classes"])},
                ],
            }
        ],
    )
    d.node("care_wait", "wait", f"第{care}天", (2, 1), **wait_for(days(care)))
    d.node(
        "care_msg",
        "send_message",
        "购后关怀（不营销）",
        (3, 1),
        channel=p["care_channel"],
        content="{{ customer.name }}您好，新买的衣服穿着还合适吗？"
        "洗护小贴士：深色单洗、反面低温熨烫。"
        "尺码或搭配有任何问题随时找我～",
    )
    d.node("light_wait", "wait", f"第{light}天", (4, 1), **wait_for(days(light - care)))
    d.node(
        "light_msg",
        "send_message",
        "轻关怀：搭配灵感",
        (5, 1),
        channel=p["care_channel"],
        content="{{ customer.name }}，本周给您整理了几套和上次那件好搭的新款，有空看看～",
    )
    d.node("offer_wait", "wait", f"第{offer}天", (6, 1), **wait_for(days(offer - light)))
    d.node(
        "offer_coupon",
        "send_coupon",
        "VIP专享券",
        (7, 1),
        coupon_template_id=p["coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "offer_msg",
        "send_message",
        "专享券告知",
        (8, 1),
        channel=p["care_channel"],
        content="{{ customer.name }}，为老朋友准备了一张{{ ctx.offer_coupon.face_value }}元专享券，"
        "{{ ctx.offer_coupon.expires_at[:10] }}前有效，新品已到店，欢迎来试试。",
    )
    d.node(
        "offer_watch",
        "wait_for_event",
        f"{p['silence_days']}天内购买？",
        (9, 1),
        event_type="purchase",
        timeout=days(p["silence_days"]),
    )
    d.node(
        "call",
        "assign_guide_task",
        "导购电话",
        (10, 1),
        **task(
            "call",
            "VIP 流失预警：{{ customer.name }}",
            f"{{{{ customer.name }}}}是VIP，上次购买已过去约{offer + p['silence_days']}天，"
            "专享券也还没用。请打电话关心一下：上次的商品是否满意，最近有什么需要，"
            "可以邀请来看新品。记录结果。",
            p["task_sla_hours"],
            outcomes=CALL_OUTCOMES,
        ),
    )
    d.node(
        "final_watch",
        "wait_for_event",
        f"{p['final_wait_days']}天内购买？",
        (11, 1),
        event_type="purchase",
        timeout=days(p["final_wait_days"]),
    )
    d.node(
        "tag_risk",
        "update_customer",
        "标记：VIP流失风险",
        (12, 1),
        add_tags=["VIP流失风险"],
        remove_tags=[],
        set_attributes={},
    )
    d.node("goal", "exit", "再次购买（目标达成）", (12, 0), goal_reached=True)
    d.node("not_vip", "exit", "非VIP", (2, 2))
    d.node("at_risk", "exit", "流失风险", (13, 1))

    d.edge("entry", "is_vip")
    d.edge("is_vip", "care_wait", "vip")
    d.edge("is_vip", "not_vip", "else")
    d.edge("care_wait", "care_msg")
    d.edge("care_msg", "light_wait")
    d.edge("light_wait", "light_msg")
    d.edge("light_msg", "offer_wait")
    d.edge("offer_wait", "offer_coupon")
    d.edge("offer_coupon", "offer_msg")
    d.edge("offer_coupon", "offer_watch", "failed")
    d.edge("offer_msg", "offer_watch")
    d.edge("offer_watch", "goal", "matched")
    d.edge("offer_watch", "call", "timeout")
    for port in (*CALL_OUTCOMES, "expired"):
        d.edge("call", "final_watch", port)
    d.edge("final_watch", "goal", "matched")
    d.edge("final_watch", "tag_risk", "timeout")
    d.edge("tag_risk", "at_risk")
    return d.build()


TEMPLATE = Template(
    id="vip_churn",
    name=Text("VIP 流失预警", "VIP churn recall"),
    description=Text(
        "按45天购买周期陪伴VIP：前15天只做关怀不营销，第40天左右发专享券，仍无动静由导购电话。"
        "再次购买即达成目标，并开始下一轮。",
        "Follows VIPs along the 45-day purchase cycle: light care only until day 15, an offer "
        "around day 40, a call from their guide if still silent. Buying again reaches the goal "
        "and starts the next cycle.",
    ),
    goal=Text("在购买周期内再次购买", "Buy again within the purchase cycle"),
    audience=Text(
        "金卡/钻石卡或重要价值客户的每次购买（购买事件进入）",
        "Each purchase of a gold/diamond or important-value member (purchase event)",
    ),
    category="retain",
    params=PARAMS,
    build=build,
    cross_check=cross_check,
)

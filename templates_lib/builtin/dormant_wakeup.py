"""沉睡唤醒 Dormant wake-up: premium customers get their guide, the mass gets the system."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.rfm import IMPORTANT_CLASSES
from templates_lib.builder import DocBuilder, days, purchase_goal
from templates_lib.common import (
    CALL_OUTCOMES,
    channel_param,
    coupon_param,
    days_param,
    rfm_param,
    sla_param,
    task,
)
from templates_lib.params import Text
from templates_lib.spec import Template

PARAMS = (
    days_param(
        "dormant_days",
        90,
        45,
        365,
        Text("沉睡天数（多少天未购买）", "Dormant after (days without a purchase)"),
        Text(
            "按品牌购买周期设置：周期约45天的品牌可设60–90天。",
            "Set it from the brand's purchase cycle: ~45-day cycle → 60–90 days.",
        ),
    ),
    rfm_param(IMPORTANT_CLASSES),
    coupon_param(
        "VIP100",
        Text("重要客户大额券", "Large coupon for important customers"),
        name="vip_coupon_template_id",
    ),
    sla_param(48),
    coupon_param(
        "WAKE30",
        Text("大众客户唤醒券", "Wake-up coupon for everyone else"),
        name="mass_coupon_template_id",
    ),
    days_param(
        "first_wait_days", 14, 3, 30, Text("首次触达后等待（天）", "Wait after the first touch")
    ),
    channel_param(
        "second_touch_channel",
        "wechat_template",
        Text("大众客户第二次触达渠道", "Second touch channel (everyone else)"),
    ),
    coupon_param(
        "GIFT-SAMPLE",
        Text("第二次触达：到店礼", "Second touch: in-store gift"),
        name="gift_coupon_template_id",
    ),
    days_param(
        "second_wait_days", 14, 3, 30, Text("第二次触达后等待（天）", "Wait after the second touch")
    ),
    days_param(
        "reentry_cooldown_days", 90, 30, 365, Text("再次进入间隔（天）", "Re-entry cooldown (days)")
    ),
)

VALUE_RULE = "important"


def _value_branch(rule_label: str, classes: list[str]) -> dict[str, Any]:
    return {
        "rules": [
            {
                "id": VALUE_RULE,
                "label": rule_label,
                "conditions": [{"type": "rfm_class", "classes": classes}],
            }
        ]
    }


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    n = p["dormant_days"]
    classes = list(p["important_classes"])
    d = DocBuilder(
        "沉睡唤醒",
        f"{n}天未购买的沉睡客户：重要客户由导购电话+大额券，其余短信券；{p['first_wait_days']}天"
        "未回来再做一次不同的触达。",
        settings={"goal": purchase_goal()},
    )
    d.node(
        "entry",
        "entry",
        f"沉睡{n}天客户",
        (0, 1),
        trigger={
            "type": "segment",
            "segment_id": f"dormant_{n}d",
            "schedule": "weekly",
            "at_time": "10:00",
            "weekday": 1,
        },
        reentry={"policy": "cooldown", "cooldown_days": p["reentry_cooldown_days"]},
    )
    d.node("value", "branch", "重要客户？", (1, 1), **_value_branch("重要客户", classes))
    d.node(
        "vip_coupon",
        "send_coupon",
        "大额券",
        (2, 0),
        coupon_template_id=p["vip_coupon_template_id"],
    )
    d.node(
        "vip_call",
        "assign_guide_task",
        "导购电话关怀",
        (3, 0),
        **task(
            "call",
            "沉睡唤醒：致电{{ customer.name }}",
            f"{{{{ customer.name }}}}（{{{{ customer.rfm_class }}}}）已超过{n}天没有消费。"
            "请亲自打电话"
            "问候、了解近况（是否有不满意），告诉客户已准备好{{ ctx.vip_coupon.face_value }}元"
            "专属券，邀请来店里看看新品。电话里不要硬推销。",
            p["task_sla_hours"],
            outcomes=CALL_OUTCOMES,
        ),
    )
    d.node(
        "mass_coupon",
        "send_coupon",
        "唤醒券",
        (2, 2),
        coupon_template_id=p["mass_coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "mass_sms",
        "send_message",
        "短信+券链接",
        (3, 2),
        channel="sms",
        content="{{ customer.name }}，好久不见！送您{{ ctx.mass_coupon.face_value }}元回归券，"
        "{{ ctx.mass_coupon.expires_at[:10] }}前到店或小程序使用，券码{{ ctx.mass_coupon.code }}。"
        "回T退订",
    )
    d.node(
        "wait1",
        "wait_for_event",
        f"{p['first_wait_days']}天内购买？",
        (4, 1),
        event_type="purchase",
        timeout=days(p["first_wait_days"]),
    )
    d.node("value2", "branch", "重要客户？", (5, 1), **_value_branch("重要客户", classes))
    d.node(
        "vip_invite",
        "assign_guide_task",
        "店长邀约会员日",
        (6, 0),
        **task(
            "store_invite",
            "会员日邀约：{{ customer.name }}",
            "{{ customer.name }}是重要客户，导购联系后仍未回店。请店长亲自发出会员日/新品品鉴邀请，"
            "到店可领一份小礼物。",
            p["task_sla_hours"],
            outcomes=["will_visit", "declined"],
            assignee="store_manager",
        ),
    )
    d.node(
        "gift",
        "send_coupon",
        "到店礼",
        (6, 2),
        coupon_template_id=p["gift_coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "gift_msg",
        "send_message",
        "到店礼邀请",
        (7, 2),
        channel=p["second_touch_channel"],
        subject="会员到店礼",
        content="{{ customer.name }}，为您准备了一份到店礼（券码 {{ ctx.gift.code }}），"
        "{{ ctx.gift.expires_at[:10] }}前到任意门店出示即可领取。",
    )
    d.node(
        "wait2",
        "wait_for_event",
        f"{p['second_wait_days']}天内购买？",
        (8, 1),
        event_type="purchase",
        timeout=days(p["second_wait_days"]),
    )
    d.node(
        "tag_lost",
        "update_customer",
        "标记：唤醒未成功",
        (9, 1),
        add_tags=["沉睡未唤醒"],
        remove_tags=[],
        set_attributes={},
    )
    d.node("goal", "exit", "回来购买（目标达成）", (9, 0), goal_reached=True)
    d.node("lost", "exit", "仍在沉睡", (10, 1))
    d.node("declined", "exit", "客户婉拒，不再打扰", (4, 0))

    d.edge("entry", "value")
    d.edge("value", "vip_coupon", VALUE_RULE)
    d.edge("value", "mass_coupon", "else")
    d.edge("vip_coupon", "vip_call")
    for port in ("will_visit", "no_answer", "expired"):
        d.edge("vip_call", "wait1", port)
    d.edge("vip_call", "declined", "declined")
    d.edge("mass_coupon", "mass_sms")
    d.edge("mass_coupon", "wait1", "failed")
    d.edge("mass_sms", "wait1")
    d.edge("wait1", "goal", "matched")
    d.edge("wait1", "value2", "timeout")
    d.edge("value2", "vip_invite", VALUE_RULE)
    d.edge("value2", "gift", "else")
    for port in ("will_visit", "declined", "expired"):
        d.edge("vip_invite", "wait2", port)
    d.edge("gift", "gift_msg")
    d.edge("gift", "wait2", "failed")
    d.edge("gift_msg", "wait2")
    d.edge("wait2", "goal", "matched")
    d.edge("wait2", "tag_lost", "timeout")
    d.edge("tag_lost", "lost")
    return d.build()


TEMPLATE = Template(
    id="dormant_wakeup",
    name=Text("沉睡唤醒", "Dormant wake-up"),
    description=Text(
        "N天（默认90）未购买的客户。重要RFM分层：绑定导购电话关怀+大额券；其他客户：短信唤醒券。"
        "14天内未回来，再做一次不同的触达（店长会员日邀约 / 到店礼），仍未回来打上标签。",
        "Customers without a purchase for N days (default 90). Important RFM classes: a call from "
        "their own guide plus a large coupon; everyone else: an SMS with a coupon link. Still "
        "dormant after 14 days → a different second touch (store manager's member-day invite / "
        "in-store gift); still dormant → tagged.",
    ),
    goal=Text("回店购买", "Come back and buy"),
    audience=Text(
        "N天未购买的会员（分群 dormant_<N>d 每周进入，也可手动加入）",
        "Members with no purchase for N days (segment dormant_<N>d weekly, or manual)",
    ),
    category="win_back",
    params=PARAMS,
    build=build,
)

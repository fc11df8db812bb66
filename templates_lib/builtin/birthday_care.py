"""生日关怀 Birthday care: a birthday coupon at month start, wishes on the day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.rfm import IMPORTANT_CLASSES
from templates_lib.builder import (
    SEND_WINDOW,
    DocBuilder,
    days,
    hours,
    minutes,
    purchase_goal,
    wait_for,
)
from templates_lib.common import channel_param, coupon_param, days_param, rfm_param, sla_param, task
from templates_lib.params import Text
from templates_lib.spec import Template

PARAMS = (
    coupon_param("BDAY50", Text("生日礼券", "Birthday coupon")),
    channel_param(
        "greeting_channel", "wechat_template", Text("月初祝福渠道", "Month-start channel")
    ),
    rfm_param(IMPORTANT_CLASSES),
    sla_param(24),
    days_param(
        "remind_days_before_expiry",
        7,
        1,
        14,
        Text("券到期前几天提醒", "Remind this many days before the coupon expires"),
    ),
)


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    n = p["remind_days_before_expiry"]
    d = DocBuilder(
        "生日关怀",
        "生日月月初送生日礼券；生日当天重要客户由导购企微送祝福，其他客户短信祝福；"
        f"券到期前{n}天未使用则提醒。",
        settings={"goal": purchase_goal()},
    )
    d.node(
        "entry",
        "entry",
        "本月生日",
        (0, 1),
        trigger={
            "type": "segment",
            "segment_id": "birthday_this_month",
            "schedule": "daily",
            "at_time": "00:30",
        },
        reentry={"policy": "cooldown", "cooldown_days": 300},
    )
    d.node("to_window", "wait", "月初 10:00 后", (1, 1), **wait_for(minutes(1)))
    d.node(
        "bday_coupon",
        "send_coupon",
        "生日礼券",
        (2, 1),
        coupon_template_id=p["coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "month_greeting",
        "send_message",
        "生日月祝福+券",
        (3, 1),
        channel=p["greeting_channel"],
        subject="生日礼券到账",
        content="{{ customer.name }}，生日月快乐！"
        "送您一张{{ ctx.bday_coupon.face_value }}元生日礼券，"
        "{{ ctx.bday_coupon.expires_at[:10] }}前到店或小程序都能用。",
    )
    # 10:00 local on the birthday (the wait ends at 00:00 + 10 h)
    d.node(
        "to_birthday",
        "wait",
        "生日当天 10:00",
        (4, 1),
        until={
            "type": "customer_date",
            "field": "birthday",
            "offset": hours(10),
            "direction": "after",
        },
        window=dict(SEND_WINDOW),
    )
    d.node(
        "value",
        "branch",
        "重要客户？",
        (5, 1),
        rules=[
            {
                "id": "important",
                "label": "重要客户",
                "conditions": [{"type": "rfm_class", "classes": list(p["important_classes"])}],
            }
        ],
    )
    d.node(
        "guide_wish",
        "assign_guide_task",
        "导购企微祝福",
        (6, 0),
        **task(
            "wecom_chat",
            "今天是{{ customer.name }}的生日",
            "今天是{{ customer.name }}的生日。请用企业微信送上您本人的祝福（不要群发），"
            "提醒生日礼券还没用的话本月都有效，欢迎到店领一份生日小礼。",
            p["task_sla_hours"],
        ),
    )
    d.node(
        "sms_wish",
        "send_message",
        "短信祝福",
        (6, 2),
        channel="sms",
        content="{{ customer.name }}，祝您生日快乐！生日礼券本月有效，期待与您见面。回T退订",
    )
    d.node(
        "until_reminder",
        "wait",
        f"券到期前{n}天",
        (7, 1),
        until={
            "type": "context",
            "node_id": "bday_coupon",
            "field": "expires_at",
            "offset": days(n),
            "direction": "before",
        },
        window=dict(SEND_WINDOW),
    )
    d.node(
        "redeemed",
        "branch",
        "已使用？",
        (8, 1),
        rules=[
            {
                "id": "used",
                "label": "券已使用",
                "conditions": [
                    {
                        "type": "context",
                        "node_id": "bday_coupon",
                        "field": "redeemed",
                        "op": "eq",
                        "value": True,
                    }
                ],
            }
        ],
    )
    d.node(
        "reminder",
        "send_message",
        "到期提醒",
        (9, 1),
        channel="wechat_template",
        subject="生日礼券即将到期",
        content=f"您的{{{{ ctx.bday_coupon.face_value }}}}元生日礼券还有{n}天到期，别错过哦～",
    )
    d.node("goal", "exit", "生日月购买（目标达成）", (9, 0), goal_reached=True)
    d.node("done", "exit", "结束", (10, 1))

    d.edge("entry", "to_window")
    d.edge("to_window", "bday_coupon")
    d.edge("bday_coupon", "month_greeting")
    d.edge("bday_coupon", "to_birthday", "failed")
    d.edge("month_greeting", "to_birthday")
    d.edge("to_birthday", "value")
    d.edge("value", "guide_wish", "important")
    d.edge("value", "sms_wish", "else")
    d.edge("guide_wish", "until_reminder", "completed")
    d.edge("guide_wish", "until_reminder", "expired")
    d.edge("sms_wish", "until_reminder")
    d.edge("until_reminder", "redeemed")
    d.edge("redeemed", "goal", "used")
    d.edge("redeemed", "reminder", "else")
    d.edge("reminder", "done")
    return d.build()


TEMPLATE = Template(
    id="birthday_care",
    name=Text("生日关怀", "Birthday care"),
    description=Text(
        "生日月月初送生日礼券和祝福；生日当天重要客户由导购企微亲自祝福，其他客户短信祝福；"
        "券快到期仍未使用再提醒一次。",
        "At the start of the birthday month: a birthday coupon and wishes. On the day: important "
        "customers get personal wishes from their guide on WeCom, everyone else an SMS. A "
        "reminder if the coupon is still unused shortly before it expires.",
    ),
    goal=Text("生日月内到店/下单", "A purchase in the birthday month"),
    audience=Text(
        "本月生日的会员（分群 birthday_this_month 每日进入，也可手动加入）",
        "Members with a birthday this month (segment birthday_this_month daily, or manual)",
    ),
    category="retain",
    params=PARAMS,
    build=build,
)

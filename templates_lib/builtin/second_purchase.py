"""新客二回 Second purchase: turn a first purchase into a second one before the coupon lapses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_lib.builder import DocBuilder, days, purchase_goal, wait_for
from templates_lib.common import (
    CALL_OUTCOMES,
    channel_name,
    channel_param,
    coupon_param,
    days_param,
    sla_param,
    task,
)
from templates_lib.params import Choice, Param, ParamType, Text
from templates_lib.spec import Template

NEW_BUYERS_SEGMENT = "new_buyers_7d"

PARAMS = (
    Param(
        "entry",
        ParamType.CHOICE,
        "purchase",
        Text("进入方式", "Customers enter"),
        Text(
            "首次购买时实时进入；或每天 10:00 从人群“本周首购新客”补进入。",
            "On their first purchase, as it happens; or daily at 10:00 from the segment of this "
            "week's first-time buyers.",
        ),
        choices=(
            Choice("purchase", Text("购买事件（实时）", "On the purchase event")),
            Choice(
                "segment", Text("人群：本周首购新客（每日）", "Segment: this week's new buyers")
            ),
        ),
    ),
    days_param("care_delay_days", 1, 1, 7, Text("购后关怀（第几天）", "Care message on day")),
    channel_param("care_channel", "wecom", Text("关怀渠道", "Care channel")),
    coupon_param("NEW20", Text("二回券（默认30天有效）", "Second-purchase coupon (30 days)")),
    days_param(
        "remind_days_before_expiry",
        3,
        1,
        10,
        Text("到期前几天回访", "Follow up this many days before expiry"),
        Text(
            "导购电话 + 服务通知到期提醒。",
            "Guide call plus an expiry reminder (template message).",
        ),
    ),
    sla_param(24),
    days_param(
        "final_wait_days", 3, 1, 10, Text("提醒后等待购买（天）", "Wait after the reminder (days)")
    ),
)


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    n = p["remind_days_before_expiry"]
    care = p["care_delay_days"]
    channel = channel_name(p["care_channel"])
    # the description says what the chosen parameters make of the journey
    d = DocBuilder(
        "新客二回",
        ("每天 10:00 从“本周首购新客”进入；" if p["entry"] == "segment" else "")
        + f"新客首购后{'次日' if care == 1 else f'第{care}天'}{channel}关怀，"
        f"发回购券（{p['coupon_template_id']}）；到期前{n}天未核销则导购电话回访并发到期提醒，"
        f"之后再等{p['final_wait_days']}天。",
        settings={"goal": purchase_goal()},
    )
    d.node(
        "entry",
        "entry",
        "首次购买",
        (0, 1),
        trigger=(
            {
                "type": "segment",
                "segment_id": NEW_BUYERS_SEGMENT,
                "schedule": "daily",
                "at_time": "10:00",
            }
            if p["entry"] == "segment"
            else {"type": "event", "event_type": "purchase", "filters": []}
        ),
        reentry={"policy": "never"},
    )
    d.node(
        "is_new",
        "branch",
        "是新客吗？",
        (1, 1),
        rules=[
            {
                "id": "repeat",
                "label": "365天内已购≥2次（老客）",
                "conditions": [
                    {
                        "type": "event_count",
                        "event_type": "purchase",
                        "window_days": 365,
                        "op": "gte",
                        "value": 2,
                    }
                ],
            }
        ],
    )
    d.node(
        "care_wait",
        "wait",
        f"第{p['care_delay_days']}天（营业时段）",
        (2, 1),
        **wait_for(days(p["care_delay_days"])),
    )
    d.node(
        "care_msg",
        "send_message",
        "购后关怀",
        (3, 1),
        channel=p["care_channel"],
        content="{{ customer.name }}您好，感谢您第一次选择我们！新买的宝贝用着还顺手吗？"
        "洗护和搭配有任何问题，随时找我。",
    )
    d.node(
        "coupon",
        "send_coupon",
        "发二回券",
        (4, 1),
        coupon_template_id=p["coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "coupon_notice",
        "send_message",
        "到账通知",
        (5, 1),
        channel="wechat_template",
        subject="优惠券到账提醒",
        content="您的{{ ctx.coupon.face_value }}元回购券已到账，{{ ctx.coupon.expires_at[:10] }}"
        "前到店或在小程序下单可用。",
    )
    d.node(
        "until_reminder",
        "wait",
        f"券到期前{n}天",
        (6, 1),
        until={
            "type": "context",
            "node_id": "coupon",
            "field": "expires_at",
            "offset": days(n),
            "direction": "before",
        },
        window={"start": "10:00", "end": "20:00", "timezone": "customer"},
    )
    d.node(
        "redeemed",
        "branch",
        "已核销？",
        (7, 1),
        rules=[
            {
                "id": "used",
                "label": "券已使用",
                "conditions": [
                    {
                        "type": "context",
                        "node_id": "coupon",
                        "field": "redeemed",
                        "op": "eq",
                        "value": True,
                    }
                ],
            }
        ],
    )
    d.node(
        "expiry_reminder",
        "send_message",
        "到期提醒",
        (8, 1),
        channel="wechat_template",
        subject="优惠券即将到期",
        content=f"您的{{{{ ctx.coupon.face_value }}}}元回购券还有{n}天到期"
        "（{{ ctx.coupon.expires_at[:10] }}），别浪费哦～",
    )
    d.node(
        "call",
        "assign_guide_task",
        "导购电话回访",
        (9, 1),
        **task(
            "call",
            f"回访：{{{{ customer.name }}}}的{{{{ ctx.coupon.face_value }}}}元券{n}天后到期",
            f"{{{{ customer.name }}}}是新客，首购后还没有回购，{{{{ ctx.coupon.face_value }}}}元券"
            f"{n}天后到期。请打电话问问上次购买是否满意，提醒券快到期，邀请到店看看。",
            p["task_sla_hours"],
            outcomes=CALL_OUTCOMES,
        ),
    )
    d.node(
        "final_wait",
        "wait_for_event",
        f"{p['final_wait_days']}天内购买？",
        (10, 1),
        event_type="purchase",
        timeout=days(p["final_wait_days"]),
    )
    d.node("goal", "exit", "二次购买（目标达成）", (11, 0), goal_reached=True)
    d.node("not_new", "exit", "非新客", (2, 2))
    d.node("no_coupon", "exit", "发券失败", (5, 2))
    d.node("done", "exit", "未回购", (11, 1))

    d.edge("entry", "is_new")
    d.edge("is_new", "not_new", "repeat")
    d.edge("is_new", "care_wait", "else")
    d.edge("care_wait", "care_msg")
    d.edge("care_msg", "coupon")
    d.edge("coupon", "coupon_notice")
    d.edge("coupon", "no_coupon", "failed")
    d.edge("coupon_notice", "until_reminder")
    d.edge("until_reminder", "redeemed")
    d.edge("redeemed", "goal", "used")
    d.edge("redeemed", "expiry_reminder", "else")
    d.edge("expiry_reminder", "call")
    for port in (*CALL_OUTCOMES, "expired"):
        d.edge("call", "final_wait", port)
    d.edge("final_wait", "goal", "matched")
    d.edge("final_wait", "done", "timeout")
    return d.build()


TEMPLATE = Template(
    id="second_purchase",
    name=Text("新客二回", "Second purchase"),
    description=Text(
        "新客首购次日发关怀消息，并发一张30天有效的回购券；到期前3天若仍未核销，"
        "给绑定导购派电话回访任务并发到期提醒，再等3天购买。",
        "The day after a first purchase: a care message and a coupon valid 30 days. 3 days "
        "before it expires, if unused: a call task for the bound guide plus an expiry reminder "
        "(template message); then 3 more days for a purchase.",
    ),
    goal=Text("30天内第二次购买", "A second purchase within the coupon's life"),
    audience=Text(
        "首次购买的新客（购买事件进入，老客自动排除；或每日从分群 new_buyers_7d 进入）",
        "New customers on their first purchase (purchase event, repeat buyers skip; or daily "
        "from segment new_buyers_7d)",
    ),
    category="develop",
    params=PARAMS,
    build=build,
)

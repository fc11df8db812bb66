"""优惠券到期提醒 Coupon-expiry reminder: nobody should lose a coupon they forgot about."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.rfm import IMPORTANT_CLASSES
from templates_lib.builder import DocBuilder, days, minutes, wait_for
from templates_lib.common import (
    CALL_OUTCOMES,
    channel_name,
    channel_param,
    days_param,
    rfm_param,
    sla_param,
    task,
)
from templates_lib.params import Text
from templates_lib.spec import Template

_P = "ctx.entry.event.properties"
FACE = "{% if ctx.entry and ctx.entry.event %}{{ " + _P + ".face_value }}{% endif %}"
EXPIRES = (
    "{% if ctx.entry and ctx.entry.event %}{{ (" + _P + ".expires_at or '')[:10] }}{% endif %}"
)

PARAMS = (
    channel_param(
        "notice_channel", "wechat_template", Text("到期通知渠道", "Expiry notice channel")
    ),
    days_param(
        "first_wait_days", 1, 1, 5, Text("通知后等待使用（天）", "Wait for use after the notice")
    ),
    rfm_param(IMPORTANT_CLASSES),
    sla_param(24),
    days_param("final_wait_days", 2, 1, 7, Text("最后等待（天）", "Final wait (days)")),
)


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    first = p["first_wait_days"]
    channel = channel_name(p["notice_channel"])
    # the description says what the chosen parameters make of the journey
    d = DocBuilder(
        "优惠券到期提醒",
        f"券系统在到期前发出 coupon_expiring 事件：先通过{channel}发到期通知；"
        f"{'一' if first == 1 else first}天内未使用，重要客户由导购电话提醒，其他客户最后一条短信，"
        f"再等{p['final_wait_days']}天。券被核销即达成目标。",
        settings={"goal": {"event_type": "coupon_redeemed"}},
    )
    d.node(
        "entry",
        "entry",
        "券即将到期",
        (0, 1),
        trigger={"type": "event", "event_type": "coupon_expiring", "filters": []},
        reentry={"policy": "after_exit"},
    )
    d.node("to_window", "wait", "营业时段内", (1, 1), **wait_for(minutes(1)))
    d.node(
        "notice",
        "send_message",
        "到期通知",
        (2, 1),
        channel=p["notice_channel"],
        subject="优惠券即将到期",
        content="{{ customer.name }}，您的"
        + FACE
        + "元优惠券将于"
        + EXPIRES
        + "到期，别让它浪费了～",
    )
    d.node(
        "wait_use",
        "wait_for_event",
        f"{p['first_wait_days']}天内使用？",
        (3, 1),
        event_type="coupon_redeemed",
        timeout=days(p["first_wait_days"]),
    )
    d.node(
        "value",
        "branch",
        "重要客户？",
        (4, 1),
        rules=[
            {
                "id": "important",
                "label": "重要客户",
                "conditions": [{"type": "rfm_class", "classes": list(p["important_classes"])}],
            }
        ],
    )
    d.node(
        "call",
        "assign_guide_task",
        "导购电话提醒",
        (5, 0),
        **task(
            "call",
            "券快到期：{{ customer.name }}",
            "{{ customer.name }}的" + FACE + "元券" + EXPIRES + "到期，还没有使用。请打个电话提醒，"
            "顺便推荐一两款适合的商品，可以帮忙留货。",
            p["task_sla_hours"],
            outcomes=CALL_OUTCOMES,
        ),
    )
    d.node(
        "last_sms",
        "send_message",
        "最后一天短信",
        (5, 2),
        channel="sms",
        content="{{ customer.name }}，您的" + FACE + "元券即将到期（" + EXPIRES + "），"
        "到店或小程序下单自动抵扣。回T退订",
    )
    d.node(
        "final_wait",
        "wait_for_event",
        f"{p['final_wait_days']}天内使用？",
        (6, 1),
        event_type="coupon_redeemed",
        timeout=days(p["final_wait_days"]),
    )
    d.node("goal", "exit", "券已使用（目标达成）", (7, 0), goal_reached=True)
    d.node("done", "exit", "未使用", (7, 1))

    d.edge("entry", "to_window")
    d.edge("to_window", "notice")
    d.edge("notice", "wait_use")
    d.edge("wait_use", "goal", "matched")
    d.edge("wait_use", "value", "timeout")
    d.edge("value", "call", "important")
    d.edge("value", "last_sms", "else")
    for port in (*CALL_OUTCOMES, "expired"):
        d.edge("call", "final_wait", port)
    d.edge("last_sms", "final_wait")
    d.edge("final_wait", "goal", "matched")
    d.edge("final_wait", "done", "timeout")
    return d.build()


TEMPLATE = Template(
    id="coupon_expiry",
    name=Text("优惠券到期提醒", "Coupon-expiry reminder"),
    description=Text(
        "券快到期还没用：先发服务通知；一天内仍未使用，重要客户由绑定导购电话提醒，"
        "其他客户收到最后一条短信。核销即达成目标。",
        "A coupon is about to expire unused: a service notification first; still unused a day "
        "later → important customers get a call from their guide, everyone else a last SMS. "
        "Redeeming it reaches the goal.",
    ),
    goal=Text("券被核销", "The coupon is redeemed"),
    audience=Text(
        "持有即将到期未核销券的会员（coupon_expiring 事件进入）",
        "Members holding an unused coupon about to expire (coupon_expiring event)",
    ),
    category="retain",
    params=PARAMS,
    build=build,
)

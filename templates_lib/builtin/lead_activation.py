"""潜客激活 Lead activation: browsed or visited the store, did not buy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from templates_lib.builder import DocBuilder, days, minutes, purchase_goal, wait_for
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

#: What the customer looked at, when the entry event says (browse events carry a category).
LOOKED_AT = (
    "{% if ctx.entry and ctx.entry.event and ctx.entry.event.properties.category %}"
    "{{ ctx.entry.event.properties.category }}{% else %}新品{% endif %}"
)

#: ``entry_event`` value that enters the built-in segment instead of reacting to an event.
SEGMENT_ENTRY = "segment"
#: who enters, by entry choice, as the draft's description says it
_WHO = {
    "browse": "浏览商品未购买",
    "store_visit": "到店未购买",
    "add_to_cart": "加购未付款",
    SEGMENT_ENTRY: "每天 10:00 从“近14天浏览未购”进入",
}
LEADS_SEGMENT = "browsed_no_purchase_14d"


def _trigger(entry_event: str) -> dict[str, Any]:
    if entry_event == SEGMENT_ENTRY:
        return {
            "type": "segment",
            "segment_id": LEADS_SEGMENT,
            "schedule": "daily",
            "at_time": "10:00",
        }
    return {"type": "event", "event_type": entry_event, "filters": []}


PARAMS = (
    Param(
        "entry_event",
        ParamType.CHOICE,
        "browse",
        Text("进入事件", "Entry event"),
        Text(
            "浏览小程序商品，或到店未购；或每天 10:00 从人群“浏览未购潜客”进入。",
            "Browsed products in the mini-program, or visited a store; or daily at 10:00 from "
            "the segment of leads who browsed and never bought.",
        ),
        choices=(
            Choice("browse", Text("浏览商品", "Browsed products")),
            Choice("store_visit", Text("到店", "Visited a store")),
            Choice("add_to_cart", Text("加购未付款", "Added to cart")),
            Choice(
                SEGMENT_ENTRY,
                Text("人群：近14天浏览未购（每日）", "Segment: browsed in 14 days, never bought"),
            ),
        ),
    ),
    Param(
        "first_touch_delay_minutes",
        ParamType.INT,
        60,
        Text("首次触达延迟（分钟）", "First touch after (minutes)"),
        Text("约一小时后、在 10:00–20:00 内发送。", "About an hour later, inside 10:00–20:00."),
        15,
        240,
        "minutes",
    ),
    channel_param("first_touch_channel", "wecom", Text("推荐消息渠道", "Recommendation channel")),
    days_param(
        "purchase_wait_days", 3, 1, 14, Text("等待购买（天）", "Wait for a purchase (days)")
    ),
    sla_param(24),
    coupon_param("MEMBERDAY15", Text("最后一张券", "Last-offer coupon")),
    days_param(
        "offer_wait_days", 7, 1, 14, Text("发券后等待（天）", "Wait after the offer (days)")
    ),
    days_param(
        "reentry_cooldown_days",
        30,
        7,
        180,
        Text("再次进入间隔（天）", "Re-entry cooldown (days)"),
        Text("同一客户多久内不再重复激活。", "How long before the same customer may enter again."),
    ),
)


def build(p: Mapping[str, Any]) -> dict[str, Any]:
    delay = p["first_touch_delay_minutes"]
    after = f"{delay // 60}小时" if delay % 60 == 0 else f"{delay}分钟"
    # the description says what the chosen parameters make of the journey
    d = DocBuilder(
        "潜客激活",
        f"{_WHO[p['entry_event']]}的潜客：{after}后{channel_name(p['first_touch_channel'])}推荐所看商品；"
        f"{p['purchase_wait_days']}天未购则导购邀约到店，最后送一张券（{p['coupon_template_id']}），"
        f"再等{p['offer_wait_days']}天。任何时候购买即达成目标。",
        settings={"goal": purchase_goal()},
    )
    d.node(
        "entry",
        "entry",
        "浏览/到店未购",
        (0, 1),
        trigger=_trigger(p["entry_event"]),
        reentry={"policy": "cooldown", "cooldown_days": p["reentry_cooldown_days"]},
    )
    d.node(
        "wait_1h",
        "wait",
        "约1小时后（营业时段）",
        (1, 1),
        **wait_for(minutes(p["first_touch_delay_minutes"])),
    )
    d.node(
        "recommend",
        "send_message",
        "推荐所看商品",
        (2, 1),
        channel=p["first_touch_channel"],
        content=(
            "{{ customer.name }}您好～看到您最近在关注" + LOOKED_AT + "，这几款最近很受欢迎，"
            "尺码颜色都还齐全。需要的话我可以先帮您留货，到店直接试穿。"
        ),
    )
    d.node(
        "wait_purchase",
        "wait_for_event",
        f"{p['purchase_wait_days']}天内购买？",
        (3, 1),
        event_type="purchase",
        timeout=days(p["purchase_wait_days"]),
    )
    d.node(
        "invite",
        "assign_guide_task",
        "导购邀约到店",
        (4, 1),
        **task(
            "store_invite",
            "邀约到店：{{ customer.name }}",
            "{{ customer.name }} 最近看过" + LOOKED_AT + "，还没有购买。请用企业微信或电话邀请"
            "到店试穿，可以先帮忙留货。联系后记录结果。",
            p["task_sla_hours"],
            outcomes=CALL_OUTCOMES,
        ),
    )
    d.node(
        "last_offer",
        "send_coupon",
        "最后一张券",
        (5, 1),
        coupon_template_id=p["coupon_template_id"],
        on_failure="port",
    )
    d.node(
        "offer_msg",
        "send_message",
        "告知送券",
        (6, 1),
        channel=p["first_touch_channel"],
        content=(
            "{{ customer.name }}，给您留了一张{{ ctx.last_offer.face_value }}元券"
            "（券码 {{ ctx.last_offer.code }}），{{ ctx.last_offer.expires_at[:10] }}前"
            "到店或小程序都能用。"
        ),
    )
    d.node(
        "wait_offer",
        "wait_for_event",
        f"{p['offer_wait_days']}天内购买？",
        (7, 1),
        event_type="purchase",
        timeout=days(p["offer_wait_days"]),
    )
    d.node("goal", "exit", "已购买（目标达成）", (8, 0), goal_reached=True)
    d.node("declined", "exit", "客户婉拒，不再打扰", (5, 2), goal_reached=False)
    d.node("not_converted", "exit", "未转化", (8, 1), goal_reached=False)

    d.edge("entry", "wait_1h")
    d.edge("wait_1h", "recommend")
    d.edge("recommend", "wait_purchase")
    d.edge("wait_purchase", "goal", "matched")
    d.edge("wait_purchase", "invite", "timeout")
    for port in ("will_visit", "no_answer", "expired"):
        d.edge("invite", "last_offer", port)
    d.edge("invite", "declined", "declined")
    d.edge("last_offer", "offer_msg")
    d.edge("last_offer", "wait_offer", "failed")
    d.edge("offer_msg", "wait_offer")
    d.edge("wait_offer", "goal", "matched")
    d.edge("wait_offer", "not_converted", "timeout")
    return d.build()


TEMPLATE = Template(
    id="lead_activation",
    name=Text("潜客激活", "Lead activation"),
    description=Text(
        "浏览或到店却没买的潜客：约一小时后由导购企微推荐她看过的商品；三天内仍未购买，"
        "给绑定导购派邀约到店任务；任务之后送出最后一张券。任何时候购买即达成目标。",
        "Browsed or visited without buying: about an hour later a WeCom message recommends what "
        "they looked at; no purchase in 3 days → the bound guide gets a store-invite task; then "
        "a last coupon offer. A purchase at any point reaches the goal.",
    ),
    goal=Text("首次购买", "First purchase"),
    audience=Text(
        "浏览商品 / 到店 / 加购但未购买的潜客"
        "（事件进入；或每日从分群 browsed_no_purchase_14d 进入）",
        "Leads who browsed, visited or added to cart without buying (event entry; or daily from "
        "segment browsed_no_purchase_14d)",
    ),
    category="acquire",
    params=PARAMS,
    build=build,
)

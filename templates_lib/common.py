"""Parameters and snippets shared by several built-in templates."""

from __future__ import annotations

from engine.rfm import IMPORTANT_CLASSES, RFM_CLASS_EN, RFM_CLASS_NAMES
from templates_lib.params import Choice, Param, ParamType, Text

CHANNELS: tuple[Choice, ...] = (
    Choice("wecom", Text("企业微信", "WeCom")),
    Choice("wechat_template", Text("服务通知（模板消息）", "WeChat template message")),
    Choice("sms", Text("短信", "SMS")),
)
RFM_CHOICES: tuple[Choice, ...] = tuple(
    Choice(name, Text(name, RFM_CLASS_EN[name])) for name in RFM_CLASS_NAMES
)
MEMBER_LEVELS: tuple[Choice, ...] = (
    Choice("regular", Text("普通会员", "Regular")),
    Choice("silver", Text("银卡", "Silver")),
    Choice("gold", Text("金卡", "Gold")),
    Choice("diamond", Text("钻石卡", "Diamond")),
)
#: Outcomes a guide records after calling or inviting a customer.
CALL_OUTCOMES = ["will_visit", "no_answer", "declined"]


def days_param(
    name: str, default: int, lo: int, hi: int, label: Text, help: Text | None = None
) -> Param:
    return Param(name, ParamType.INT, default, label, help or Text("", ""), lo, hi, "days")


def coupon_param(default: str, label: Text, name: str = "coupon_template_id") -> Param:
    return Param(
        name,
        ParamType.COUPON,
        default,
        label,
        Text(
            "券面额和有效期由券模板决定。", "Face value and validity come from the coupon template."
        ),
    )


def channel_name(value: str) -> str:
    """A channel as the (Chinese) journey documents name it: a draft's description says
    which channel the chosen parameters use."""
    return next((c.label.zh for c in CHANNELS if c.value == value), value)


def channel_param(name: str, default: str, label: Text) -> Param:
    return Param(name, ParamType.CHOICE, default, label, choices=CHANNELS)


def sla_param(default: int = 24, name: str = "task_sla_hours") -> Param:
    return Param(
        name,
        ParamType.INT,
        default,
        Text("导购任务时限（小时）", "Guide task SLA (hours)"),
        Text(
            "超时提醒店长，再过同样时长任务过期。",
            "When overdue the store manager is alerted; it expires after as long again.",
        ),
        4,
        72,
        "hours",
    )


def rfm_param(
    default: tuple[str, ...] = IMPORTANT_CLASSES, name: str = "important_classes"
) -> Param:
    return Param(
        name,
        ParamType.MULTI,
        default,
        Text("由导购人工跟进的 RFM 分层", "RFM classes that get a human (their guide)"),
        Text(
            "高价值客户给人，大众客户给系统。",
            "Premium customers get humans, the mass gets the system.",
        ),
        choices=RFM_CHOICES,
    )


def task(
    task_type: str,
    title: str,
    instructions: str,
    sla_hours: int,
    *,
    outcomes: list[str] | None = None,
    assignee: str = "bound_guide",
) -> dict[str, object]:
    """An assign_guide_task config: reminded 2 h before due, expires one SLA after due."""
    return {
        "task_type": task_type,
        "title": title,
        "instructions": instructions,
        "assignee": assignee,
        "due_in": {"amount": sla_hours, "unit": "hours"},
        "remind_before": {"amount": 2, "unit": "hours"},
        "expire_after": {"amount": sla_hours, "unit": "hours"},
        "outcomes": list(outcomes or []),
    }

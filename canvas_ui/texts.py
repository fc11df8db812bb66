"""Wording the canvas shares between kinds: durations, money, moments, channel and task
names, and the lookup data a node summary may need. Used by each kind's entry in
:mod:`canvas_ui.kinds` and by :mod:`canvas_ui.summaries` / :mod:`canvas_ui.run_notes`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from canvas_ui.i18n import gettext, lazy, ngettext
from engine.document import Duration
from engine.semantics import parse_time


@dataclass(frozen=True)
class CouponInfo:
    """What a summary shows of a coupon template."""

    name: str
    face_value: float
    validity_days: int


@dataclass(frozen=True)
class SummaryContext:
    """Lookup data a summary may need: coupon templates by id, node labels by id."""

    coupons: Mapping[str, CouponInfo] = field(default_factory=dict)
    node_labels: Mapping[str, str] = field(default_factory=dict)


CHANNEL_LABELS: dict[str, str] = {
    "sms": lazy("SMS"),
    "wecom": lazy("WeCom"),
    "wechat_template": lazy("WeChat template"),
    "wechat_subscribe": lazy("WeChat subscribe message"),
    "email": lazy("Email"),
    "webhook": lazy("Webhook"),
}

TASK_LABELS: dict[str, str] = {
    "call": lazy("Guide phone call"),
    "wecom_chat": lazy("Guide WeCom chat"),
    "store_invite": lazy("Guide store invitation"),
}


def duration_text(amount: int, unit: str) -> str:
    """ "3 天" / "3 days"."""
    if unit == "minutes":
        return ngettext("%(num)d minute", "%(num)d minutes", amount) % {"num": amount}
    if unit == "hours":
        return ngettext("%(num)d hour", "%(num)d hours", amount) % {"num": amount}
    return ngettext("%(num)d day", "%(num)d days", amount) % {"num": amount}


def short_duration(amount: int, unit: str) -> str:
    """Compact form for tight spots: "24h", "3d", "30min"."""
    suffix = {"minutes": "min", "hours": "h"}.get(unit, "d")
    return f"{amount}{suffix}"


def money(value: float) -> str:
    return f"¥{value:g}"


def offset_text(anchor: str, offset: Duration, direction: str) -> str:
    """ "Until 生日", "3 days before 生日", "1 day after 券 expiry"."""
    if offset.amount == 0:
        return gettext("Until %(anchor)s") % {"anchor": anchor}
    template = (
        gettext("%(duration)s before %(anchor)s")
        if direction == "before"
        else gettext("%(duration)s after %(anchor)s")
    )
    return template % {"duration": duration_text(offset.amount, offset.unit), "anchor": anchor}


def when(value: str | None, tz: str) -> str:
    """``MM-DD HH:MM`` in the journey's timezone ("" for none)."""
    if not value:
        return ""
    try:
        return parse_time(value).astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M")
    except (ValueError, KeyError):
        return value[:16]

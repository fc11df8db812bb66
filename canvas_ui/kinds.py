"""The canvas side of each node kind: one :class:`KindInfo` entry per kind.

Everything the canvas needs to know about a kind comes from here — palette group, colour,
icon, title and help, config model and starting config, the one-line summary of a node's
config, the note on a visited step of a run, and the labels of config-dependent ports — so
``canvas.js``, :mod:`canvas_ui.summaries` and :mod:`canvas_ui.run_notes` stay free of
per-kind knowledge. The engine side of a kind is its module under ``engine/kinds``;
tests/canvas_ui check every registered kind has an entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from canvas_ui.forms import labels as panel_labels
from canvas_ui.i18n import gettext, lazy, ngettext
from canvas_ui.texts import (
    CHANNEL_LABELS,
    TASK_LABELS,
    SummaryContext,
    duration_text,
    money,
    offset_text,
    short_duration,
    when,
)
from canvas_ui.words import event_name, message_status, outcome_name
from engine import document as d
from engine.document import NodeKind
from engine.kinds.award_points import AwardPointsConfig
from engine.kinds.wait_purchase_cycle import WaitPurchaseCycleConfig
from engine.kinds.wait_until_date import WaitUntilDateConfig
from engine.kinds.wait_until_date import lenient_ports as wait_until_date_ports
from engine.ports import ELSE
from engine.semantics import parse_time

if TYPE_CHECKING:
    from services.run_explain import StepView

FLOW = "flow"
ACTIONS = "actions"
PEOPLE = "people"

GROUPS: dict[str, str] = {
    FLOW: lazy("Flow control"),
    ACTIONS: lazy("Actions"),
    PEOPLE: lazy("People"),
}


#: ``(config, summary context) → "等待 3 天"``: the one line shown on the node.
Summary = Callable[[Any, SummaryContext], str]
#: ``(visited step, journey timezone) → "优惠券 SIM00003 · 到期 12-24"``: a run's note.
RunNote = Callable[["StepView", str], str]


#: The contact policy fields every action kind (message, coupon, guide task) has
#: (engine.contact_policy; the brand's policy itself is on the /policy page).
_CONTACT_FIELDS: dict[str, tuple[str, str]] = {
    "category": (
        lazy("Contact category"),
        lazy(
            "Marketing waits for quiet hours to end; service (coupon arrival, expiry "
            "reminder, task follow-up) does not. Both count against frequency caps."
        ),
    ),
    "when_capped": (
        lazy("If a frequency cap is reached"),
        lazy("Caps count this customer's contacts across all journeys (see Contact policy)."),
    ),
    "max_wait": (
        lazy("Wait at most"),
        lazy("If the cap does not allow it by then, the step is skipped."),
    ),
    **{
        f"{model}.window": (
            lazy("Send window"),
            lazy(
                "Send only between these times of day (the customer's or store's zone); "
                "otherwise the step waits for the window."
            ),
        )
        for model in ("SendMessageConfig", "SendCouponConfig", "AssignGuideTaskConfig")
    },
}
_CONTACT_CHOICES: dict[str, str] = {
    "category:marketing": lazy("Marketing"),
    "category:service": lazy("Service"),
    "when_capped:skip": lazy("Skip this step and go on"),
    "when_capped:wait": lazy("Wait until the cap allows it"),
    "when_capped:port": lazy("Take the 'capped' port"),
}


@dataclass(frozen=True)
class KindInfo:
    """Display facts, defaults and wording of one node kind."""

    kind: NodeKind
    group: str
    color: str
    icon: str  # an SVG path (24×24 viewBox), drawn in the node and the palette
    title: str  # msgid
    help: str  # msgid
    config_model: type[BaseModel]
    default_config: dict[str, Any]
    summary: Summary
    run_note: RunNote
    #: the label of one of its config-dependent ports (a rule, a variant), else None
    port_label: Callable[[Any, str], str | None] | None = None
    #: best-effort ports of a node whose config does not validate yet (config as JSON), so
    #: edges keep their port; None: the kind's static ports
    lenient_ports: Callable[[dict[str, Any]], tuple[str, ...]] | None = None
    #: panel words of the kind's own config fields, ``"Model.field" → (label, help)``
    #: msgids, and of choice values it adds (merged into :mod:`canvas_ui.forms.labels`)
    field_labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    choice_labels: Mapping[str, str] = field(default_factory=dict)
    #: the placeholder picker's label (msgid) of each value its step records for texts
    #: (``engine.kinds.<kind>.SPEC.shown_fields``)
    shown_labels: Mapping[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- entry


def _entry_summary(c: d.EntryConfig, ctx: SummaryContext) -> str:
    t = c.trigger
    if isinstance(t, d.EventTrigger):
        return gettext("On event %(event)s") % {"event": event_name(t.event_type)}
    if isinstance(t, d.SegmentTrigger):
        when_ = {"once": gettext("once"), "daily": gettext("daily"), "weekly": gettext("weekly")}
        return gettext("Segment %(segment)s · %(when)s %(time)s") % {
            "segment": t.segment_id,
            "when": when_[t.schedule],
            "time": t.at_time,
        }
    return gettext("Manual enrolment")


def _entry_note(step: StepView, tz: str) -> str:
    trigger = (step.result.get("trigger") or {}).get("type")
    return gettext("Entered by %(event)s") % {"event": trigger} if trigger else gettext("Entered")


# --------------------------------------------------------------------------- wait


def _wait_summary(c: d.WaitConfig, ctx: SummaryContext) -> str:
    text = _until_text(c.until, ctx)
    if c.window:
        text += f" · {c.window.start}–{c.window.end}"
    return text


def _until_text(until: Any, ctx: SummaryContext) -> str:
    if isinstance(until, d.WaitDuration):
        amount, unit = until.duration.amount, until.duration.unit
        return gettext("Wait %(duration)s") % {"duration": duration_text(amount, unit)}
    if isinstance(until, d.WaitUntilContext):
        fields = {
            "expires_at": gettext("expiry"),
            "issued_at": gettext("issue"),
            "due_at": gettext("task due time"),
        }
        anchor = f"{ctx.node_labels.get(until.node_id) or until.node_id} {fields[until.field]}"
        return offset_text(anchor, until.offset, until.direction)
    if isinstance(until, d.WaitUntilCustomerDate):
        anchor = (
            gettext("birthday") if until.field == "birthday" else gettext("birthday month start")
        )
        return offset_text(anchor, until.offset, until.direction)
    if isinstance(until, d.WaitUntilAbsolute):
        return gettext("Until %(at)s") % {"at": until.at.strftime("%Y-%m-%d %H:%M")}
    return ""


def _wait_note(step: StepView, tz: str) -> str:
    if step.result.get("until"):
        return gettext("Wait until %(at)s") % {"at": when(step.result["until"], tz)}
    return gettext("No wait: %(why)s") % {"why": step.inputs.get("rule", "")}


# --------------------------------------------------------------------------- wait purchase cycle


def _cycle_summary(c: WaitPurchaseCycleConfig, ctx: SummaryContext) -> str:
    # fits the node's line (26 columns, a Chinese character counts two); the time of day
    # is in the panel, and the run note says the exact moment
    return gettext("%(percent)d%% of cycle · else %(fallback)s") % {
        "percent": c.percent,
        "fallback": short_duration(c.fallback.amount, c.fallback.unit),
    }


def _seconds_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        return duration_text(seconds // 86400, "days")
    if seconds % 3600 == 0:
        return duration_text(seconds // 3600, "hours")
    return duration_text(seconds // 60, "minutes")


def _cycle_note(step: StepView, tz: str) -> str:
    """ "45 天周期的 90% → 2027-01-10" / "不足两次购买，按 14 天兜底 → 2027-01-10"."""
    i = step.inputs
    if i.get("rule") == "cycle":
        rule = gettext("%(percent)s%% of the %(days)s-day cycle") % {
            "percent": i.get("percent", ""),
            "days": f"{float(i.get('cycle_days') or 0):g}",
        }
    else:
        fallback = _seconds_text(int(i.get("fallback_seconds") or 0))
        reasons = {
            "no_purchase": gettext("No purchase yet, fallback %(fallback)s"),
            "one_purchase": gettext("Fewer than two purchases, fallback %(fallback)s"),
            "bad_data": gettext("Purchase data unreadable, fallback %(fallback)s"),
        }
        rule = reasons.get(str(i.get("reason")), reasons["one_purchase"]) % {"fallback": fallback}
    until = step.result.get("until")
    if not until:
        return rule
    text = f"{rule} → {when_day(until, tz)}"
    return text + " · " + gettext("already past, continued") if step.result.get("past") else text


def when_day(value: str, tz: str) -> str:
    """``YYYY-MM-DD`` (and ``HH:MM`` unless midnight) in the journey's timezone."""
    try:
        local = parse_time(value).astimezone(ZoneInfo(tz))
    except (ValueError, KeyError):
        return value[:16]
    return local.strftime("%Y-%m-%d" if local.strftime("%H:%M") == "00:00" else "%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- wait for event


def _wait_for_event_summary(c: d.WaitForEventConfig, ctx: SummaryContext) -> str:
    return gettext("Wait for %(event)s · up to %(timeout)s") % {
        "event": event_name(c.event_type),
        "timeout": duration_text(c.timeout.amount, c.timeout.unit),
    }


def _wait_for_event_note(step: StepView, tz: str) -> str:
    event = event_name(step.inputs.get("event_type", ""))
    if step.port == "matched":
        return gettext("%(event)s at %(at)s") % {
            "event": event,
            "at": when(step.result.get("occurred_at"), tz),
        }
    if step.port == "timeout":
        return gettext("Timed out: no %(event)s") % {"event": event}
    return gettext("Waiting for %(event)s") % {"event": event}


# --------------------------------------------------------------------------- wait until date

#: Display names of well-known date attributes (mother-and-baby stages); others show the key.
DATE_ATTRIBUTES: dict[str, str] = {
    "due_date": lazy("due date"),
    "baby_birthday": lazy("baby's birthday"),
}


def _date_anchor(c: WaitUntilDateConfig) -> str:
    if c.source == "birthday":
        return gettext("birthday")
    if c.source == "member_since":
        return (
            gettext("membership anniversary") if c.mode == "anniversary" else gettext("joining day")
        )
    key = c.attribute.strip().removeprefix("attributes.")
    return gettext(DATE_ATTRIBUTES[key]) if key in DATE_ATTRIBUTES else key


def _wait_until_date_summary(c: WaitUntilDateConfig, ctx: SummaryContext) -> str:
    """ "宝宝生日前7 天 10:00", "宝宝生日前7 天 10:00 · 每年", "直到入会周年 10:00"."""
    offset = d.Duration(amount=c.offset_days, unit=d.TimeUnit.DAYS)
    text = f"{offset_text(_date_anchor(c), offset, c.direction)} {c.at_time}"
    if c.mode == "anniversary" and c.source == "attribute":
        text += " · " + gettext("every year")
    return text


def _wait_until_date_note(step: StepView, tz: str) -> str:
    """ "Waiting until 2027-03-01 10:00" (the customer's local time, as the run saw it)."""
    local = step.result.get("local", "")
    if step.port == "passed" or step.result.get("passed"):
        return gettext("Date passed (%(at)s): continued at once") % {"at": local}
    if local:
        return gettext("Waiting until %(at)s") % {"at": local}
    return step.summary


def _wait_until_date_port_label(c: WaitUntilDateConfig, port: str) -> str | None:
    return gettext("date passed") if port == "passed" else None


# --------------------------------------------------------------------------- branch


def _branch_summary(c: d.BranchConfig, ctx: SummaryContext) -> str:
    return ngettext("%(num)d rule + otherwise", "%(num)d rules + otherwise", len(c.rules)) % {
        "num": len(c.rules)
    }


def _branch_note(step: StepView, tz: str) -> str:
    # the output taken, in words ("otherwise"), not the interpreter's raw rule line
    port = gettext("otherwise") if step.port == ELSE else step.port
    return gettext("Branch: %(summary)s") % {"summary": "→ " + port if port else step.summary}


def _branch_port_label(c: d.BranchConfig, port: str) -> str | None:
    rule = next((r for r in c.rules if r.id == port), None)
    return (rule.label or rule.id) if rule is not None else None


def _branch_lenient_ports(config: dict[str, Any]) -> tuple[str, ...]:
    rules = config.get("rules")
    rules = rules if isinstance(rules, list) else []
    return (*(str(r["id"]) for r in rules if isinstance(r, dict) and r.get("id")), ELSE)


# --------------------------------------------------------------------------- split


def _split_summary(c: d.SplitConfig, ctx: SummaryContext) -> str:
    return " / ".join(
        f"{v.label or v.id} {v.weight}%" + (" ∅" if v.holdout else "") for v in c.variants
    ) or gettext("No variants")


def _split_note(step: StepView, tz: str) -> str:
    return gettext("Variant %(variant)s") % {"variant": step.result.get("variant", step.port)}


def _split_port_label(c: d.SplitConfig, port: str) -> str | None:
    variant = next((v for v in c.variants if v.id == port), None)
    return f"{variant.label or variant.id} {variant.weight}%" if variant is not None else None


def _split_lenient_ports(config: dict[str, Any]) -> tuple[str, ...]:
    variants = config.get("variants")
    variants = variants if isinstance(variants, list) else []
    return tuple(str(v["id"]) for v in variants if isinstance(v, dict) and v.get("id"))


# --------------------------------------------------------------------------- actions


def _send_coupon_summary(c: d.SendCouponConfig, ctx: SummaryContext) -> str:
    info = ctx.coupons.get(c.coupon_template_id)
    if info is None:
        return gettext("Coupon %(template)s") % {"template": c.coupon_template_id}
    days = info.validity_days
    return ngettext("Coupon %(value)s · %(num)d day", "Coupon %(value)s · %(num)d days", days) % {
        "value": money(info.face_value),
        "num": days,
    }


def _send_coupon_note(step: StepView, tz: str) -> str:
    r = step.result
    return gettext("Coupon %(code)s · expires %(date)s") % {
        "code": r.get("code") or r.get("coupon_id", ""),
        "date": when(r.get("expires_at"), tz)[:5],
    }


def _award_points_summary(c: AwardPointsConfig, ctx: SummaryContext) -> str:
    """ "+200 积分 · 30 天有效 · 礼包 2 张券"."""
    parts = [ngettext("+%(num)d point", "+%(num)d points", c.points) % {"num": c.points}]
    if c.expires_in_days:
        days = duration_text(c.expires_in_days, "days")
        parts.append(gettext("valid %(days)s") % {"days": days})
    if c.coupon_template_ids:
        n = len(c.coupon_template_ids)
        parts.append(ngettext("pack of %(num)d coupon", "pack of %(num)d coupons", n) % {"num": n})
    return " · ".join(parts)


def _award_points_note(step: StepView, tz: str) -> str:
    """ "+200 积分 · 余额 1200 · 券 SIM00002"."""
    r = step.result
    points = int(r.get("points") or 0)
    text = gettext("+%(points)s points · balance %(balance)s") % {
        "points": points,
        "balance": r.get("balance", ""),
    }
    if r.get("coupon_codes"):
        text += " · " + gettext("coupons %(codes)s") % {"codes": r["coupon_codes"]}
    return text


def _send_message_summary(c: d.SendMessageConfig, ctx: SummaryContext) -> str:
    content = c.content.strip().replace("\n", " ")
    if len(content) > 18:
        content = content[:18] + "…"
    return f"{gettext(CHANNEL_LABELS[c.channel.value])} · {content}"


def _send_message_note(step: StepView, tz: str) -> str:
    return gettext("Message %(status)s") % {"status": message_status(step.result.get("status", ""))}


def _update_customer_summary(c: d.UpdateCustomerConfig, ctx: SummaryContext) -> str:
    parts = [f"+{t}" for t in c.add_tags] + [f"−{t}" for t in c.remove_tags]
    parts += [f"{k}={v}" for k, v in c.set_attributes.items()]
    return " ".join(parts) or gettext("No changes")


def _summary_note(step: StepView, tz: str) -> str:
    """The interpreter's own line (kinds with nothing more to say)."""
    return step.summary


def _task_summary(c: d.AssignGuideTaskConfig, ctx: SummaryContext) -> str:
    return f"{gettext(TASK_LABELS[c.task_type.value])} · " + short_duration(
        c.due_in.amount, c.due_in.unit
    )


def _task_note(step: StepView, tz: str) -> str:
    r = step.result
    outcome = r.get("outcome") or (step.port if step.port == "expired" else "")
    # the outcome in words; the task's 32-hex id stays in the step's raw data
    if outcome:
        return gettext("Task done · %(outcome)s") % {"outcome": outcome_name(outcome)}
    return gettext("Task open")


# --------------------------------------------------------------------------- exit


def _exit_summary(c: d.ExitConfig, ctx: SummaryContext) -> str:
    return gettext("Goal reached") if c.goal_reached else gettext("End")


def _exit_note(step: StepView, tz: str) -> str:
    return gettext("Goal reached") if step.summary == "goal reached" else gettext("Exit")


# --------------------------------------------------------------------------- the registry


# Simple 24×24 line icons (our own), stroked with the kind's colour.
_ICONS = {
    "play": "M8 5v14l11-7z",
    "clock": "M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zm0 4v5l3 3",
    "bell": "M6 16V11a6 6 0 0 1 12 0v5l2 2H4zM10 20a2 2 0 0 0 4 0",
    "branch": "M6 3v6a4 4 0 0 0 4 4h4M6 9v12M14 13l4-4m0 0h-4m4 0v4",
    "split": "M12 21v-8M12 13L5 5m7 8l7-8M5 5v4M5 5h4M19 5v4M19 5h-4",
    "coupon": "M3 7h18v3a2 2 0 0 0 0 4v3H3v-3a2 2 0 0 0 0-4zM10 7v10",
    "message": "M4 5h16v11H9l-5 4z",
    "guide": "M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM4 21a8 8 0 0 1 16 0",
    "tag": "M3 12V4h8l10 10-8 8zM7.5 8.5h.01",
    "flag": "M5 21V4h11l-2 4 2 4H5",
    "points": "M12 3l2.6 5.6 6 .7-4.5 4.1 1.2 6L12 16.4 6.7 19.4l1.2-6L3.4 9.3l6-.7z",
    "calendar": "M4 6h16v14H4zM4 10h16M8 3v5M16 3v5M12 14v3",
    "cycle": "M20 12a8 8 0 1 1-2.3-5.6M20 4v4h-4M12 8v4l3 2",
}

KINDS: dict[NodeKind, KindInfo] = {
    info.kind: info
    for info in (
        KindInfo(
            NodeKind.ENTRY,
            FLOW,
            "#2f6fed",
            _ICONS["play"],
            lazy("Entry"),
            lazy("Where customers enter: an event, a segment or manual enrolment."),
            d.EntryConfig,
            {"trigger": {"type": "manual"}, "reentry": {"policy": "never"}},
            summary=_entry_summary,
            run_note=_entry_note,
        ),
        KindInfo(
            NodeKind.WAIT,
            FLOW,
            "#7a5af8",
            _ICONS["clock"],
            lazy("Wait"),
            lazy("Pause for a time, or until a date such as a coupon's expiry."),
            d.WaitConfig,
            {"until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}},
            summary=_wait_summary,
            run_note=_wait_note,
        ),
        KindInfo(
            NodeKind.WAIT_PURCHASE_CYCLE,
            FLOW,
            "#6172f3",
            _ICONS["cycle"],
            lazy("Wait for purchase cycle"),
            # no "%" here: the editor's _() formats the text it translates
            lazy(
                "Wait by the customer's own purchase cycle: a share of it since their last "
                "purchase, e.g. day 40 of a 45-day cycle."
            ),
            WaitPurchaseCycleConfig,
            {"percent": 90, "fallback": {"amount": 14, "unit": "days"}, "at_time": None},
            summary=_cycle_summary,
            run_note=_cycle_note,
        ),
        KindInfo(
            NodeKind.WAIT_FOR_EVENT,
            FLOW,
            "#9e77ed",
            _ICONS["bell"],
            lazy("Wait for event"),
            lazy("Continue when the customer does something, or time out."),
            d.WaitForEventConfig,
            {"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
            summary=_wait_for_event_summary,
            run_note=_wait_for_event_note,
            shown_labels={"type": lazy("Event name"), "occurred_at": lazy("Event date")},
        ),
        KindInfo(
            NodeKind.WAIT_UNTIL_DATE,
            FLOW,
            "#875bf7",
            _ICONS["calendar"],
            lazy("Wait until date"),
            lazy(
                "Wait until a date of the customer's profile — birthday, joining day or a date "
                "attribute such as a due date — or its yearly anniversary, N days before or after."
            ),
            WaitUntilDateConfig,
            {
                "source": "birthday",
                "attribute": "",
                "mode": "anniversary",
                "offset_days": 0,
                "direction": "before",
                "at_time": "10:00",
                "on_failure": "exit",
            },
            summary=_wait_until_date_summary,
            run_note=_wait_until_date_note,
            port_label=_wait_until_date_port_label,
            lenient_ports=wait_until_date_ports,
        ),
        KindInfo(
            NodeKind.BRANCH,
            FLOW,
            "#0e9384",
            _ICONS["branch"],
            lazy("Branch"),
            lazy("Send customers down the first rule they match, else the last port."),
            d.BranchConfig,
            {"rules": [{"id": "yes", "label": "", "conditions": []}]},
            summary=_branch_summary,
            run_note=_branch_note,
            port_label=_branch_port_label,
            lenient_ports=_branch_lenient_ports,
        ),
        KindInfo(
            NodeKind.SPLIT,
            FLOW,
            "#15b79e",
            _ICONS["split"],
            lazy("A/B split"),
            lazy("Split customers at random by weight; a holdout gets nothing."),
            d.SplitConfig,
            {
                "variants": [
                    {"id": "a", "label": "A", "weight": 50},
                    {"id": "b", "label": "B", "weight": 50},
                ]
            },
            summary=_split_summary,
            run_note=_split_note,
            port_label=_split_port_label,
            lenient_ports=_split_lenient_ports,
        ),
        KindInfo(
            NodeKind.SEND_COUPON,
            ACTIONS,
            "#e04f16",
            _ICONS["coupon"],
            lazy("Send coupon"),
            lazy("Issue a coupon from a template."),
            d.SendCouponConfig,
            {"coupon_template_id": "", "on_failure": "continue"},
            summary=_send_coupon_summary,
            run_note=_send_coupon_note,
            field_labels=_CONTACT_FIELDS,
            choice_labels=_CONTACT_CHOICES,
            shown_labels={
                "code": lazy("Coupon code"),
                "face_value": lazy("Coupon value (¥)"),
                "expires_at": lazy("Coupon expiry date"),
                "issued_at": lazy("Coupon issue date"),
            },
        ),
        KindInfo(
            NodeKind.AWARD_POINTS,
            ACTIONS,
            "#f79009",
            _ICONS["points"],
            lazy("Award points"),
            lazy("Add points to the customer's balance, with an optional pack of coupons."),
            AwardPointsConfig,
            {"points": 100, "expires_in_days": None, "coupon_template_ids": [], "reason": ""},
            summary=_award_points_summary,
            run_note=_award_points_note,
            field_labels={
                "AwardPointsConfig.points": (
                    lazy("Points"),
                    lazy("How many points each customer gets in this step."),
                ),
                "AwardPointsConfig.expires_in_days": (
                    lazy("Points expire after (days)"),
                    lazy("Leave empty for points that never expire."),
                ),
                "AwardPointsConfig.coupon_template_ids": (
                    lazy("Benefit pack: coupon templates"),
                    lazy("One template id per line; each customer gets one coupon of each."),
                ),
                "AwardPointsConfig.reason": (
                    lazy("Reason"),
                    lazy("Shown in the customer's points history, e.g. 生日礼."),
                ),
            },
            choice_labels={"points": lazy("points awarded"), "balance": lazy("points balance")},
            shown_labels={
                "points": lazy("Points awarded"),
                "balance": lazy("Points balance after the award"),
                "coupon_codes": lazy("Benefit pack coupon codes"),
                "points_expire_at": lazy("Points expiry date"),
            },
        ),
        KindInfo(
            NodeKind.SEND_MESSAGE,
            ACTIONS,
            "#dc6803",
            _ICONS["message"],
            lazy("Send message"),
            lazy("SMS, WeCom, WeChat template message, email or webhook."),
            d.SendMessageConfig,
            {"channel": "sms", "content": "", "on_failure": "continue"},
            summary=_send_message_summary,
            run_note=_send_message_note,
            field_labels=_CONTACT_FIELDS,
            choice_labels=_CONTACT_CHOICES,
        ),
        KindInfo(
            NodeKind.UPDATE_CUSTOMER,
            ACTIONS,
            "#ca8504",
            _ICONS["tag"],
            lazy("Update customer"),
            lazy("Add or remove tags, set attributes."),
            d.UpdateCustomerConfig,
            {"add_tags": [], "remove_tags": [], "set_attributes": {}},
            summary=_update_customer_summary,
            run_note=_summary_note,
        ),
        KindInfo(
            NodeKind.ASSIGN_GUIDE_TASK,
            PEOPLE,
            "#dd2590",
            _ICONS["guide"],
            lazy("Guide task"),
            lazy("Ask the customer's own sales guide to call, chat or invite."),
            d.AssignGuideTaskConfig,
            {
                "task_type": "call",
                "instructions": "",
                "assignee": "bound_guide",
                "due_in": {"amount": 24, "unit": "hours"},
                "outcomes": [],
            },
            summary=_task_summary,
            run_note=_task_note,
            field_labels=_CONTACT_FIELDS,
            choice_labels=_CONTACT_CHOICES,
            shown_labels={"due_at": lazy("Task due date"), "outcome": lazy("Task outcome")},
        ),
        KindInfo(
            NodeKind.EXIT,
            FLOW,
            "#475467",
            _ICONS["flag"],
            lazy("Exit"),
            lazy("The end of the path; mark it as goal reached if it is one."),
            d.ExitConfig,
            {"goal_reached": False},
            summary=_exit_summary,
            run_note=_exit_note,
        ),
    )
}


def _add_panel_words() -> None:
    """The panel (:mod:`canvas_ui.forms`) labels fields and choices from its tables; a
    kind's own ones come with its entry, so adding a kind stays one entry here."""
    for info in KINDS.values():
        panel_labels.FIELDS.update(info.field_labels)
        panel_labels.CHOICES.update(info.choice_labels)


_add_panel_words()


def kind_info(kind: str) -> KindInfo | None:
    """The info of ``kind``, or None for an unknown kind string."""
    try:
        return KINDS[NodeKind(kind)]
    except ValueError:
        return None


def kind_title(kind: str) -> str:
    """The translated display name of ``kind``."""
    info = kind_info(kind)
    return gettext(info.title) if info else kind


def palette() -> list[dict[str, Any]]:
    """Palette groups with their kinds, translated, in display order (for the template)."""
    groups: list[dict[str, Any]] = []
    for group, title in GROUPS.items():
        items = [
            {
                "kind": info.kind.value,
                "title": gettext(info.title),
                "help": gettext(info.help),
                "color": info.color,
                "icon": info.icon,
            }
            for info in KINDS.values()
            if info.group == group
        ]
        groups.append({"id": group, "title": gettext(title), "items": items})
    return groups

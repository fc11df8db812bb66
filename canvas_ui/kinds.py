"""The palette: how each node kind looks on the canvas and what a freshly dropped node holds.

Everything the canvas needs to know about a kind comes from here (group, colour, icon, config
model, starting config), so ``canvas.js`` stays free of per-kind knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from canvas_ui.i18n import gettext, lazy
from engine.document import (
    AssignGuideTaskConfig,
    BranchConfig,
    EntryConfig,
    ExitConfig,
    NodeKind,
    SendCouponConfig,
    SendMessageConfig,
    SplitConfig,
    UpdateCustomerConfig,
    WaitConfig,
    WaitForEventConfig,
)

FLOW = "flow"
ACTIONS = "actions"
PEOPLE = "people"

GROUPS: dict[str, str] = {
    FLOW: lazy("Flow control"),
    ACTIONS: lazy("Actions"),
    PEOPLE: lazy("People"),
}


@dataclass(frozen=True)
class KindInfo:
    """Display facts and defaults of one node kind."""

    kind: NodeKind
    group: str
    color: str
    icon: str  # an SVG path (24×24 viewBox), drawn in the node and the palette
    title: str  # msgid
    help: str  # msgid
    config_model: type[BaseModel]
    default_config: dict[str, Any]


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
            EntryConfig,
            {"trigger": {"type": "manual"}, "reentry": {"policy": "never"}},
        ),
        KindInfo(
            NodeKind.WAIT,
            FLOW,
            "#7a5af8",
            _ICONS["clock"],
            lazy("Wait"),
            lazy("Pause for a time, or until a date such as a coupon's expiry."),
            WaitConfig,
            {"until": {"type": "duration", "duration": {"amount": 1, "unit": "days"}}},
        ),
        KindInfo(
            NodeKind.WAIT_FOR_EVENT,
            FLOW,
            "#9e77ed",
            _ICONS["bell"],
            lazy("Wait for event"),
            lazy("Continue when the customer does something, or time out."),
            WaitForEventConfig,
            {"event_type": "purchase", "timeout": {"amount": 3, "unit": "days"}},
        ),
        KindInfo(
            NodeKind.BRANCH,
            FLOW,
            "#0e9384",
            _ICONS["branch"],
            lazy("Branch"),
            lazy("Send customers down the first rule they match, else the last port."),
            BranchConfig,
            {"rules": [{"id": "yes", "label": "", "conditions": []}]},
        ),
        KindInfo(
            NodeKind.SPLIT,
            FLOW,
            "#15b79e",
            _ICONS["split"],
            lazy("A/B split"),
            lazy("Split customers at random by weight; a holdout gets nothing."),
            SplitConfig,
            {
                "variants": [
                    {"id": "a", "label": "A", "weight": 50},
                    {"id": "b", "label": "B", "weight": 50},
                ]
            },
        ),
        KindInfo(
            NodeKind.SEND_COUPON,
            ACTIONS,
            "#e04f16",
            _ICONS["coupon"],
            lazy("Send coupon"),
            lazy("Issue a coupon from a template."),
            SendCouponConfig,
            {"coupon_template_id": "", "on_failure": "continue"},
        ),
        KindInfo(
            NodeKind.SEND_MESSAGE,
            ACTIONS,
            "#dc6803",
            _ICONS["message"],
            lazy("Send message"),
            lazy("SMS, WeCom, WeChat template message, email or webhook."),
            SendMessageConfig,
            {"channel": "sms", "content": "", "on_failure": "continue"},
        ),
        KindInfo(
            NodeKind.UPDATE_CUSTOMER,
            ACTIONS,
            "#ca8504",
            _ICONS["tag"],
            lazy("Update customer"),
            lazy("Add or remove tags, set attributes."),
            UpdateCustomerConfig,
            {"add_tags": [], "remove_tags": [], "set_attributes": {}},
        ),
        KindInfo(
            NodeKind.ASSIGN_GUIDE_TASK,
            PEOPLE,
            "#dd2590",
            _ICONS["guide"],
            lazy("Guide task"),
            lazy("Ask the customer's own sales guide to call, chat or invite."),
            AssignGuideTaskConfig,
            {
                "task_type": "call",
                "instructions": "",
                "assignee": "bound_guide",
                "due_in": {"amount": 24, "unit": "hours"},
                "outcomes": [],
            },
        ),
        KindInfo(
            NodeKind.EXIT,
            FLOW,
            "#475467",
            _ICONS["flag"],
            lazy("Exit"),
            lazy("The end of the path; mark it as goal reached if it is one."),
            ExitConfig,
            {"goal_reached": False},
        ),
    )
}


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

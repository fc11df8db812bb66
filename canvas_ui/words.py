"""Stored values as a person reads them: event types, task outcomes, message statuses.

Journeys store these as ids (``purchase``, ``interested``, ``sandbox``); a page shows the
words (msgids here, translated where rendered), and an id without a word as it is. The
summaries, run notes and the run view name them through these functions.
"""

from __future__ import annotations

import re

from canvas_ui.i18n import gettext, lazy

#: The event types the chain sends (services.events, the demo and the templates).
EVENT_LABELS: dict[str, str] = {
    "purchase": lazy("purchase"),
    "store_visit": lazy("store visit"),
    "browse": lazy("browsing"),
    "page_view": lazy("page view"),
    "add_to_cart": lazy("add to cart"),
    "coupon_redeemed": lazy("coupon redeemed"),
    "coupon_expiring": lazy("coupon expiring"),
}

#: A guide task's outcomes (the output ports of a guide-task step and the workbench's
#: buttons) and its expiry.
OUTCOME_LABELS: dict[str, str] = {
    "reached": lazy("Reached"),
    "not_reached": lazy("Not reached"),
    "interested": lazy("Interested"),
    "declined": lazy("Declined"),
    "completed": lazy("Done"),
    "visited": lazy("Visited the store"),
    "no_answer": lazy("No answer"),
    "expired": lazy("Expired"),
}

#: What became of a message (the outbox, a provider, a test run's sandbox).
MESSAGE_STATUS_LABELS: dict[str, str] = {
    "recorded": lazy("recorded in the outbox"),
    "sent": lazy("sent"),
    "delivered": lazy("delivered"),
    "queued": lazy("queued"),
    "failed": lazy("failed"),
    "sandbox": lazy("not sent (test run)"),
}


#: Why a run ended (engine.interpreter's exit reasons; a stop request's own reason as it is).
EXIT_REASONS: dict[str, str] = {
    "exit": lazy("reached an exit"),
    "goal": lazy("goal reached"),
    "no_path": lazy("no way on from a step"),
    "failure_exit": lazy("a step failed"),
    "visit_limit": lazy("a step was visited too often"),
    "stopped": lazy("stopped"),
}


def _word(labels: dict[str, str], value: str) -> str:
    return gettext(labels[value]) if value in labels else value


def event_name(event_type: str) -> str:
    """``purchase`` → "purchase" / "购买"; an event type without a word as it is."""
    return _word(EVENT_LABELS, event_type)


def outcome_name(outcome: str) -> str:
    """``interested`` → "Interested" / "有意向"; an outcome without a word as it is."""
    return _word(OUTCOME_LABELS, outcome)


def message_status(status: str) -> str:
    """``sandbox`` → "not sent (test run)" / "未真实发送（试运行）"."""
    return _word(MESSAGE_STATUS_LABELS, status)


#: A run stopped for a higher-priority journey of its group (db.crud.priority_groups).
_PREEMPTED = re.compile(
    r"^preempted by journey '(?P<journey>.*)' \(priority group (?P<group>.*): "
    r"priority (?P<high>\d+) over (?P<low>\d+)\)(?P<gone> \(its workflow had already ended\))?$"
)


def exit_reason(reason: str) -> str:
    """``no_path`` → "no way on from a step" / "某个步骤之后无路可走"; a preemption by a
    higher-priority journey in the reader's words."""
    preempted = _PREEMPTED.match(reason)
    if preempted:
        return (
            gettext(
                "stopped for the higher priority journey %(journey)s "
                "(priority group %(group)s: priority %(high)s over %(low)s)"
            )
            % preempted.groupdict()
        )
    return _word(EXIT_REASONS, reason)


def all_words() -> dict[str, str]:
    """Every stored value with its words, translated (the run view's value lookup)."""
    return {
        value: gettext(label)
        for labels in (EVENT_LABELS, OUTCOME_LABELS, MESSAGE_STATUS_LABELS)
        for value, label in labels.items()
    }

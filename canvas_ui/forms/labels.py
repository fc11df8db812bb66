"""Human words for config fields and choices (msgids; translated where rendered).

Keys are ``"Model.field"`` for a field of one model, or ``"field"`` for every model; choice
labels are keyed by value, and union variants by their class name.
"""

from __future__ import annotations

from canvas_ui.i18n import lazy
from engine.metrics import METRICS

#: (label, help) per field.
FIELDS: dict[str, tuple[str, str]] = {
    "label": (lazy("Step name"), lazy("Shown on the canvas. Leave empty to use the kind's name.")),
    "trigger": (lazy("Customers enter"), ""),
    "event_type": (
        lazy("Event"),
        lazy("The event type as your systems send it: pick one of the suggestions or type it."),
    ),
    "filters": (lazy("Only when"), lazy("Conditions on the event's properties.")),
    "PropertyFilter.field": (lazy("Property"), lazy("Dotted names reach inside: sku.category")),
    "op": (lazy("Comparison"), ""),
    "value": (lazy("Value"), lazy("Several values: separate with commas.")),
    "segment_id": (lazy("Segment"), lazy("A saved audience segment (see Segments).")),
    "member": (
        lazy("Customer is in this segment"),
        lazy("Evaluated with the segment's rules when the customer reaches the branch."),
    ),
    "schedule": (lazy("Schedule"), ""),
    "at_time": (lazy("At"), lazy("24-hour time, HH:MM.")),
    "weekday": (lazy("Weekday"), lazy("0 = Monday … 6 = Sunday (weekly schedule only).")),
    "reentry": (lazy("Re-entry"), ""),
    "policy": (lazy("May a customer enter again?"), ""),
    "cooldown_days": (lazy("Cool-down"), lazy("Days before the same customer may enter again.")),
    "until": (lazy("Wait"), ""),
    "duration": (lazy("How long"), ""),
    "WaitUntilContext.node_id": (
        lazy("Step"),
        lazy("An earlier coupon or guide-task step of this journey."),
    ),
    "WaitUntilContext.field": (lazy("Moment"), ""),
    "WaitUntilCustomerDate.field": (lazy("Date"), ""),
    "offset": (lazy("Offset"), ""),
    "direction": (lazy("Before or after"), ""),
    "at": (lazy("Date and time"), ""),
    "window": (lazy("Send window"), lazy("Move the end of the wait into daytime hours.")),
    "start": (lazy("From"), ""),
    "end": (lazy("To"), ""),
    "timezone": (lazy("Time zone of"), ""),
    "timeout": (lazy("Give up after"), lazy("Customers who don't act by then take 'timed out'.")),
    "WaitUntilDateConfig.source": (lazy("Date"), lazy("Which date of the customer's profile.")),
    "WaitUntilDateConfig.attribute": (
        lazy("Date attribute"),
        lazy("For a date attribute: its name, e.g. due_date or baby_birthday (YYYY-MM-DD)."),
    ),
    "WaitUntilDateConfig.mode": (
        lazy("When"),
        lazy(
            "Anniversary: every year (29 Feb falls on 28 Feb in other years). The date "
            "itself: once; if it has passed, the customer continues at once on 'passed'."
        ),
    ),
    "offset_days": (lazy("Days before or after"), lazy("0 = on the day itself; at most 365.")),
    "WaitUntilDateConfig.at_time": (
        lazy("At"),
        lazy("24-hour HH:MM in the customer's time zone (else their store's)."),
    ),
    "WaitUntilDateConfig.on_failure": (
        lazy("If the date is missing or not a date"),
        lazy("The customer has no such date, or it is not a date (e.g. 'soon')."),
    ),
    "rules": (lazy("Rules"), lazy("Checked top to bottom; the first match wins.")),
    "BranchRule.id": (lazy("Port id"), lazy("Letters, digits, - and _. Names the output port.")),
    "BranchRule.label": (lazy("Name"), ""),
    "match": (lazy("Match"), ""),
    "conditions": (lazy("Conditions"), ""),
    "AttributeCondition.field": (
        lazy("Profile field"),
        lazy("member_level, store_id, gender, or attrs.<name>"),
    ),
    "tag": (lazy("Tag"), ""),
    "present": (lazy("Customer has this tag"), ""),
    "classes": (lazy("RFM classes"), ""),
    "window_days": (lazy("In the last"), ""),
    "EventCountCondition.value": (lazy("Count"), ""),
    "MetricCondition.field": (lazy("Metric"), ""),
    "MetricCondition.value": (
        lazy("Number"),
        lazy(
            "Days, a count or an amount, as the metric counts. A customer without the metric "
            "(no cycle: fewer than two purchases; never contacted; no order) matches only "
            "“does not exist”."
        ),
    ),
    "channels": (
        lazy("Channels"),
        lazy("The last contact of any journey, or a guide's completed task, was one of these."),
    ),
    "stages": (lazy("Stages"), lazy("The customer is in one of these lifecycle stages.")),
    "ContextCondition.node_id": (lazy("Step"), lazy("An earlier step of this journey.")),
    "ContextCondition.field": (lazy("What"), ""),
    "variants": (lazy("Variants"), lazy("Weights should add up to 100.")),
    "SplitVariant.id": (lazy("Port id"), lazy("Letters, digits, - and _. Names the output port.")),
    "SplitVariant.label": (lazy("Name"), ""),
    "weight": (lazy("Weight"), ""),
    "holdout": (lazy("Holdout (control group, gets nothing)"), ""),
    "coupon_template_id": (lazy("Coupon template"), ""),
    "on_failure": (
        lazy("If it fails"),
        lazy("Out of stock, opted out, no guide: what happens next."),
    ),
    "channel": (lazy("Channel"), ""),
    "subject": (lazy("Subject"), lazy("Email and WeChat template messages only.")),
    "content": (
        lazy("Message"),
        lazy(
            "Placeholders take double braces: {{ customer.name }}, or a value of an earlier "
            "step such as {{ ctx.coupon.code }}. Pick one from “Insert a field”."
        ),
    ),
    "webhook_url": (lazy("Webhook URL"), lazy("Webhook channel only.")),
    "task_type": (lazy("Task"), ""),
    "title": (lazy("Title"), lazy("What the guide sees in the task list.")),
    "instructions": (
        lazy("Instructions for the guide"),
        lazy("Placeholders take double braces, e.g. {{ customer.name }}."),
    ),
    "assignee": (lazy("Assign to"), ""),
    "due_in": (lazy("Due within"), ""),
    "remind_before": (lazy("Remind before due"), ""),
    "expire_after": (
        lazy("Expires after overdue"),
        lazy("How long an overdue task stays open before the customer takes 'overdue'."),
    ),
    "outcomes": (
        lazy("Outcomes"),
        lazy("One per line. Each becomes an output port; empty: one 'done' port."),
    ),
    "add_tags": (lazy("Add tags"), lazy("One per line.")),
    "remove_tags": (lazy("Remove tags"), lazy("One per line.")),
    "set_attributes": (lazy("Set attributes"), lazy("One per line: name=value")),
    "goal_reached": (lazy("Counts as goal reached"), ""),
    "amount": (lazy("Amount"), ""),
    "unit": (lazy("Unit"), ""),
    "WaitPurchaseCycleConfig.percent": (
        lazy("Share of the customer's purchase cycle"),
        lazy(
            "Counted from the last purchase: 90% of a 45-day cycle ends about day 40. "
            "Already past: the customer continues at once."
        ),
    ),
    "fallback": (
        lazy("Fewer than two purchases: wait"),
        lazy("From the one purchase, or from reaching this step when there is none."),
    ),
    "WaitPurchaseCycleConfig.at_time": (
        lazy("At time of day"),
        lazy("Optional, 24-hour HH:MM in the customer's time zone."),
    ),
}

#: Lifecycle stages as marketers name them (识别期 …), for the panel and the segment builder.
STAGE_LABELS: dict[str, str] = {
    "identify": lazy("Identify (lifecycle stage)"),
    "develop": lazy("Develop (lifecycle stage)"),
    "stable": lazy("Stable (lifecycle stage)"),
    "decline": lazy("Decline (lifecycle stage)"),
}

#: engine.metrics labels, marked here so pybabel extracts them (translated at render;
#: tests/engine/test_metrics.py checks every metric's label is listed).
METRIC_LABELS = (
    lazy("Own purchase cycle (median days between purchases)"),
    lazy("Purchases (all time)"),
    lazy("Average order amount (all time)"),
    lazy("Days since the last contact"),
    lazy("Contacts in the last 7 days"),
    lazy("Contacts in the last 30 days"),
)

#: Labels of enum / literal values.
CHOICES: dict[str, str] = {
    "minutes": lazy("minutes"),
    "hours": lazy("hours"),
    "days": lazy("days"),
    "eq": lazy("equals"),
    "ne": lazy("does not equal"),
    "gt": lazy("greater than"),
    "gte": lazy("at least"),
    "lt": lazy("less than"),
    "lte": lazy("at most"),
    "in": lazy("is one of"),
    "not_in": lazy("is none of"),
    "contains": lazy("contains"),
    "exists": lazy("exists"),
    "not_exists": lazy("does not exist"),
    "never": lazy("Never"),
    "after_exit": lazy("After leaving the journey"),
    "cooldown": lazy("After a cool-down"),
    "once": lazy("Once, at publish"),
    "daily": lazy("Every day"),
    "weekly": lazy("Every week"),
    "expires_at": lazy("expires"),
    "issued_at": lazy("was issued"),
    "due_at": lazy("task is due"),
    "before": lazy("before"),
    "after": lazy("after"),
    "birthday": lazy("Birthday"),
    "birthday_month_start": lazy("Start of birthday month"),
    "customer": lazy("the customer"),
    "store": lazy("the store"),
    "all": lazy("all conditions"),
    "any": lazy("any condition"),
    "redeemed": lazy("coupon redeemed"),
    "outcome": lazy("task outcome"),
    "issued": lazy("issued"),
    "failed": lazy("failed"),
    "continue": lazy("Continue on the normal path"),
    "exit": lazy("End the customer's journey"),
    "port": lazy("Take the 'failed' port"),
    "sms": lazy("SMS"),
    "wecom": lazy("WeCom"),
    "wechat_template": lazy("WeChat template"),
    "wechat_subscribe": lazy("WeChat subscribe message"),
    "email": lazy("Email"),
    "webhook": lazy("Webhook"),
    "call": lazy("Phone call"),
    "wecom_chat": lazy("WeCom chat"),
    "store_invite": lazy("Store invitation"),
    "bound_guide": lazy("The customer's own guide (else the store manager)"),
    "store_manager": lazy("The store manager"),
    # the customer metrics by their registry labels (METRIC_LABELS above)
    **{m.name: m.label for m in METRICS.values()},
    "guide_task": lazy("A guide's completed task"),
    **STAGE_LABELS,
    "member_since": lazy("Joining day (member since)"),
    "attribute": lazy("A date attribute"),
    "anniversary": lazy("Its next anniversary (every year)"),
    "date": lazy("The date itself (once)"),
}

#: Labels of union variants (by class name).
VARIANTS: dict[str, str] = {
    "EventTrigger": lazy("When an event happens"),
    "ManualTrigger": lazy("Enrolled by hand or via the API"),
    "SegmentTrigger": lazy("From a segment"),
    "WaitDuration": lazy("For a fixed time"),
    "WaitUntilContext": lazy("Until a moment of an earlier step"),
    "WaitUntilCustomerDate": lazy("Until the customer's birthday"),
    "WaitUntilAbsolute": lazy("Until a date"),
    "AttributeCondition": lazy("Profile field"),
    "TagCondition": lazy("Tag"),
    "RfmCondition": lazy("RFM class"),
    "EventCountCondition": lazy("Event count"),
    "ContextCondition": lazy("Earlier step"),
    "SegmentCondition": lazy("Segment membership"),
    "MetricCondition": lazy("Customer metric"),
    "LastContactChannelCondition": lazy("Last contacted by"),
    "LifecycleStageCondition": lazy("Lifecycle stage"),
}

#: The name of one item of a list field, numbered: "Condition 1", not "Conditions 1".
ITEMS: dict[str, str] = {
    "filters": lazy("Condition %(n)d"),
    "conditions": lazy("Condition %(n)d"),
    "rules": lazy("Rule %(n)d"),
    "variants": lazy("Variant %(n)d"),
}

#: The singular of a unit, for an amount of 1 ("1 day", not "1 days"); keyed like CHOICES.
ONE: dict[str, str] = {"days": lazy("day"), "hours": lazy("hour"), "minutes": lazy("minute")}

#: Units shown after number inputs.
UNITS: dict[str, str] = {
    "cooldown_days": lazy("days"),
    "window_days": lazy("days"),
    "offset_days": lazy("days"),
    "weight": "%",
    "percent": "%",
}

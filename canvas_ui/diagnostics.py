"""Compiler diagnostics in the marketer's language.

The compiler's messages are precise English for engineers and logs. Every diagnostic the UI
shows is instead, per code, a sentence in the UI language (English or Chinese alike) naming
the steps by their labels, with the specifics the compiler gives as ``params`` (the output,
the field and what is wrong with it, the placeholder and its fix …), and a translated hint.
The compiler's own words stay in ``detail`` (the tooltip of a listed problem). Only a code
this module does not know falls back to them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from canvas_ui.i18n import current_locale, gettext, lazy
from engine.metrics import METRICS

#: code → (sentence with ``%(steps)s``, hint)
MESSAGES: dict[str, tuple[str, str]] = {
    "INVALID_DOCUMENT": (
        lazy("The journey file is damaged or incomplete."),
        lazy("Export it, fix the listed field, and import it again."),
    ),
    "TOO_LARGE": (lazy("The journey is too large to save."), lazy("Split it into smaller ones.")),
    "TOO_MANY_NODES": (
        lazy("The journey has too many steps."),
        lazy("Split it into smaller journeys."),
    ),
    "UNKNOWN_KIND": (
        lazy("%(steps)s is not a known kind of step."),
        lazy("Delete it and add the step again from the palette."),
    ),
    "INVALID_CONFIG": (
        lazy("%(steps)s is not set up completely."),
        lazy("Click the step and fill in the highlighted fields."),
    ),
    "INVALID_EDGE": (
        lazy("A connection of %(steps)s is broken."),
        lazy("Delete the connection and draw it again."),
    ),
    "DUPLICATE_NODE_ID": (
        lazy("Two steps share the id of %(steps)s."),
        lazy("Delete one copy and add it again."),
    ),
    "DUPLICATE_EDGE_ID": (
        lazy("Two connections share an id."),
        lazy("Delete one and draw it again."),
    ),
    "NO_ENTRY": (
        lazy("The journey has no entry step."),
        lazy("Drag an Entry step onto the canvas and connect it."),
    ),
    "MULTIPLE_ENTRIES": (
        lazy("The journey has more than one entry: %(steps)s."),
        lazy("Keep one entry and delete the others."),
    ),
    "EDGE_UNKNOWN_NODE": (
        lazy("A connection of %(steps)s points to a step that no longer exists."),
        lazy("Delete the connection."),
    ),
    "EDGE_UNKNOWN_PORT": (
        lazy("A connection leaves %(steps)s from an output it no longer has."),
        lazy("Delete the connection and draw it from one of the step's outputs."),
    ),
    "EDGE_INTO_ENTRY": (
        lazy("A connection goes into the entry %(steps)s."),
        lazy("Entries cannot have incoming connections; delete it."),
    ),
    "DUPLICATE_PORT_EDGE": (
        lazy("An output of %(steps)s has more than one connection."),
        lazy("Each output leads to one next step; delete the extra connection."),
    ),
    "MISSING_EDGE": (
        lazy("An output of %(steps)s is not connected: customers would have nowhere to go."),
        lazy("Connect it to the next step, or to an Exit."),
    ),
    "UNREACHABLE_NODE": (
        lazy("No customer can reach %(steps)s."),
        lazy("Connect an earlier step to it, or delete it."),
    ),
    "CYCLE_WITHOUT_WAIT": (
        lazy("The loop through %(steps)s has no wait: customers would spin in it."),
        lazy("Put a Wait or Wait for event step into the loop."),
    ),
    "LOOP_WITHOUT_EXIT": (
        lazy("The loop through %(steps)s never lets customers out."),
        lazy("Add a branch out of the loop towards an Exit."),
    ),
    "INVALID_WAIT": (
        lazy("The wait of %(steps)s cannot work as set."),
        lazy("Check its time, date or the step it waits for."),
    ),
    "INVALID_WINDOW": (
        lazy("The send window of %(steps)s is not a valid time range."),
        lazy("Use HH:MM times, with the start before the end."),
    ),
    "EMPTY_RULES": (
        lazy("The branch %(steps)s has no rules."),
        lazy("Add a rule, or replace the branch with a direct connection."),
    ),
    "EMPTY_RULE": (
        lazy("A rule of %(steps)s has no conditions."),
        lazy("Add a condition to the rule, or remove the rule."),
    ),
    "DUPLICATE_PORT_ID": (
        lazy("Two outputs of %(steps)s have the same id."),
        lazy("Give each rule or variant its own port id."),
    ),
    "RESERVED_PORT_ID": (
        lazy("An output of %(steps)s uses a reserved id."),
        lazy("Rename the rule or variant's port id."),
    ),
    "SPLIT_WEIGHTS": (
        lazy("The weights of %(steps)s do not add up to 100."),
        lazy("Adjust the variants' weights."),
    ),
    "UNKNOWN_COUPON_TEMPLATE": (
        lazy("%(steps)s uses a coupon template that does not exist."),
        lazy("Choose one of the coupon templates in the step's settings."),
    ),
    "UNKNOWN_LIFECYCLE_STAGE": (
        lazy("A rule of %(steps)s uses an unknown lifecycle stage."),
        lazy("Pick the stages from the list in the step's settings."),
    ),
    "INVALID_CONDITION": (
        lazy("A condition of %(steps)s cannot be checked as set."),
        lazy("Click the step and complete the condition."),
    ),
    "METRIC_AS_ATTRIBUTE": (
        lazy("A rule of %(steps)s reads a customer attribute, not the computed metric."),
        lazy("Use the condition “Purchase cycle” or “Lifecycle stage” instead."),
    ),
    "UNKNOWN_RFM_CLASS": (
        lazy("%(steps)s uses an unknown RFM class."),
        lazy("Pick the classes from the list in the step's settings."),
    ),
    "TEMPLATE_SYNTAX": (
        lazy("The message text of %(steps)s has a broken placeholder."),
        lazy("Placeholders look like {{ customer.name }}; check the braces."),
    ),
    "SINGLE_BRACE_PLACEHOLDER": (
        lazy(
            "In the “%(field)s” of %(steps)s, %(placeholder)s is not a placeholder: "
            "customers would receive it as written."
        ),
        lazy("Write %(fix)s instead: placeholders take double braces."),
    ),
    "ACTION_WITHOUT_WINDOW": (
        lazy(
            "%(steps)s can reach customers at any hour (even at 03:00): nothing before it "
            "sets a send time, and there are no quiet hours."
        ),
        lazy(
            "Give the step a send window, put a wait with a send window before it, or set "
            "quiet hours on the Contact policy page."
        ),
    ),
    "CONTEXT_NOT_UPSTREAM": (
        lazy("%(steps)s refers to a step that does not come before it."),
        lazy("Choose a coupon or guide-task step earlier on the path."),
    ),
    "CONTEXT_WRONG_KIND": (
        lazy("%(steps)s refers to a step of the wrong kind."),
        lazy("Choose a coupon or guide-task step."),
    ),
    "CONTEXT_NOT_ON_EVERY_PATH": (
        lazy("Some customers reach %(steps)s without passing the step it refers to."),
        lazy("Refer to a step every path goes through, or move this step."),
    ),
    "WEBHOOK_URL_REQUIRED": (
        lazy("%(steps)s sends to a webhook but has no URL."),
        lazy("Fill in the webhook URL in the step's settings."),
    ),
    "WECHAT_SUBSCRIBE_CONTENT": (
        lazy("%(steps)s sends a WeChat subscribe message whose content does not fit a template."),
        lazy(
            'Write {"template_id": "…", "data": {"thing1": "…"}} with the subscribe '
            "template's fields, or plain text for the default template."
        ),
    ),
    "INVALID_FILTER": (
        lazy("A condition of %(steps)s cannot be evaluated."),
        lazy("Check the property, comparison and value."),
    ),
    "INVALID_TIMEZONE": (
        lazy("The journey's time zone is not known."),
        lazy("Use a zone such as Asia/Shanghai."),
    ),
    "INVALID_GOAL_WINDOW": (
        lazy("The goal's conversion window must be more than 0 and at most 180 days."),
        lazy("Set a window such as 14 days in the goal settings."),
    ),
    "UNKNOWN_SEGMENT": (
        lazy("The entry %(steps)s uses a segment that does not exist."),
        lazy("Choose a saved segment in the entry's settings."),
    ),
    "EMPTY_AUDIENCE": (
        lazy("The segment of %(steps)s has no customers right now."),
        lazy("Check the segment, or publish anyway if it will fill up."),
    ),
    "ENROLLMENT_NOT_STARTED": (
        lazy("Published, but customers of %(steps)s could not be entered yet."),
        lazy("Start the enrollment from the journey's enrollment page."),
    ),
}


#: (code, variant) → (sentence, hint): the same finding with its specifics (see ``_variant``).
VARIANTS: dict[tuple[str, str], tuple[str, str]] = {
    ("INVALID_CONFIG", "fields"): (
        lazy("%(steps)s is not set up completely: %(fields)s."),
        lazy("Click the step and fill in the highlighted fields."),
    ),
    ("MISSING_EDGE", "port"): (
        lazy(
            "The output “%(port)s” of %(steps)s is not connected: customers would have "
            "nowhere to go."
        ),
        lazy("Connect it to the next step, or to an Exit."),
    ),
    ("DUPLICATE_PORT_EDGE", "port"): (
        lazy("The output “%(port)s” of %(steps)s has more than one connection."),
        lazy("Each output leads to one next step; delete the extra connection."),
    ),
    ("EDGE_UNKNOWN_PORT", "port"): (
        lazy("A connection leaves %(steps)s from the output “%(port)s”, which it no longer has."),
        lazy("Delete the connection and draw it from one of the step's outputs."),
    ),
    ("UNKNOWN_COUPON_TEMPLATE", "template"): (
        lazy("%(steps)s issues the coupon template “%(template)s”, which does not exist."),
        lazy("Choose one of the coupon templates in the step's settings."),
    ),
    ("UNKNOWN_COUPON_TEMPLATE", "suggest"): (
        lazy("%(steps)s issues the coupon template “%(template)s”, which does not exist."),
        lazy("Did you mean %(suggestions)s? Choose it in the step's settings."),
    ),
    ("TEMPLATE_SYNTAX", "field"): (
        lazy("The “%(field)s” of %(steps)s has a broken placeholder."),
        lazy("Placeholders look like {{ customer.name }}; check the braces."),
    ),
    ("TEMPLATE_SYNTAX", "unknown_fields"): (
        lazy(
            "The “%(field)s” of %(steps)s uses customer fields that do not exist "
            "(%(unknown_fields)s): they would be empty."
        ),
        lazy("Pick the field from “Insert a field” in the step's settings."),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "json"): (
        lazy("The message of %(steps)s starts with “{” but is not valid JSON."),
        lazy("Check the quotes, commas and braces, or write plain text without a leading “{”."),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "data"): (
        lazy("The subscribe message of %(steps)s has no template fields (“data”)."),
        lazy('Add "data": {"thing1": "…", "time2": "…"} with the subscribe template\'s fields.'),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "key"): (
        lazy("“%(key)s” in the subscribe message of %(steps)s is not a template field."),
        lazy("Use the field names of the subscribe template, such as thing1 or time2."),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "too_long"): (
        lazy(
            "The field “%(key)s” of the subscribe message of %(steps)s is longer than "
            "%(limit)s characters: WeChat would refuse it."
        ),
        lazy("Shorten the text of “%(key)s”."),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "plain_long"): (
        lazy(
            "The text of %(steps)s fills one field of the default subscribe template, which "
            "usually takes at most %(limit)s characters: WeChat may refuse it."
        ),
        lazy("Shorten the text, or write the template's fields as JSON."),
    ),
    ("WECHAT_SUBSCRIBE_CONTENT", "miniprogram"): (
        lazy("The mini-program jump of the subscribe message of %(steps)s has no appid."),
        lazy('Write "miniprogram": {"appid": "…", "pagepath": "…"}, or leave it out.'),
    ),
    ("SINGLE_BRACE_PLACEHOLDER", "no_fix"): (
        lazy(
            "In the “%(field)s” of %(steps)s, %(placeholder)s is not a placeholder: "
            "customers would receive it as written."
        ),
        lazy("Placeholders take double braces, e.g. {{ customer.name }}."),
    ),
    ("INVALID_WAIT", "zero"): (
        lazy("In %(steps)s, “%(field)s” must be at least 1 minute."),
        lazy("Set a longer time in the step's settings."),
    ),
    ("INVALID_WAIT", "too_long"): (
        lazy("In %(steps)s, “%(field)s” is longer than 90 days."),
        lazy("Waits can be at most 90 days; add a second Wait for longer pauses."),
    ),
    ("INVALID_WAIT", "cap_wait_too_long"): (
        lazy("In %(steps)s, “%(field)s” is longer than 30 days."),
        lazy("Wait at most 30 days for a frequency cap, or let the step skip or take 'capped'."),
    ),
    ("EMPTY_RULE", "rule"): (
        lazy("The rule “%(rule)s” of %(steps)s has no conditions."),
        lazy("Add a condition to the rule, or remove the rule."),
    ),
    ("UNKNOWN_LIFECYCLE_STAGE", "stage"): (
        lazy("The rule “%(rule)s” of %(steps)s uses the unknown lifecycle stage “%(stage)s”."),
        lazy("Pick the stages from the list: Identify, Develop, Stable, Decline."),
    ),
    ("INVALID_CONDITION", "rule"): (
        lazy("The rule “%(rule)s” of %(steps)s compares “%(metric)s” with no number."),
        lazy("Enter the number to compare with, or choose “exists”."),
    ),
    ("METRIC_AS_ATTRIBUTE", "rule"): (
        lazy(
            "The rule “%(rule)s” of %(steps)s reads “%(field)s” from the customer's own "
            "attributes, not the computed value."
        ),
        lazy("Use the condition “Purchase cycle” or “Lifecycle stage” instead."),
    ),
    ("UNKNOWN_RFM_CLASS", "rfm_class"): (
        lazy("The rule “%(rule)s” of %(steps)s uses the unknown RFM class “%(rfm_class)s”."),
        lazy("Pick the classes from the list in the step's settings."),
    ),
    ("SPLIT_WEIGHTS", "total"): (
        lazy("The weights of %(steps)s add up to %(total)s, not 100."),
        lazy("Adjust the variants' weights."),
    ),
    ("SPLIT_WEIGHTS", "too_few"): (
        lazy("%(steps)s needs at least two variants."),
        lazy("Add a variant, or replace the split with a direct connection."),
    ),
    ("UNKNOWN_SEGMENT", "segment"): (
        lazy("%(steps)s uses the segment “%(segment)s”, which does not exist."),
        lazy("Choose a saved segment in the step's settings."),
    ),
    ("UNKNOWN_SEGMENT", "suggest"): (
        lazy("%(steps)s uses the segment “%(segment)s”, which does not exist."),
        lazy("Did you mean %(suggestions)s? Choose it in the step's settings."),
    ),
    ("INVALID_FILTER", "not_a_list"): (
        lazy("A condition on “%(property)s” of %(steps)s needs several values."),
        lazy("Separate the values with commas."),
    ),
    ("INVALID_FILTER", "unknown_stage"): (
        lazy(
            "“%(value)s” in the condition on “%(property)s” of %(steps)s is not a lifecycle stage."
        ),
        lazy("Use identify, develop, stable or decline (识别期, 发展期, 稳定期, 衰退期)."),
    ),
    ("INVALID_FILTER", "no_value"): (
        lazy("A condition on “%(property)s” of %(steps)s has no value to compare with."),
        lazy("Fill in the value, or choose “exists”."),
    ),
}


def _steps(node_ids: list[str], labels: Mapping[str, str]) -> str:
    names = [f"“{labels.get(i) or i}”" for i in node_ids[:3]]
    if len(node_ids) > 3:
        names.append("…")
    return gettext(", ").join(names) if names else gettext("a step")


def localize(
    diag: Mapping[str, Any],
    labels: Mapping[str, str],
    *,
    document: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``diag`` (a ``Diagnostic.to_dict()``) with ``message``/``hint`` as sentences in the UI
    language; ``labels``: the steps' display names (:func:`node_labels`); ``document``: the
    journey, for the names of outputs. The compiler's own text is kept in ``detail``."""
    out = dict(diag)
    out["detail"] = diag.get("message", "")
    code = str(diag.get("code"))
    known = MESSAGES.get(code)
    if known is None:
        return out
    node_ids = [str(i) for i in diag.get("node_ids") or []]
    values = _values(diag, node_ids, document)
    sentence, hint = VARIANTS.get((code, _variant(code, values) or ""), known)
    values["steps"] = _steps(node_ids, labels)
    out["message"] = gettext(sentence) % values
    out["hint"] = gettext(hint) % values
    return out


def _variant(code: str, values: Mapping[str, Any]) -> str | None:
    """Which wording of ``code`` the specifics in ``values`` allow."""
    if code == "INVALID_CONFIG":
        return "fields" if values.get("fields") else None
    if code in ("MISSING_EDGE", "DUPLICATE_PORT_EDGE"):
        return "port" if values.get("several_ports") else None
    if code == "EDGE_UNKNOWN_PORT":
        return "port" if values.get("port") else None
    if code == "UNKNOWN_COUPON_TEMPLATE" and values.get("template"):
        return "suggest" if values.get("suggestions") else "template"
    if code == "TEMPLATE_SYNTAX" and values.get("field"):
        return "unknown_fields" if values.get("unknown_fields") else "field"
    if code == "SINGLE_BRACE_PLACEHOLDER":
        return None if values.get("fix") else "no_fix"
    if code == "UNKNOWN_SEGMENT" and values.get("suggestions") and not values.get("rule"):
        return "suggest"
    if code in (
        "INVALID_WAIT",
        "INVALID_FILTER",
        "SPLIT_WEIGHTS",
        "WECHAT_SUBSCRIBE_CONTENT",
    ) and values.get("problem"):
        return str(values["problem"])
    if code == "SPLIT_WEIGHTS" and "total" in values:
        return "total"
    for key in ("rfm_class", "stage", "rule", "segment"):
        if values.get(key):
            return key
    return None


def _values(
    diag: Mapping[str, Any], node_ids: list[str], document: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The diagnostic's specifics, worded for a sentence: config fields as the panel labels
    them, outputs by their labels, lists joined."""
    from canvas_ui.forms import labels as form_labels
    from canvas_ui.summaries import port_label

    params = dict(diag.get("params") or {})
    values: dict[str, Any] = {k: v for k, v in params.items() if isinstance(v, str | int | float)}
    name = params.get("field")
    if isinstance(name, str) and name in form_labels.FIELDS:
        values["field"] = gettext(form_labels.FIELDS[name][0])
    if isinstance(name, str) and name in METRICS:
        values["metric"] = gettext(METRICS[name].label)
    node = _node(document, node_ids[0]) if node_ids else None
    port = params.get("port")
    if isinstance(port, str) and node is not None:
        values["port"] = port_label(node, port)
        values["several_ports"] = _several_ports(node)
    for key in ("suggestions", "unknown_fields"):
        if isinstance(params.get(key), list) and params[key]:
            values[key] = gettext(", ").join(f"“{v}”" for v in params[key])
    if isinstance(params.get("errors"), list):
        values["fields"] = _config_errors(str(params.get("kind", "")), params["errors"])
    return values


def _node(document: Mapping[str, Any] | None, node_id: str) -> Mapping[str, Any] | None:
    nodes = document.get("nodes") if document is not None else None
    for n in nodes if isinstance(nodes, list) else []:
        if isinstance(n, dict) and n.get("id") == node_id:
            return n
    return None


def _several_ports(node: Mapping[str, Any]) -> bool:
    from canvas_ui.summaries import SummaryContext, node_meta

    return len(node_meta(node, SummaryContext())["ports"]) > 1


def _config_errors(kind: str, errors: list[Any]) -> str:
    """``Coupon template: required; …`` for the errors of a node's config."""
    from canvas_ui.forms.errors import message, spec_at
    from canvas_ui.forms.render import field_label
    from canvas_ui.forms.spec import model_spec
    from canvas_ui.kinds import kind_info

    info = kind_info(kind)
    parts: list[str] = []
    for error in errors:
        if not isinstance(error, dict):
            continue
        loc = tuple(p for p in error.get("loc") or () if isinstance(p, str | int))
        label = ""
        if loc[:1] == ("label",):
            label = gettext("Step name")
        elif loc[:1] == ("config",) and info is not None:
            spec = spec_at(model_spec(info.config_model), loc[1:])
            label = field_label(spec) if spec is not None else ""
        if not label:
            continue
        problem = message(dict(error)).rstrip(".。")
        if current_locale() == "en" and problem[:1].isupper() and problem[1:2].islower():
            problem = problem[:1].lower() + problem[1:]
        part = gettext("%(field)s: %(problem)s") % {"field": label, "problem": problem}
        if part not in parts:
            parts.append(part)
    return gettext("; ").join(parts)


def node_labels(document: Mapping[str, Any]) -> dict[str, str]:
    """Display names of a document's nodes (label, else the kind's title)."""
    from canvas_ui.kinds import kind_title

    nodes = document.get("nodes")
    return {
        str(n.get("id")): str(n.get("label") or kind_title(str(n.get("kind", ""))))
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict)
    }


def problem_sentences(diagnostics: Iterable[Any], document: Mapping[str, Any]) -> str:
    """The errors among ``diagnostics`` (compiler ``Diagnostic``s) as one text in the UI
    language, e.g. for a test run refused because the draft does not compile."""
    labels = node_labels(document)
    return " ".join(
        localize(d.to_dict(), labels, document=document)["message"]
        for d in diagnostics
        if d.severity == "error"
    )

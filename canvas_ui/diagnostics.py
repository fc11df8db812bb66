"""Compiler diagnostics in the marketer's language.

The compiler's messages are precise English for engineers and logs. The canvas shows, per
diagnostic code, a translated sentence naming the steps by their labels, plus a translated
hint; the original message stays in ``detail`` (shown small, and as the main text in
English). Unknown codes fall back to the compiler's own words.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canvas_ui.i18n import current_locale, gettext, lazy

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
    "INVALID_FILTER": (
        lazy("A condition of %(steps)s cannot be evaluated."),
        lazy("Check the property, comparison and value."),
    ),
    "INVALID_TIMEZONE": (
        lazy("The journey's time zone is not known."),
        lazy("Use a zone such as Asia/Shanghai."),
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


def _steps(node_ids: list[str], labels: Mapping[str, str]) -> str:
    names = [f"“{labels.get(i) or i}”" for i in node_ids[:3]]
    if len(node_ids) > 3:
        names.append("…")
    return gettext(", ").join(names) if names else gettext("a step")


def localize(diag: Mapping[str, Any], labels: Mapping[str, str]) -> dict[str, Any]:
    """``diag`` (a ``Diagnostic.to_dict()``) with ``message``/``hint`` in the UI language.

    The compiler's own text is kept in ``detail``.
    """
    out = dict(diag)
    out["detail"] = diag.get("message", "")
    known = MESSAGES.get(str(diag.get("code")))
    if known is None or current_locale() == "en":
        return out
    sentence, hint = known
    values = _params(diag)
    values["steps"] = _steps(list(diag.get("node_ids") or []), labels)
    if diag.get("code") == "SINGLE_BRACE_PLACEHOLDER" and not values.get("fix"):
        hint = NO_FIX_HINT
    out["message"] = gettext(sentence) % values
    out["hint"] = gettext(hint) % values
    return out


#: The hint of a single-brace placeholder the compiler could not guess the meaning of.
NO_FIX_HINT = lazy("Placeholders take double braces, e.g. {{ customer.name }}.")


def _params(diag: Mapping[str, Any]) -> dict[str, Any]:
    """The diagnostic's specifics, ready for a sentence (field names as the panel shows them)."""
    from canvas_ui.forms import labels as form_labels

    params = dict(diag.get("params") or {})
    name = params.get("field")
    if isinstance(name, str) and name in form_labels.FIELDS:
        params["field"] = gettext(form_labels.FIELDS[name][0])
    return params


def node_labels(document: Mapping[str, Any]) -> dict[str, str]:
    """Display names of a document's nodes (label, else the kind's title)."""
    from canvas_ui.kinds import kind_title

    nodes = document.get("nodes")
    return {
        str(n.get("id")): str(n.get("label") or kind_title(str(n.get("kind", ""))))
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict)
    }

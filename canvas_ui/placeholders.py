"""The placeholder picker of message and task texts: the fields a template can really use.

Templates are Jinja2 over ``customer`` (what ``activities.rendering.customer_variables``
provides) and ``ctx`` (what earlier steps recorded: each kind's ``SPEC.shown_fields``, labelled
by its canvas entry's ``shown_labels``). The picker offers the customer's fields and, per step
*upstream* of the edited one (by label), that step's recorded values: a step further down the
path has not run yet when this one renders, so its values would be empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import kind_info
from engine.compiler.templates import CUSTOMER_FIELDS, context_expression
from engine.kinds import KINDS

#: Config fields that are templates ("Model.field").
TEMPLATE_FIELDS = frozenset(
    {
        "SendMessageConfig.content",
        "SendMessageConfig.subject",
        "AssignGuideTaskConfig.title",
        "AssignGuideTaskConfig.instructions",
    }
)

#: Customer fields in the picker, in its order (lists and maps are left out: they do not
#: read well inside a sentence).
CUSTOMER_LABELS: dict[str, str] = {
    "name": lazy("Name"),
    "surname": lazy("Surname (first character of the name)"),
    "member_level_name": lazy("Member level"),
    "store_name": lazy("Store"),
    "city": lazy("Store city"),
    "guide_name": lazy("Their guide"),
    "phone_tail": lazy("Last 4 digits of the phone number"),
    "birthday": lazy("Birthday"),
    "gender": lazy("Gender"),
    "rfm_class": lazy("RFM class"),
    "member_level": lazy("Member level code"),
    "id": lazy("Customer id"),
}


@dataclass(frozen=True)
class PlaceholderGroup:
    """One ``<optgroup>``: its label and ``(placeholder, label)`` items."""

    label: str
    items: list[tuple[str, str]] = field(default_factory=list)


def upstream_ids(document: Mapping[str, Any], node_id: str) -> list[str]:
    """Nodes with a path to ``node_id``, nearest first (breadth-first against the edges)."""
    edges = document.get("edges")
    into: dict[str, list[str]] = {}
    for e in edges if isinstance(edges, list) else []:
        if isinstance(e, dict) and isinstance(e.get("source"), str):
            into.setdefault(str(e.get("target")), []).append(e["source"])
    seen = {node_id}
    order: list[str] = []
    queue = deque([node_id])
    while queue:
        for source in into.get(queue.popleft(), []):
            if source not in seen:
                seen.add(source)
                order.append(source)
                queue.append(source)
    return order


def _placeholder(expression: str) -> str:
    return "{{ " + expression + " }}"


def placeholder_groups(
    document: Mapping[str, Any], node_id: str, labels: Mapping[str, str]
) -> list[PlaceholderGroup]:
    """The picker's groups for the step ``node_id``: the customer, then each upstream step
    that records something (``labels``: display names of the document's nodes)."""
    customer = PlaceholderGroup(
        gettext("Customer"),
        [
            (_placeholder(f"customer.{name}"), gettext(label))
            for name, label in CUSTOMER_LABELS.items()
            if name in CUSTOMER_FIELDS
        ],
    )
    nodes = document.get("nodes")
    kinds = {
        str(n.get("id")): str(n.get("kind"))
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict)
    }
    groups = [customer]
    for upstream in upstream_ids(document, node_id):
        info = kind_info(kinds.get(upstream, ""))
        if info is None:
            continue
        items = [
            # moments are recorded as ISO text: shown as their date
            (
                _placeholder(context_expression(upstream, f.name) + ("[:10]" if f.moment else "")),
                gettext(info.shown_labels[f.name]),
            )
            for f in KINDS[info.kind].shown_fields
            if f.name in info.shown_labels  # the rest (ids) are recorded, not offered
        ]
        if items:
            title = gettext("Step “%(step)s”") % {"step": labels.get(upstream) or upstream}
            groups.append(PlaceholderGroup(title, items))
    return groups

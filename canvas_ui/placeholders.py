"""The placeholder picker of message and task texts: the fields a template can really use.

Templates are Jinja2 over ``customer`` (what ``activities.rendering.customer_variables``
provides) and ``ctx`` (what earlier steps recorded, ``engine.compiler.templates
.CONTEXT_FIELDS``). The picker offers the customer's fields and, per step *upstream* of the
edited one (by label), that step's recorded values: a step further down the path has not
run yet when this one renders, so its values would be empty.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canvas_ui.i18n import gettext, lazy
from engine.compiler.templates import CONTEXT_FIELDS, CUSTOMER_FIELDS, context_expression

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

#: (field, label, how many characters to keep: dates are shown as YYYY-MM-DD) per node kind.
CONTEXT_LABELS: dict[str, tuple[tuple[str, str, int | None], ...]] = {
    "send_coupon": (
        ("code", lazy("Coupon code"), None),
        ("face_value", lazy("Coupon value (¥)"), None),
        ("expires_at", lazy("Coupon expiry date"), 10),
        ("issued_at", lazy("Coupon issue date"), 10),
    ),
    "assign_guide_task": (
        ("due_at", lazy("Task due date"), 10),
        ("outcome", lazy("Task outcome"), None),
    ),
    "wait_for_event": (
        ("type", lazy("Event name"), None),
        ("occurred_at", lazy("Event date"), 10),
    ),
    "award_points": (
        ("points", lazy("Points awarded"), None),
        ("balance", lazy("Points balance after the award"), None),
        ("coupon_codes", lazy("Benefit pack coupon codes"), None),
        ("points_expire_at", lazy("Points expiry date"), 10),
    ),
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
        fields = CONTEXT_LABELS.get(kinds.get(upstream, ""))
        if not fields:
            continue
        items = []
        for name, label, keep in fields:
            if name not in CONTEXT_FIELDS[kinds[upstream]]:
                continue
            expression = context_expression(upstream, name) + (f"[:{keep}]" if keep else "")
            items.append((_placeholder(expression), gettext(label)))
        title = gettext("Step “%(step)s”") % {"step": labels.get(upstream) or upstream}
        groups.append(PlaceholderGroup(title, items))
    return groups

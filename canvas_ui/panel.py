"""The property panel: a node's config form, its validation, and add/remove of list items.

Routes call :func:`panel_view` to show a node and :func:`submit_panel` for a posted form;
both return a :class:`PanelView` for the ``panel`` block of ``editor.html``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from canvas_ui.forms.errors import field_errors
from canvas_ui.forms.parse import apply_action, collect
from canvas_ui.forms.render import ChoiceData, FormField, build_fields
from canvas_ui.forms.spec import model_spec
from canvas_ui.i18n import gettext
from canvas_ui.kinds import KindInfo, kind_info
from canvas_ui.summaries import SummaryContext, node_meta

PREFIX = "config"
LABEL_MAX = 120


@dataclass
class PanelView:
    """What the panel block renders."""

    node_id: str
    kind: str
    info: KindInfo
    label: str
    fields: list[FormField]
    label_error: str = ""
    saved: bool = False
    node: dict[str, Any] | None = None  # the updated node, after a successful save
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """Whether anything in the form failed validation."""
        return bool(self.label_error) or any(f.has_error for f in self.fields)


def find_node(document: Mapping[str, Any], node_id: str) -> dict[str, Any] | None:
    """The raw node ``node_id`` of ``document``."""
    nodes = document.get("nodes")
    if not isinstance(nodes, list):
        return None
    return next((n for n in nodes if isinstance(n, dict) and n.get("id") == node_id), None)


def panel_view(
    *, node: Mapping[str, Any], info: KindInfo, choices: ChoiceData, ctx: SummaryContext
) -> PanelView:
    """The panel of ``node`` as it is (no errors shown yet)."""
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    return PanelView(
        node_id=str(node["id"]),
        kind=info.kind.value,
        info=info,
        label=str(node.get("label") or ""),
        fields=build_fields(model_spec(info.config_model), config, {}, PREFIX, choices),
        meta=node_meta(node, ctx),
    )


def new_list_item(path: str, existing: int) -> Any:
    """The starting value of an item added to the list at ``path`` (config-relative)."""
    leaf = path.rsplit(".", 1)[-1]
    n = existing + 1
    if leaf == "rules":
        return {"id": f"rule{n}", "label": "", "match": "all", "conditions": []}
    if leaf == "variants":
        return {
            "id": chr(ord("a") + existing) if existing < 26 else f"v{n}",
            "label": "",
            "weight": 0,
        }
    if leaf == "conditions":
        return {"type": "attribute", "field": "", "op": "eq", "value": None}
    if leaf == "filters":
        return {"field": "", "op": "eq", "value": None}
    return {}


def submit_panel(
    *,
    node_id: str,
    kind: str,
    form: Mapping[str, Sequence[str]],
    choices: ChoiceData,
    ctx: SummaryContext,
    position: Mapping[str, Any] | None = None,
) -> tuple[PanelView, int]:
    """Handle a posted panel form; returns the view and the HTTP status (200 or 422).

    With ``_action`` (add/remove a list item) the form is re-shown without validating.
    Otherwise the config is validated with the kind's pydantic model: on success the view
    carries the updated node for the canvas, else the inline errors.
    """
    info = kind_info(kind)
    if info is None:
        raise ValueError(kind)
    specs = model_spec(info.config_model)
    raw = collect(specs, form, PREFIX)
    label = (form.get("label") or [""])[0].strip()
    action = (form.get("_action") or [""])[0]
    if action:
        path = action.partition(":")[2].removeprefix(PREFIX + ".")
        verb = action.partition(":")[0]
        existing = _list_len(raw, path)
        raw = apply_action(copy.deepcopy(raw), f"{verb}:{path}", new_list_item(path, existing))
        fields = build_fields(specs, raw, {}, PREFIX, choices)
        return PanelView(node_id, kind, info, label, fields), 200

    label_error = (
        gettext("At most %(num)s characters.") % {"num": LABEL_MAX}
        if len(label) > LABEL_MAX
        else ""
    )
    try:
        config = info.config_model.model_validate(raw)
    except ValidationError as exc:
        errors = field_errors(exc, specs, PREFIX)
        fields = build_fields(specs, raw, errors, PREFIX, choices)
        return PanelView(node_id, kind, info, label, fields, label_error=label_error), 422
    if label_error:
        fields = build_fields(specs, raw, {}, PREFIX, choices)
        return PanelView(node_id, kind, info, label, fields, label_error=label_error), 422

    clean = config.model_dump(mode="json", exclude_none=False)
    node = {"id": node_id, "kind": kind, "label": label, "config": clean}
    if position is not None:
        node["position"] = dict(position)
    meta = node_meta(node, ctx)
    fields = build_fields(specs, clean, {}, PREFIX, choices)
    view = PanelView(node_id, kind, info, label, fields, saved=True, node=node, meta=meta)
    return view, 200


def _list_len(raw: Mapping[str, Any], path: str) -> int:
    node: Any = raw
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return 0
    return len(node) if isinstance(node, list) else 0

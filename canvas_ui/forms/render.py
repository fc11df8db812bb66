"""Fill config-form specs with values, choices and inline errors for the panel template."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any

from canvas_ui.forms import labels
from canvas_ui.forms.spec import FieldSpec
from canvas_ui.i18n import gettext
from canvas_ui.placeholders import TEMPLATE_FIELDS, PlaceholderGroup
from engine.document_parts import LIFECYCLE_STAGES


@dataclass(frozen=True)
class ChoiceData:
    """Choices that come from data rather than from the config model."""

    coupons: list[tuple[str, str]] = field(default_factory=list)  # (id, "name · ¥20")
    rfm_classes: list[str] = field(default_factory=list)
    #: the coupon / guide-task steps upstream of the edited one: (id, label)
    steps: list[tuple[str, str]] = field(default_factory=list)
    #: display names of every step of the journey, for a stored step not among ``steps``
    step_names: dict[str, str] = field(default_factory=dict)
    event_types: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    segments: list[tuple[str, str]] = field(default_factory=list)  # (id, "name · id")
    #: what message and task texts may insert (customer fields, upstream steps' values)
    placeholders: list[PlaceholderGroup] = field(default_factory=list)


@dataclass
class FormField:
    """One rendered field (recursive)."""

    name: str
    widget: str
    label: str
    help: str = ""
    required: bool = False
    value: str = ""
    checked: bool = False
    choices: list[tuple[str, str]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    unit: str = ""
    error: str = ""
    datalist: str = ""  # id of a <datalist> with suggestions
    optional: bool = False
    enabled: bool = True  # optional groups: switched on?
    children: list[FormField] = field(default_factory=list)
    variants: list[dict[str, Any]] = field(default_factory=list)
    items: list[FormField] = field(default_factory=list)
    add_path: str = ""  # list: the action path for "add"
    placeholders: list[PlaceholderGroup] = field(default_factory=list)  # template texts
    #: shown only while a sibling select holds a value: (its name, the value)
    shown_when: tuple[str, str] | None = None
    shown: bool = True
    #: singular labels of unit choices / of ``unit``, for an amount of 1
    one_labels: dict[str, str] = field(default_factory=dict)
    unit_one: str = ""

    @property
    def has_error(self) -> bool:
        """Whether this field or anything inside it has an error (opens collapsed parts)."""
        return (
            bool(self.error)
            or any(f.has_error for f in (*self.children, *self.items))
            or any(f.has_error for v in self.variants for f in v["fields"])
        )


def field_label(spec: FieldSpec) -> str:
    """The translated label of a config field, as the panel shows it."""
    return _label(spec)[0]


def _label(spec: FieldSpec) -> tuple[str, str]:
    label, help_text = labels.FIELDS.get(
        f"{spec.model}.{spec.name}", labels.FIELDS.get(spec.name, (spec.name, ""))
    )
    return gettext(label), gettext(help_text) if help_text else ""


def _choice_label(value: str, field_name: str = "") -> str:
    # "<field>:<value>" first: the same value may mean something else in another field
    # (on_failure's "port" takes 'failed', when_capped's "port" takes 'capped')
    own = labels.CHOICES.get(f"{field_name}:{value}") if field_name else None
    if own is not None:
        return gettext(own)
    return gettext(labels.CHOICES[value]) if value in labels.CHOICES else value


#: A field that means something only for one choice of a sibling select: (sibling, value).
#: A cool-down in days says nothing while re-entry is "Never" or "After leaving".
SHOWN_WHEN: dict[str, tuple[str, str]] = {
    "cooldown_days": ("policy", "cooldown"),
    "max_wait": ("when_capped", "wait"),  # how long to wait for a cap: only when waiting
}


def _hide_unused(children: list[FormField]) -> None:
    by_name = {c.name.rsplit(".", 1)[-1]: c for c in children}
    for name, (sibling, value) in SHOWN_WHEN.items():
        if name in by_name and sibling in by_name:
            f, chooser = by_name[name], by_name[sibling]
            f.shown_when = (chooser.name, value)
            f.shown = chooser.value == value


def _text(value: Any, widget: str) -> str:
    if value is None:
        return ""
    if isinstance(value, Enum):
        return str(value.value)
    if widget == "lines" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    if widget == "keyvalue" and isinstance(value, dict):
        return "\n".join(f"{k}={_scalar_text(v)}" for k, v in value.items())
    if widget == "value":
        if isinstance(value, list):
            return ", ".join(_scalar_text(v) for v in value)
        return _scalar_text(value)
    if widget == "datetime" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if widget == "datetime" and isinstance(value, str):
        return value[:16]
    return str(value)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _data_choices(spec: FieldSpec, data: ChoiceData, current: str) -> list[tuple[str, str]]:
    if spec.name == "coupon_template_id":
        choices = list(data.coupons)
    elif spec.name == "classes":
        choices = [(c, c) for c in data.rfm_classes]
    elif spec.name == "node_id":
        choices = list(data.steps)
    elif spec.name == "segment_id":
        choices = list(data.segments)
    elif spec.name == "stages":
        choices = [(s, _choice_label(s)) for s in LIFECYCLE_STAGES]
    else:
        return []
    if current and current not in {c for c, _ in choices}:
        if spec.name == "node_id" and current in data.step_names:
            name = gettext("“%(step)s” (not before this step)") % {"step": data.step_names[current]}
            choices.append((current, name))
        else:
            choices.append((current, unavailable(current)))
    return choices


def unavailable(value: str) -> str:
    """The choice label of a stored value the choices do not have (any more): it is still
    shown as selected, so the panel never displays one value while the node holds another."""
    return gettext("%(value)s (not available)") % {"value": value}


def build_fields(
    specs: list[FieldSpec],
    values: Any,
    errors: dict[str, str],
    prefix: str,
    data: ChoiceData,
) -> list[FormField]:
    """Rendered fields of ``specs`` under ``prefix`` with ``values`` (a raw, maybe invalid dict)."""
    values = values if isinstance(values, dict) else {}
    return [
        _build_one(spec, values.get(spec.name, spec.default), errors, f"{prefix}.{spec.name}", data)
        for spec in specs
    ]


def _build_one(  # noqa: C901 - one arm per widget
    spec: FieldSpec, value: Any, errors: dict[str, str], path: str, data: ChoiceData
) -> FormField:
    label, help_text = _label(spec)
    f = FormField(
        name=path,
        widget=spec.widget,
        label=label,
        help=help_text,
        required=spec.required,
        minimum=spec.minimum,
        maximum=spec.maximum,
        max_length=spec.max_length,
        unit=gettext(labels.UNITS[spec.name]) if spec.name in labels.UNITS else "",
        unit_one=gettext(labels.ONE[labels.UNITS[spec.name]])
        if labels.UNITS.get(spec.name) in labels.ONE
        else "",
        error=errors.get(path, ""),
        optional=spec.optional,
    )
    w = spec.widget
    if w == "hidden":
        f.value = spec.literal or ""
    elif w in ("group", "duration"):
        f.enabled = value is not None or not spec.optional
        f.children = build_fields(spec.children, value, errors, path, data)
        _hide_unused(f.children)
    elif w == "union":
        tag = value.get("type") if isinstance(value, dict) else None
        tag = tag if tag in spec.variants else next(iter(spec.variants))
        f.value = tag
        for variant_tag, (cls_name, children) in spec.variants.items():
            selected = variant_tag == tag
            f.variants.append(
                {
                    "tag": variant_tag,
                    "label": gettext(labels.VARIANTS.get(cls_name, cls_name)),
                    "selected": selected,
                    "fields": build_fields(
                        children, value if selected else {}, errors if selected else {}, path, data
                    ),
                }
            )
    elif w == "list":
        assert spec.item is not None
        items = value if isinstance(value, list) else []
        f.items = [
            _build_one(spec.item, item, errors, f"{path}.{i}", data) for i, item in enumerate(items)
        ]
        item_label = labels.ITEMS.get(spec.name)
        for i, item_field in enumerate(f.items, start=1):
            # "Condition 1", "条件 1" …
            item_field.label = gettext(item_label) % {"n": i} if item_label else f"{label} {i}"
        f.add_path = path
    elif w == "checkbox":
        f.checked = bool(value)
    elif w == "multi":
        f.choices = _data_choices(spec, data, "")
        chosen = [str(v) for v in value] if isinstance(value, list) else []
        known = {c for c, _ in f.choices}
        f.choices += [(v, unavailable(v)) for v in chosen if v not in known]
        f.value = "\n".join(chosen)
    elif w == "select":
        current = _text(value, w)
        f.value = current
        if spec.name in ("coupon_template_id", "node_id", "segment_id"):
            f.choices = _data_choices(spec, data, current)
        else:
            f.choices = [(c, _choice_label(c, spec.name)) for c in spec.choices]
            f.one_labels = {c: gettext(labels.ONE[c]) for c in spec.choices if c in labels.ONE}
            if current and current not in spec.choices:
                f.choices.append((current, unavailable(current)))
    else:
        f.value = _text(value, w)
        if f"{spec.model}.{spec.name}" in TEMPLATE_FIELDS:
            f.placeholders = data.placeholders
        if spec.name == "event_type":
            f.datalist = "dl-event-types"
        elif spec.name == "tag":
            f.datalist = "dl-tags"
    return f

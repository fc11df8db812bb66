"""The shape of a config form, derived from a node kind's pydantic config model.

:func:`model_spec` walks a model's fields once and turns each annotation into a
:class:`FieldSpec` with a widget: numbers with their bounds, enums/literals as selects,
nested models as groups, discriminated unions as a variant switch, lists of models as
repeatable items. :mod:`canvas_ui.forms.render` fills it with values, and
:mod:`canvas_ui.forms.parse` reads a submitted form back with it — one source for both.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cache
from typing import Any, Literal, Union

import annotated_types
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from engine.document import Duration

#: Widgets a field can have; the template has one arm per widget.
Widget = Literal[
    "text",
    "textarea",
    "number",
    "select",
    "checkbox",
    "datetime",
    "lines",
    "multi",
    "keyvalue",
    "value",
    "hidden",
    "group",
    "duration",
    "union",
    "list",
]

#: Long free text gets a textarea.
TEXTAREA_MIN_LENGTH = 1000
#: Fields whose choices come from data (coupon templates, RFM classes, upstream steps).
DATA_CHOICE_FIELDS = frozenset({"coupon_template_id", "classes", "node_id", "segment_id", "stages"})


@dataclass
class FieldSpec:
    """One form field of a config model (recursive for groups, unions and lists)."""

    name: str
    widget: Widget
    model: str  # owning model's class name, for labels
    required: bool = False
    optional: bool = False  # ``X | None``: a group gets an on/off switch, a scalar may be empty
    choices: tuple[str, ...] = ()
    literal: str | None = None  # the fixed value of a ``Literal["x"]`` discriminator
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""
    default: Any = None
    children: list[FieldSpec] = field(default_factory=list)  # group / duration
    variants: dict[str, tuple[str, list[FieldSpec]]] = field(default_factory=dict)  # union
    item: FieldSpec | None = None  # list


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) < len(typing.get_args(annotation)):
            inner = args[0] if len(args) == 1 else Union[tuple(args)]  # noqa: UP007
            return inner, True
    return annotation, False


def _unwrap_annotated(annotation: Any) -> tuple[Any, str | None]:
    """``Annotated[U, Field(discriminator="type")]`` → (U, "type")."""
    if typing.get_origin(annotation) is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        for m in meta:
            disc = getattr(m, "discriminator", None)
            if isinstance(disc, str):
                return base, disc
        return base, None
    return annotation, None


def _union_models(annotation: Any) -> list[type[BaseModel]] | None:
    if typing.get_origin(annotation) in (Union, types.UnionType):
        args = typing.get_args(annotation)
        if args and all(isinstance(a, type) and issubclass(a, BaseModel) for a in args):
            return list(args)
    return None


def _literal_tag(model: type[BaseModel], discriminator: str) -> str:
    ann = model.model_fields[discriminator].annotation
    return str(typing.get_args(ann)[0])


def _is_json_scalar_union(annotation: Any) -> bool:
    args = set(typing.get_args(annotation))
    return str in args and bool in args and any(typing.get_origin(a) is list for a in args)


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None, int | None, str | None]:
    lo = hi = None
    max_length = None
    pattern = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            lo = float(m.ge)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.Le):
            hi = float(m.le)  # type: ignore[arg-type]
        elif isinstance(m, annotated_types.MaxLen):
            max_length = m.max_length
        elif hasattr(m, "pattern") and isinstance(m.pattern, str):
            pattern = m.pattern
    return lo, hi, max_length, pattern


def _spec_for(
    name: str, owner: str, annotation: Any, discriminator: str | None = None
) -> FieldSpec:
    annotation, optional = _strip_optional(annotation)
    annotation, inner_disc = _unwrap_annotated(annotation)
    discriminator = discriminator or inner_disc
    models = _union_models(annotation)
    if models is not None and discriminator:
        variants = {_literal_tag(m, discriminator): (m.__name__, model_spec(m)) for m in models}
        return FieldSpec(name, "union", owner, optional=optional, variants=variants)
    if _is_json_scalar_union(annotation):
        return FieldSpec(name, "value", owner, optional=optional)
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_ann,) = typing.get_args(annotation)
        item_base, item_disc = _unwrap_annotated(item_ann)
        if _union_models(item_base) is not None or (
            isinstance(item_base, type) and issubclass(item_base, BaseModel)
        ):
            item = _spec_for("item", owner, item_ann, item_disc)
            return FieldSpec(name, "list", owner, optional=optional, item=item)
        widget: Widget = "multi" if name in DATA_CHOICE_FIELDS else "lines"
        return FieldSpec(name, widget, owner, optional=optional)
    if origin is dict:
        return FieldSpec(name, "keyvalue", owner, optional=optional)
    if origin is Literal:
        values = tuple(str(v) for v in typing.get_args(annotation))
        if len(values) == 1:
            return FieldSpec(name, "hidden", owner, literal=values[0])
        return FieldSpec(name, "select", owner, optional=optional, choices=values)
    if isinstance(annotation, type):
        if annotation is Duration:
            return FieldSpec(
                name, "duration", owner, optional=optional, children=model_spec(Duration)
            )
        if issubclass(annotation, BaseModel):
            return FieldSpec(
                name, "group", owner, optional=optional, children=model_spec(annotation)
            )
        if issubclass(annotation, Enum):
            return FieldSpec(
                name,
                "select",
                owner,
                optional=optional,
                choices=tuple(str(m.value) for m in annotation),
            )
        if annotation is bool:
            return FieldSpec(name, "checkbox", owner)
        if annotation in (int, float):
            return FieldSpec(name, "number", owner, optional=optional)
        if annotation is datetime:
            return FieldSpec(name, "datetime", owner, optional=optional)
    if name in DATA_CHOICE_FIELDS:
        return FieldSpec(name, "select", owner, optional=optional)
    return FieldSpec(name, "text", owner, optional=optional)


@cache
def model_spec(model: type[BaseModel]) -> list[FieldSpec]:
    """The form fields of ``model``, in declaration order (cached per model)."""
    specs: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        spec = _spec_for(
            name,
            model.__name__,
            info.annotation,
            info.discriminator if isinstance(info.discriminator, str) else None,
        )
        spec.required = info.is_required()
        spec.description = info.description or ""
        lo, hi, max_length, pattern = _bounds(list(info.metadata))
        if spec.widget not in ("text", "textarea"):
            # A list's or dict's MaxLen counts items, not characters: as the textarea's
            # maxlength it cut "one per line" text off mid-word (8 outcomes became 8
            # characters, silently dropping outcomes and their connections). The server's
            # validation says "At most 8 items." instead.
            max_length = None
        spec.minimum, spec.maximum, spec.max_length, spec.pattern = lo, hi, max_length, pattern
        if spec.widget == "text" and max_length and max_length >= TEXTAREA_MIN_LENGTH:
            spec.widget = "textarea"
        if info.default is not PydanticUndefined:
            spec.default = _plain(info.default)
        elif info.default_factory is not None:
            spec.default = _plain(info.default_factory())  # type: ignore[call-arg]
        specs.append(spec)
    return specs


def _plain(value: Any) -> Any:
    """A default as form values see it: models as dicts, enums as their value."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    return value


def child(specs: list[FieldSpec], name: str) -> FieldSpec | None:
    """The field called ``name`` among ``specs``."""
    return next((s for s in specs if s.name == name), None)

"""Read a submitted panel form back into a raw config dict, guided by the field specs.

Names are dotted paths (``config.until.duration.amount``, ``config.rules.0.conditions.1.tag``).
Parsing is lenient — it only reshapes strings into the structure; the kind's pydantic model
validates afterwards and its errors are shown inline. Also applies the "add item" /
"remove item" actions of repeatable fields.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from canvas_ui.forms.spec import FieldSpec

Form = Mapping[str, Sequence[str]]
ON = "__on"
ITEM = "__item"


def _first(form: Form, key: str) -> str | None:
    values = form.get(key)
    return values[0] if values else None


def scalar_value(text: str) -> Any:
    """A JSON scalar typed by hand: numbers, true/false/null, else the text itself."""
    text = text.strip()
    if text == "":
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, str | int | float | bool | list) or value is None else text


def _value_field(text: str) -> Any:
    if "," in text and not text.strip().startswith("["):
        return [scalar_value(part) for part in text.split(",") if part.strip()]
    return scalar_value(text)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"[\n,，]", text) if line.strip()]


def _keyvalue(text: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            result[key.strip()] = scalar_value(value)
    return result


def _indices(form: Form, path: str) -> list[int]:
    pattern = re.compile(re.escape(path) + r"\.(\d+)\." + ITEM + "$")
    return sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})


def collect(specs: list[FieldSpec], form: Form, prefix: str) -> dict[str, Any]:
    """The raw config under ``prefix`` (absent fields are left out, so defaults apply)."""
    out: dict[str, Any] = {}
    for spec in specs:
        path = f"{prefix}.{spec.name}"
        value = _collect_one(spec, form, path)
        if value is not _MISSING:
            out[spec.name] = value
    return out


_MISSING: Any = object()


def _collect_one(spec: FieldSpec, form: Form, path: str) -> Any:  # noqa: C901 - per widget
    w = spec.widget
    if w == "hidden":
        return spec.literal
    if w in ("group", "duration"):
        if spec.optional and _first(form, f"{path}.{ON}") is None:
            return None
        if not any(key.startswith(path + ".") for key in form):
            return _MISSING  # not on the form at all: the model's default applies
        return collect(spec.children, form, path)
    if w == "union":
        tag = _first(form, f"{path}.type")
        if tag is None or tag not in spec.variants:
            return _MISSING
        _cls, children = spec.variants[tag]
        return {**collect(children, form, path), "type": tag}
    if w == "list":
        assert spec.item is not None
        return [_collect_one(spec.item, form, f"{path}.{i}") for i in _indices(form, path)]
    if w == "checkbox":
        return _first(form, path) is not None
    if w == "multi":
        return [v for v in form.get(path, []) if v]
    raw = _first(form, path)
    if raw is None:
        return _MISSING
    if w == "lines":
        return _lines(raw)
    if w == "keyvalue":
        return _keyvalue(raw)
    if w == "value":
        return _value_field(raw)
    if raw.strip() == "" and (spec.optional or w in ("number", "datetime")):
        return None if spec.optional else _MISSING
    return raw.strip() if w != "textarea" else raw


# --------------------------------------------------------------------------- actions


def apply_action(config: dict[str, Any], action: str, new_item: Any) -> dict[str, Any]:
    """Apply ``add:<path>`` (append ``new_item``) or ``remove:<path>.<i>`` to ``config``.

    Paths are relative to the config (``rules.0.conditions``). Unknown paths are ignored.
    """
    verb, _, path = action.partition(":")
    parts = path.split(".") if path else []
    if verb == "remove" and parts and parts[-1].isdigit():
        container = _walk(config, parts[:-1])
        index = int(parts[-1])
        if isinstance(container, list) and 0 <= index < len(container):
            container.pop(index)
    elif verb == "add":
        container = _walk(config, parts, create=True)
        if isinstance(container, list):
            container.append(new_item)
    return config


def _walk(node: Any, parts: list[str], *, create: bool = False) -> Any:
    for i, part in enumerate(parts):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            if part not in node and create:
                node[part] = [] if i == len(parts) - 1 else {}
            node = node.get(part)
        else:
            return None
    return node

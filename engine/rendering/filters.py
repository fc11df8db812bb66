"""Jinja's filters, tests and globals, each counted against the budget and refused before it
builds something over a limit (``center(10**9)``, ``join`` of a huge list, ``range(10**7)``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from typing import Any

from jinja2 import pass_eval_context
from jinja2.filters import make_attrgetter
from jinja2.nodes import EvalContext
from jinja2.runtime import markup_join, str_join
from jinja2.utils import generate_lorem_ipsum

from engine.rendering.limits import (
    charge,
    check_items,
    check_text,
    text_size,
    work,
)
from engine.rendering.operations import (
    check_printf,
    joined_length,
    replaced_length,
    take,
)

#: Internal filters the sandbox wraps around every ``for`` loop and ``~`` (see sandbox.py).
LOOP_FILTER = "__bounded_loop__"
CONCAT_FILTER = "__bounded_concat__"

# Filters that turn their input into text: the input is measured first, so ``str()`` of a
# list nesting one long text a thousand times is never built.
_STRINGIFYING = frozenset(
    {
        "capitalize",
        "center",
        "e",
        "escape",
        "forceescape",
        "format",
        "indent",
        "lower",
        "pprint",
        "replace",
        "safe",
        "string",
        "striptags",
        "title",
        "tojson",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "urlize",
        "wordcount",
        "wordwrap",
        "xmlattr",
    }
)


class Metered:
    """An iterable whose every item costs a step: loops, and lazy filters such as ``map``."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self._items = items

    def __iter__(self) -> Iterator[Any]:
        for item in self._items:
            charge()
            yield item


class _SizedMetered(Metered):
    """A metered list, range or dict: ``loop.length`` and ``if items`` still work."""

    __slots__ = ()

    def __len__(self) -> int:
        return len(self._items)  # type: ignore[arg-type]


def metered(items: Iterable[Any]) -> Metered:
    """``items``, each costing a step when read."""
    return _SizedMetered(items) if isinstance(items, Sized) else Metered(items)


def _bounded_result(result: Any, where: str) -> Any:
    if isinstance(result, str | bytes):
        check_text(len(result), where)
    elif isinstance(result, list | tuple):
        check_items(len(result), where)
    elif isinstance(result, Iterator):
        return metered(result)
    return result


# --- checks of the filters that can build more than they read; each gets the bound
# arguments (defaults applied) and may replace them (an iterable read once becomes a list).


def _center(a: dict[str, Any], where: str) -> None:
    if isinstance(a["width"], int):
        check_text(a["width"], where)


def _indent(a: dict[str, Any], where: str) -> None:
    text, width = str(a["s"]), a["width"]
    pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    check_text(len(text) + max(pad, 0) * (text.count("\n") + 1), where)


def _wordwrap(a: dict[str, Any], where: str) -> None:
    text, width = str(a["s"]), a["width"]
    wrap = a["wrapstring"] if isinstance(a["wrapstring"], str) else "\n"
    if isinstance(width, int) and width > 0:
        lines = len(text) // width + text.count("\n") + 1
        check_text(len(text) + len(wrap) * lines, where)


def _replace(a: dict[str, Any], where: str) -> None:
    check_text(replaced_length(str(a["s"]), a["old"], a["new"], a["count"]), where)


def _join(a: dict[str, Any], where: str) -> None:
    items = take(a["value"], where)
    if a["attribute"] is not None:
        items = [make_attrgetter(a["eval_ctx"].environment, a["attribute"])(i) for i in items]
        a["attribute"] = None
    separator = a["d"] if isinstance(a["d"], str) else ""
    check_text(joined_length(items, len(separator)), where)
    a["value"] = items


def _format(a: dict[str, Any], where: str) -> None:
    check_printf(str(a["value"]), a["kwargs"] or a["args"], where)


def _batch(a: dict[str, Any], where: str) -> None:
    if a["fill_with"] is not None and isinstance(a["linecount"], int):
        check_items(a["linecount"], where)


def _slice(a: dict[str, Any], where: str) -> None:
    if isinstance(a["slices"], int):
        check_items(a["slices"], where)


def _sum(a: dict[str, Any], where: str) -> None:
    start = a["start"]
    if not isinstance(start, list | tuple):
        return  # numbers: as many additions as items, each counted when the items were built
    items = take(a["iterable"], where)
    if a["attribute"] is not None:
        items = [make_attrgetter(a["environment"], a["attribute"])(i) for i in items]
        a["attribute"] = None
    check_items(len(start) + sum(len(i) for i in items if isinstance(i, list | tuple)), where)
    a["iterable"] = items


_CHECKS: dict[str, Callable[[dict[str, Any], str], None]] = {
    "center": _center,
    "indent": _indent,
    "wordwrap": _wordwrap,
    "replace": _replace,
    "join": _join,
    "format": _format,
    "batch": _batch,
    "slice": _slice,
    "sum": _sum,
}


def bounded_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (the filter ``name``) charged, its input measured, its arguments checked."""
    # pass_context / pass_eval_context / pass_environment filters get that object first;
    # functools.wraps copies the marker, so Jinja passes it to the wrapper as well.
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
    # Jinja's sync/async filters (join, sum, slice...) are wrappers that may take an eval
    # context their sync function does not: bind the arguments to the function itself.
    inner = inspect.unwrap(func)
    strip = offset - (1 if getattr(inner, "jinja_pass_arg", None) is not None else 0)
    check = _CHECKS.get(name)
    signature = inspect.signature(inner) if check is not None else None
    where = f"filter '{name}'"
    stringifies = name in _STRINGIFYING

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value = args[offset] if len(args) > offset else None
        charge(1 + work(value))
        if stringifies and not isinstance(value, str):
            check_text(text_size(value), where)
        if check is not None and signature is not None:
            bound = signature.bind(*args[strip:], **kwargs)
            bound.apply_defaults()
            check(bound.arguments, where)
            args, kwargs = (*args[:strip], *bound.args), bound.kwargs
        return _bounded_result(func(*args, **kwargs), where)

    return bounded


def bounded_test(func: Callable[..., Any]) -> Callable[..., Any]:
    """A test (``is odd``...) that costs a step: ``select`` runs one per item."""

    @functools.wraps(func)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        charge()
        return func(*args, **kwargs)

    return bounded


def bounded_range(*args: int) -> range:
    """``range`` of at most :data:`MAX_COLLECTION_ITEMS` items."""
    charge()
    numbers = range(*args)
    check_items(len(numbers), "range()")
    return numbers


def bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    """Jinja's ``lipsum`` with at most :data:`MAX_TEXT_CHARS` of placeholder text."""
    charge(1 + n)
    check_text(n * max * 15, "lipsum()")  # 15: a generous word with its space
    return str(generate_lorem_ipsum(n=n, html=html, min=min, max=max))


def loop_items(value: Any) -> Metered:
    """The iterable of a ``for`` loop, each round counted."""
    charge()
    return metered(value)


@pass_eval_context
def concat(eval_ctx: EvalContext, values: tuple[Any, ...]) -> Any:
    """``a ~ b ~ c``: measured before any of it is turned into text."""
    size = sum(len(v) if isinstance(v, str) else text_size(v) for v in values)
    charge(1 + size // 100)
    check_text(size, "'~'")
    return markup_join(values) if eval_ctx.autoescape else str_join(values)


def bounded_filters(filters: Mapping[str, Callable[..., Any]]) -> dict[str, Callable[..., Any]]:
    """Every filter bounded, plus the two internal ones."""
    bounded = {name: bounded_filter(name, func) for name, func in filters.items()}
    bounded[LOOP_FILTER] = loop_items
    bounded[CONCAT_FILTER] = concat
    return bounded

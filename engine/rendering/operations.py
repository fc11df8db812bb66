"""Operators and method calls of templates, refused before they build something too big.

The sandbox routes ``+``, ``*``, ``**`` and ``%`` here (``intercepted_binops``), every call
of a text's method (``ljust``, ``join``, ``replace``...) and every ``str.format``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from itertools import islice
from string import Formatter
from typing import Any

from engine.rendering.limits import (
    MAX_COLLECTION_ITEMS,
    MAX_TEXT_CHARS,
    check_items,
    check_number,
    check_text,
    text_size,
)

_Text = str | bytes

#: The operators the sandbox checks with :func:`check_binop`.
INTERCEPTED_BINOPS = frozenset({"+", "*", "**", "%"})

# printf-style conversion: %[(key)][flags][width][.precision][length]type
_PRINTF_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)", re.S)
_DIGITS = re.compile(r"\d+")


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse ``left <op> right`` when its result would be over a limit."""
    where = f"'{op}'"
    if op == "*":
        _check_repeat(left, right, where)
    elif op == "+":
        _check_add(left, right, where)
    elif op == "**":
        _check_power(left, right, where)
    elif op == "%" and isinstance(left, _Text):
        check_printf(left, right, where)


def _check_repeat(left: Any, right: Any, where: str) -> None:
    if isinstance(left, int) and isinstance(right, int):
        check_number(left.bit_length() + right.bit_length(), where)
        return
    seq, times = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(times, int) or times <= 0:
        return
    if isinstance(seq, _Text):
        check_text(len(seq) * times, where)
    elif isinstance(seq, list | tuple):
        check_items(len(seq) * times, where)


def _check_add(left: Any, right: Any, where: str) -> None:
    if isinstance(left, _Text) and isinstance(right, _Text):
        check_text(len(left) + len(right), where)
    elif isinstance(left, list | tuple) and isinstance(right, list | tuple):
        check_items(len(left) + len(right), where)


def _check_power(base: Any, exponent: Any, where: str) -> None:
    if isinstance(base, int) and isinstance(exponent, int) and exponent > 1:
        if abs(base) > 1:
            check_number(base.bit_length() * exponent, where)


def check_printf(fmt: str | bytes, args: Any, where: str) -> None:
    """Refuse ``fmt % args`` when its text could be longer than :data:`MAX_TEXT_CHARS`.

    An upper bound from the format alone: its own length, every width and precision, and the
    text of all arguments once per conversion (``%(name)s`` may repeat one argument).
    """
    size = len(fmt)
    conversions = 0
    star = False
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    for width, precision, kind in _PRINTF_SPEC.findall(text):
        if kind != "%":
            conversions += 1
        for number in (width, precision):
            if number == "*":
                star = True
            elif number:
                size += _bounded_int(number, where)
    if conversions:
        size += conversions * text_size(args)
    if star:  # '%*d' takes its width from the arguments
        values = args if isinstance(args, tuple) else (args,)
        size += sum(abs(v) for v in values if isinstance(v, int))
    check_text(size, where)


def _bounded_int(digits: str, where: str) -> int:
    if len(digits) > len(str(MAX_TEXT_CHARS)):
        check_text(MAX_TEXT_CHARS + 1, where)
    return int(digits)


def check_spec(spec: str, where: str) -> None:
    """Refuse a ``format()`` spec whose width or precision is over :data:`MAX_TEXT_CHARS`."""
    for digits in _DIGITS.findall(spec):
        check_text(_bounded_int(digits, where), where)


class BoundedFormatting(Formatter):
    """Mixed into Jinja's sandboxed formatters: ``str.format`` refuses a field wider than
    :data:`MAX_TEXT_CHARS` before padding it, and stops once its text gets that long."""

    _where = "str.format()"
    _built = 0

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self._built = len(format_string)
        return str(super().vformat(format_string, args, kwargs))

    def convert_field(self, value: Any, conversion: str | None) -> Any:
        if conversion is not None:  # !r / !s / !a: the whole value as text
            check_text(text_size(value), self._where)
        return super().convert_field(value, conversion)

    def format_field(self, value: Any, format_spec: str) -> Any:
        check_spec(format_spec, self._where)
        check_text(text_size(value), self._where)
        field = super().format_field(value, format_spec)
        self._built += len(field)
        check_text(self._built, self._where)
        return field


def check_method(
    owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """Check a call of ``owner.<name>(*args, **kwargs)``; returns the arguments to call with
    (an iterable given to ``join`` is read once here, so it is passed on as a list)."""
    where = f"{name}()"
    if isinstance(owner, _Text):
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width")
            if isinstance(width, int):
                check_text(width, where)
        elif name == "expandtabs":
            size = args[0] if args else kwargs.get("tabsize", 8)
            if isinstance(size, int):
                tabs = owner.count("\t" if isinstance(owner, str) else b"\t")  # type: ignore[arg-type]
                check_text(len(owner) + tabs * max(size, 0), where)
        elif name == "replace" and len(args) >= 2:
            check_text(replaced_length(owner, args[0], args[1], _arg(args, kwargs, 2)), where)
        elif name == "join" and args:
            items = take(args[0], where)
            check_text(joined_length(items, len(owner)), where)
            return (items, *args[1:])
        elif name == "translate" and args:
            check_text(len(owner) * _longest_value(args[0]), where)
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        if isinstance(length, int):
            check_text(length, where)
    return args


def _arg(args: tuple[Any, ...], kwargs: dict[str, Any], index: int) -> Any:
    return args[index] if len(args) > index else kwargs.get("count")


def replaced_length(text: Any, old: Any, new: Any, count: Any) -> int:
    """Length of ``text.replace(old, new, count)`` (an upper bound), without replacing."""
    if not isinstance(text, _Text) or not isinstance(old, _Text) or not isinstance(new, _Text):
        return len(text) if isinstance(text, _Text) else 0
    hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * max(0, len(new) - len(old))


def joined_length(items: list[Any], separator: int) -> int:
    """Length of the items joined with a separator of ``separator`` characters."""
    return sum(len(i) if isinstance(i, _Text) else text_size(i) for i in items) + separator * max(
        len(items) - 1, 0
    )


def take(iterable: Iterable[Any], where: str) -> list[Any]:
    """``list(iterable)``, refused past :data:`MAX_COLLECTION_ITEMS` without reading further."""
    items = list(islice(iterable, MAX_COLLECTION_ITEMS + 1))
    check_items(len(items), where)
    return items


def _longest_value(table: Any) -> int:
    if isinstance(table, Mapping):
        values: Iterable[Any] = table.values()
    elif isinstance(table, list | tuple):
        values = table
    else:
        return 1
    return max((len(v) if isinstance(v, _Text) else 1 for v in values), default=1)

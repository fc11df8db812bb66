"""What one template render may build, and the step budget that bounds its time.

Every check runs *before* the value is built: ``'x' * 20000000`` is refused from the two
operands, not measured afterwards. The budget counts loop rounds, calls, filters, attribute
reads and operators of one render (an operation over a long text or list costs more), so
time is bounded by a count, never by the wall clock: the same template and data pass or fail
the same way on a busy worker and on an idle laptop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Set
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2.utils import Namespace

#: Longest text a render may produce (an SMS gone wrong should not send a novel).
MAX_RENDERED_CHARS = 10_000
#: Longest text a template may build on the way (repetition, joins, padding, formatting...).
MAX_TEXT_CHARS = 50_000
#: Most items a list or range built by a template may have.
MAX_COLLECTION_ITEMS = 10_000
#: Most digits a number computed by a template may have.
MAX_NUMBER_DIGITS = 1_000
#: Most steps (loop rounds, calls, filters, attribute reads, operators) of one render.
MAX_RENDER_STEPS = 50_000

_MAX_INT_BITS = int(MAX_NUMBER_DIGITS / 0.30103)  # log10(2): bits of a 1,000-digit number
_CHARS_PER_STEP = 100  # an operation over a text costs a step per 100 characters it reads


class LimitExceeded(Exception):
    """A render would go past ``limit_name`` (= ``limit``); ``message`` says where."""

    def __init__(self, limit_name: str, limit: int, message: str) -> None:
        super().__init__(message)
        self.limit_name = limit_name
        self.limit = limit
        self.message = message


def check_text(length: int, where: str) -> None:
    """Refuse a text of ``length`` characters about to be built by ``where``."""
    if length > MAX_TEXT_CHARS:
        raise LimitExceeded(
            "MAX_TEXT_CHARS",
            MAX_TEXT_CHARS,
            f"{where} would make a text longer than {MAX_TEXT_CHARS} characters",
        )


def check_items(count: int, where: str) -> None:
    """Refuse a list or range of ``count`` items about to be built by ``where``."""
    if count > MAX_COLLECTION_ITEMS:
        raise LimitExceeded(
            "MAX_COLLECTION_ITEMS",
            MAX_COLLECTION_ITEMS,
            f"{where} would make a list of more than {MAX_COLLECTION_ITEMS} items",
        )


def check_number(bits: int, where: str) -> None:
    """Refuse an integer of about ``bits`` bits about to be computed by ``where``."""
    if bits > _MAX_INT_BITS:
        raise LimitExceeded(
            "MAX_NUMBER_DIGITS",
            MAX_NUMBER_DIGITS,
            f"{where} would make a number of more than {MAX_NUMBER_DIGITS} digits",
        )


def check_output(length: int) -> None:
    """Refuse a rendered text longer than :data:`MAX_RENDERED_CHARS`."""
    if length > MAX_RENDERED_CHARS:
        raise LimitExceeded(
            "MAX_RENDERED_CHARS",
            MAX_RENDERED_CHARS,
            f"the message would be longer than {MAX_RENDERED_CHARS} characters",
        )


class Budget:
    """The steps one render has taken."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0

    def charge(self, steps: int) -> None:
        self.steps += steps
        if self.steps > MAX_RENDER_STEPS:
            raise LimitExceeded(
                "MAX_RENDER_STEPS",
                MAX_RENDER_STEPS,
                f"the template takes more than {MAX_RENDER_STEPS} steps (loop rounds, calls, "
                "filters) to render",
            )


# A context variable, not an attribute of the environment: activities render in several
# threads at once with one shared environment and cached templates.
_CURRENT: ContextVar[Budget | None] = ContextVar("render_budget", default=None)


@contextmanager
def render_budget() -> Iterator[Budget]:
    """A fresh budget for the operations of one render."""
    token = _CURRENT.set(Budget())
    try:
        yield _CURRENT.get()  # type: ignore[misc]
    finally:
        _CURRENT.reset(token)


def charge(steps: int = 1) -> None:
    """Count ``steps`` against the current render's budget.

    Outside a render this raises: Jinja tries to fold constant expressions while compiling,
    and a failed fold is simply evaluated at render time, under the budget.
    """
    budget = _CURRENT.get()
    if budget is None:
        raise RuntimeError("template operations run only inside engine.rendering.render()")
    budget.charge(steps)


def work(value: Any) -> int:
    """Extra steps for an operation that reads all of ``value``."""
    if isinstance(value, str | bytes):
        return len(value) // _CHARS_PER_STEP
    if isinstance(value, list | tuple | dict | range | Set):
        return len(value)
    return 0


def text_size(value: Any, limit: int = MAX_TEXT_CHARS) -> int:
    """About ``len(str(value))`` (a little more), counted no further than past ``limit``.

    Without building the text: ``[[big] * 10] * 10`` nests references, and its text would be
    a hundred copies of ``big``. Each value looked at adds at least one, so the walk stops
    after ``limit`` values whatever their nesting.
    """
    total = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        total += 1
        if isinstance(item, str):
            total += len(item) + 2
        elif isinstance(item, bytes | bytearray):
            total += 4 * len(item) + 3
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2
        elif isinstance(item, float):
            total += 24
        elif isinstance(item, range):
            total += 30
        elif isinstance(item, Namespace):
            stack.append(item._Namespace__attrs)  # what its repr shows; no public accessor
        elif isinstance(item, Mapping):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | Set) or _is_view(item):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        else:  # jinja objects (loop, macro, cycler, undefined...): short fixed texts
            total += 100
    return total


def _is_view(item: Any) -> bool:
    return type(item).__name__ in ("dict_keys", "dict_values", "dict_items")

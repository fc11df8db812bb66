"""Render message and task templates written by HQ marketers, safely and within limits.

The one renderer of the product: the worker's activities (through ``activities.rendering``),
test runs and simulations (``engine.simulation``) and the compiler's syntax check all use
this environment, so a template that passes here passes there, with the same limits.

Templates are Jinja2 over ``customer`` and ``ctx`` in an immutable sandbox that also bounds
what a template may build (:mod:`engine.rendering.limits`): a text, a list, a number, the
rendered message and the steps of one render each have a named limit, checked before the
value is built. Going past one raises :class:`TemplateLimitError`, a
:class:`TemplateRenderError`: in a run the node takes its ``on_failure`` path like any other
render failure.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.sandbox import SecurityError

from engine.rendering.limits import (
    MAX_COLLECTION_ITEMS,
    MAX_NUMBER_DIGITS,
    MAX_RENDER_STEPS,
    MAX_RENDERED_CHARS,
    MAX_TEXT_CHARS,
    LimitExceeded,
    check_output,
    render_budget,
)
from engine.rendering.sandbox import BoundedSandbox


class TemplateRenderError(Exception):
    """``template`` could not be rendered: ``reason`` says why."""

    def __init__(self, reason: str, template: str) -> None:
        super().__init__(f"template could not be rendered: {reason}")
        self.reason = reason
        self.template = template


class TemplateLimitError(TemplateRenderError):
    """Rendering ``template`` would go past the limit ``limit_name`` (= ``limit``)."""

    def __init__(self, reason: str, template: str, *, limit_name: str, limit: int) -> None:
        super().__init__(reason, template)
        self.limit_name = limit_name
        self.limit = limit


@lru_cache(maxsize=1)
def environment() -> BoundedSandbox:
    """The shared environment (thread-safe: a render's budget lives in a context variable)."""
    return BoundedSandbox()


@lru_cache(maxsize=512)
def _compiled(text: str) -> Template:
    # The worker renders the same few templates for every customer: compile each once.
    return environment().from_string(text)


def parse_error(text: str) -> str | None:
    """``None`` if ``text`` parses as a template, else the syntax error as a message."""
    try:
        environment().parse(text)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return f"line {line}: {exc.message}" if line else str(exc.message)
    return None


def render(text: str, *, customer: Any, ctx: Any) -> str:
    """Render ``text`` with ``customer`` and ``ctx``; missing values render as empty.

    Raises :class:`TemplateLimitError` when the render would go past a limit (before
    building the offending value), :class:`TemplateRenderError` for any other failure.
    """
    try:
        with render_budget():
            template = _compiled(text)
            chunks: list[str] = []
            length = 0
            for chunk in template.generate(customer=customer, ctx=ctx):
                length += len(chunk)
                check_output(length)
                chunks.append(chunk)
            return "".join(chunks)
    except LimitExceeded as exc:
        raise TemplateLimitError(
            exc.message, text, limit_name=exc.limit_name, limit=exc.limit
        ) from None
    except SecurityError as exc:
        raise TemplateRenderError(f"blocked by the sandbox: {exc}", text) from exc
    except TemplateError as exc:
        raise TemplateRenderError(str(exc), text) from exc
    except Exception as exc:  # a filter on the wrong type, a division by zero, ...
        raise TemplateRenderError(f"{type(exc).__name__}: {exc}", text) from exc


__all__ = [
    "MAX_COLLECTION_ITEMS",
    "MAX_NUMBER_DIGITS",
    "MAX_RENDERED_CHARS",
    "MAX_RENDER_STEPS",
    "MAX_TEXT_CHARS",
    "TemplateLimitError",
    "TemplateRenderError",
    "environment",
    "parse_error",
    "render",
]

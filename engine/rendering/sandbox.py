"""The Jinja2 environment templates render in: immutable sandbox, strict, and bounded.

Jinja's sandbox keeps a template away from Python internals; this one also keeps it from
building anything big. The hooks are the sandbox's own: ``intercepted_binops`` /
``call_binop`` for operators, ``call`` for calls, ``getattr``/``getitem`` for reads,
``wrap_str_format`` for ``str.format``, ``finalize`` for every ``{{ }}``; filters, tests and
globals are replaced by bounded ones (:mod:`engine.rendering.filters`). Two things have no
hook, so the template's tree is rewritten before code generation (``_generate``): a ``for``
loop's iterable goes through a filter that counts its rounds, and ``a ~ b`` becomes a filter
that measures before it joins.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from functools import update_wrapper
from typing import Any, NoReturn, cast

from jinja2 import Undefined, nodes, pass_context
from jinja2.runtime import Context, LoopContext
from jinja2.sandbox import (
    ImmutableSandboxedEnvironment,
    SandboxedEscapeFormatter,
    SandboxedFormatter,
    SecurityError,
)
from jinja2.visitor import NodeTransformer
from markupsafe import Markup

from engine.rendering.filters import (
    CONCAT_FILTER,
    LOOP_FILTER,
    bounded_filters,
    bounded_lipsum,
    bounded_range,
    bounded_test,
    metered,
)
from engine.rendering.limits import charge, check_text, text_size, work
from engine.rendering.operations import (
    INTERCEPTED_BINOPS,
    BoundedFormatting,
    check_binop,
    check_method,
)


class _Formatter(BoundedFormatting, SandboxedFormatter):
    pass


class _EscapeFormatter(BoundedFormatting, SandboxedEscapeFormatter):
    pass


class _Bounds(NodeTransformer):
    """Count every loop round; measure every ``~`` before joining."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _filter(node.iter, LOOP_FILTER)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter(nodes.Tuple(node.nodes, "load", lineno=node.lineno), CONCAT_FILTER)


def _filter(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


@pass_context  # a context-taking finalize also stops Jinja evaluating output at compile time
def _finalize(context: Context, value: Any) -> Any:
    """Every ``{{ value }}``: measured before it is turned into text."""
    charge()
    if not isinstance(value, str):
        check_text(text_size(value), "'{{ }}'")
    return value


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Plain text (SMS, WeCom, task notes): nothing is HTML-escaped. An unsafe access fails
    the render instead of quietly printing nothing, so a probing ``{{ ''.__class__ }}`` is
    reported rather than half-rendered; unknown *safe* names render empty (a customer
    without a nickname should still get the SMS)."""

    intercepted_binops = INTERCEPTED_BINOPS

    def __init__(self) -> None:
        super().__init__(
            autoescape=False,
            undefined=Undefined,
            keep_trailing_newline=False,
            finalize=_finalize,
            # No constant folding: every operation runs at render time, under the budget.
            optimized=False,
        )
        self.filters = bounded_filters(self.filters)
        tests = cast(dict[str, Callable[..., Any]], self.tests)
        self.tests = {name: bounded_test(test) for name, test in tests.items()}
        self.globals["range"] = bounded_range
        self.globals["lipsum"] = bounded_lipsum

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        # Jinja's documented hook for a different code generation: rewrite the tree first.
        tree = _Bounds().visit(source)
        tree.set_environment(self)
        return super()._generate(tree, name, filename, defer_init)

    def unsafe_undefined(self, obj: Any, attribute: str) -> NoReturn:
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        charge(1 + work(left) + work(right))
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def getattr(self, obj: Any, attribute: str) -> Any:
        charge()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        charge()
        return super().getitem(obj, argument)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        charge()
        if isinstance(__obj, LoopContext) and args:  # loop(children) in a recursive loop
            args = (metered(args[0]), *args[1:])
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str | bytes | int) and not isinstance(owner, bool):
            charge(work(owner))
            args = check_method(owner, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Any:
        """Jinja's ``str.format`` / ``format_map`` wrapper, with a bounded formatter."""
        methods = types.MethodType | types.BuiltinMethodType
        if not isinstance(value, methods) or value.__name__ not in ("format", "format_map"):
            return None
        text = value.__self__
        if not isinstance(text, str):
            return None
        is_format_map = value.__name__ == "format_map"
        formatter = (
            _EscapeFormatter(self, escape=text.escape)
            if isinstance(text, Markup)
            else _Formatter(self)
        )

        def bounded_format(*args: Any, **kwargs: Any) -> str:
            charge(1 + work(text))
            if is_format_map:
                if kwargs or len(args) != 1:
                    raise TypeError("format_map() takes exactly one positional argument")
                kwargs, args = args[0], ()
            return type(text)(formatter.vformat(text, args, kwargs))

        return update_wrapper(bounded_format, value)

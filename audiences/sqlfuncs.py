"""A portable SQL construct: "this JSON array of strings holds any / all of these values".

Tags are a JSON list on ``customer.tags``. SQLite answers with ``json_each``; PostgreSQL
with the ``jsonb`` operators ``?|`` / ``?&``. The values are always bound parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from sqlalchemy import Boolean, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement


class JsonArrayHas(ColumnElement[bool]):
    """True when the JSON array in ``column`` contains any (or all) of ``values``."""

    type = Boolean()
    inherit_cache = False  # carries plain Python values; not worth a cache key

    def __init__(
        self, column: ColumnElement[Any], values: tuple[str, ...], mode: Literal["any", "all"]
    ) -> None:
        self.column = column
        self.values = tuple(dict.fromkeys(values))
        self.mode = mode


def _params(compiler: SQLCompiler, values: tuple[str, ...], **kw: Any) -> str:
    return ", ".join(compiler.process(literal(v), **kw) for v in values)


@compiles(JsonArrayHas, "sqlite")
def _sqlite(element: JsonArrayHas, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    params = _params(compiler, element.values, **kw)
    if element.mode == "any":
        return f"EXISTS (SELECT 1 FROM json_each({column}) AS t WHERE t.value IN ({params}))"
    return (
        f"((SELECT count(DISTINCT t.value) FROM json_each({column}) AS t "
        f"WHERE t.value IN ({params})) = {len(element.values)})"
    )


@compiles(JsonArrayHas, "postgresql")
def _postgresql(element: JsonArrayHas, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    params = _params(compiler, element.values, **kw)
    operator = "?|" if element.mode == "any" else "?&"
    return f"(CAST({column} AS JSONB) {operator} CAST(ARRAY[{params}] AS TEXT[]))"


@compiles(JsonArrayHas)
def _other(element: JsonArrayHas, compiler: SQLCompiler, **kw: Any) -> str:
    raise NotImplementedError(
        f"tag rules support SQLite and PostgreSQL, not {compiler.dialect.name}"
    )

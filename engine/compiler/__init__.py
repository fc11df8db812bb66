"""The journey compiler: parse → validation passes → build.

>>> result = compile_document(raw_json, journey_id="j1", version=3, coupon_templates={"NEW20"})
>>> result.ok, [d.code for d in result.diagnostics]

Every diagnostic is collected (none stops the others) so the canvas can mark every bad node
at once. Only a document without errors is built into a :class:`~engine.ir.CompiledJourney`.

The public names load on first use (:mod:`engine.compiler.compile`): node kind modules
import ``engine.compiler.common`` and ``diagnostics`` while :mod:`engine.document` is still
being assembled from them, so this package must not import the document eagerly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.compiler.compile import CompileResult, compile_document
    from engine.compiler.diagnostics import Code, Diagnostic, Severity
    from engine.compiler.parse import MAX_DOCUMENT_BYTES, MAX_NODES, document_size

__all__ = [
    "Code",
    "CompileResult",
    "Diagnostic",
    "MAX_DOCUMENT_BYTES",
    "document_size",
    "MAX_NODES",
    "Severity",
    "compile_document",
]

_HOME = {
    "Code": "engine.compiler.diagnostics",
    "CompileResult": "engine.compiler.compile",
    "Diagnostic": "engine.compiler.diagnostics",
    "MAX_DOCUMENT_BYTES": "engine.compiler.parse",
    "document_size": "engine.compiler.parse",
    "MAX_NODES": "engine.compiler.parse",
    "Severity": "engine.compiler.diagnostics",
    "compile_document": "engine.compiler.compile",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'engine.compiler' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once loaded, an ordinary module attribute
    return value

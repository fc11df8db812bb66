"""What a node kind module declares: :class:`KindSpec`, one per kind.

A kind module (``engine/kinds/<kind>.py``) holds everything engine-side about its kind —
document config and node model, ports, validation, IR step, build, the interpreter step and
the effects it asks for — and ends with ``SPEC = KindSpec(...)``. :mod:`engine.kinds`
collects the specs; the document, the IR codec, the compiler, the interpreter and every
runtime take what they need from there.
"""

# No "from __future__ import annotations": see engine/effects.py (Temporal resolves the
# effect dataclasses of kind modules on every payload).

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engine.document_parts import NodeBase, NodeKind
from engine.effect_parts import Effect
from engine.ir_parts import OnFailure, StepBase, Transition

if TYPE_CHECKING:
    from engine.compiler.diagnostics import Diagnostics
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry


@dataclass(frozen=True)
class StepHead:
    """What every step is built with: its node id, label and (ordered) transitions."""

    node_id: str
    label: str
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class ShownField:
    """A value a step records in ``ctx.<node>`` that a later message or task text may show
    (the placeholder picker offers it; previews fill it with ``sample``)."""

    name: str
    #: a preview's stand-in value; a timedelta: a moment that far from the preview's now
    #: (recorded as ISO text, shown as its date)
    sample: Any

    @property
    def moment(self) -> bool:
        return isinstance(self.sample, timedelta)


def _no_validation(node: Any, ctx: "Context", diags: "Diagnostics") -> None:
    return None


def _no_refs(node: Any) -> list[tuple[str, str | None]]:
    return []


@dataclass(frozen=True, eq=False)
class KindSpec:
    """One node kind, engine-side. Typed loosely (``Any``) where a function takes the kind's
    own node or step: each module's functions are typed precisely."""

    kind: NodeKind
    #: the document node model (``kind: Literal[NodeKind.X]``, ``config: XConfig``)
    node: type[NodeBase]
    #: the IR step dataclass (its class name is recorded in compiled journeys: keep it)
    step: type[StepBase]
    #: every IR dataclass a step of this kind may hold besides the shared ones of
    #: :mod:`engine.ir_parts` (for the tagged codec), the step class included
    ir_classes: tuple[type, ...]
    #: the output ports of a node given its config, in display order
    ports: Callable[[Any], tuple[str, ...]]
    #: ``node → IR step``; runs only on a document the passes found no errors in
    build: Callable[[Any, StepHead], StepBase]
    #: ``(step, interpreter, trace entry, visit) → port`` (None: the path ends)
    run: "Callable[[Any, Interpreter, TraceEntry, int], Awaitable[str | None]]"
    #: the ports when they do not depend on config (palette, half-configured nodes);
    #: None when they do (a branch's rules, a split's variants)
    static_ports: tuple[str, ...] | None = None
    #: this kind's checks of one node's config (collect every diagnostic, raise nothing)
    validate: "Callable[[Any, Context, Diagnostics], None]" = _no_validation
    #: the effects its step asks for, by ``runtime.effect`` (each runtime implements them)
    effects: tuple[Effect[Any, Any], ...] = ()
    #: where a step whose effect failed for good goes, by ``on_failure`` (None: exit);
    #: empty for a kind whose effects never fail for good
    failure_ports: Mapping[OnFailure, str | None] = field(default_factory=dict)
    #: the ``ctx.<node>.<field>`` fields its step records that other nodes may read
    context_fields: tuple[str, ...] = ()
    #: what its step records that a later message or task text may show (the picker's
    #: fields, in its order, with preview samples)
    shown_fields: tuple[ShownField, ...] = ()
    #: the ``(node id, field)`` context references of a node (field None: any)
    context_refs: Callable[[Any], list[tuple[str, str | None]]] = _no_refs
    #: a customer's time passes at this kind (a loop must contain one)
    waits: bool = False
    #: a valid config of this kind (JSON), for tests (every kind compiles, runs in the
    #: simulation and the sandbox, and has its canvas entry) and the docs
    example: Mapping[str, Any] = field(default_factory=dict)

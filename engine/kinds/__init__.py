"""The node kind registry: one module per kind, collected here.

Everything engine-side about a kind lives in ``engine/kinds/<kind>.py`` and ends with a
:class:`~engine.kinds.spec.KindSpec`. The document's node union (:mod:`engine.document`),
the IR codec (:mod:`engine.ir`), ports (:mod:`engine.ports`), the compiler's config pass and
build, the interpreter's dispatch and every runtime's effects come from :data:`KINDS`.
To add a kind: write its module, list it in ``_MODULES``, add its ``NodeKind`` member and
its canvas entry (``canvas_ui/kinds.py``); see docs/architecture.md.
"""

# No "from __future__ import annotations": see engine/effects.py.

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from engine.contact_policy import CHECK_CONTACT_POLICY
from engine.document_parts import NodeKind
from engine.effect_parts import LOAD_FACTS, RECORD_RUN, Effect
from engine.ir_parts import OnFailure, StepBase
from engine.kinds import (
    assign_guide_task,
    award_points,
    branch,
    entry,
    exit,
    send_coupon,
    send_message,
    split,
    update_customer,
    wait,
    wait_for_event,
    wait_purchase_cycle,
    wait_until_date,
)
from engine.kinds.spec import KindSpec, StepHead

__all__ = [
    "EFFECTS",
    "FAILURE_PORTS",
    "KINDS",
    "KindSpec",
    "StepHead",
    "by_step",
    "failure_port",
    "spec",
]

_MODULES = (
    entry,
    wait,
    wait_for_event,
    branch,
    split,
    send_coupon,
    send_message,
    assign_guide_task,
    update_customer,
    exit,
    award_points,
    wait_purchase_cycle,
    wait_until_date,
)

#: Every kind's spec, by kind, in palette/document order.
KINDS: Mapping[NodeKind, KindSpec] = MappingProxyType({m.SPEC.kind: m.SPEC for m in _MODULES})

_BY_STEP: dict[type, KindSpec] = {s.step: s for s in KINDS.values()}

#: Every effect a journey run may ask for, by activity name: the interpreter's own
#: (``load_facts``, ``record_run``), the contact policy's (``check_contact_policy``, asked
#: by the action kinds of runs of release journey-contact-policy) and each kind's.
_ALL_EFFECTS: tuple[Effect[Any, Any], ...] = (
    LOAD_FACTS,
    RECORD_RUN,
    CHECK_CONTACT_POLICY,
    *(e for s in KINDS.values() for e in s.effects),
)
EFFECTS: Mapping[str, Effect[Any, Any]] = MappingProxyType({e.name: e for e in _ALL_EFFECTS})

#: Where a step whose side effect failed for good goes, by kind and ``on_failure`` (None:
#: the path ends, exit ``failure_exit``). Every port named is one the kind always has
#: (tests/engine check every cell); a kind without effects that can fail has no row.
FAILURE_PORTS: Mapping[str, Mapping[OnFailure, str | None]] = MappingProxyType(
    {k.value: s.failure_ports for k, s in KINDS.items() if s.failure_ports}
)


def spec(kind: str) -> KindSpec:
    """The spec of ``kind`` (a :class:`NodeKind` or its value); KeyError for an unknown one."""
    return KINDS[NodeKind(kind)]


def by_step(step: StepBase) -> KindSpec:
    """The spec of the kind ``step`` is a step of."""
    return _BY_STEP[type(step)]


def failure_port(kind: str, on_failure: OnFailure) -> str | None:
    """Where a failed ``kind`` step goes under ``on_failure`` (``None``: the path ends)."""
    return FAILURE_PORTS.get(kind, {}).get(on_failure)


def _check_registry() -> None:
    missing = [k.value for k in NodeKind if k not in KINDS]
    if missing:  # a NodeKind member without a module: fail at import, not at run time
        raise RuntimeError(f"node kinds without a module in engine.kinds: {missing}")
    for s in KINDS.values():
        literal = s.node.model_fields["kind"].default
        if literal is not s.kind:
            raise RuntimeError(f"{s.node.__name__}.kind is {literal!r}, its spec says {s.kind}")


_check_registry()

"""Which output ports each node kind has. The canvas, the compiler and the docs all ask here.

Each kind's module (``engine/kinds/<kind>.py``) says its ports; this module asks it.
"""

from __future__ import annotations

from engine.document import AnyNode, NodeKind
from engine.kinds import KINDS

NEXT = "next"
FAILED = "failed"
MATCHED = "matched"
TIMEOUT = "timeout"
ELSE = "else"
COMPLETED = "completed"
EXPIRED = "expired"

#: Ports of kinds whose ports do not depend on config (for the palette and docs).
STATIC_PORTS: dict[NodeKind, tuple[str, ...]] = {
    k: s.static_ports for k, s in KINDS.items() if s.static_ports is not None
}


def output_ports(node: AnyNode) -> tuple[str, ...]:
    """The output ports of ``node`` given its current config, in display order."""
    return KINDS[node.kind].ports(node)

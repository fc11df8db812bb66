"""Which output ports each node kind has. The canvas, the compiler and the docs all ask here."""

from __future__ import annotations

from engine.document import (
    AnyNode,
    AssignGuideTaskNode,
    BranchNode,
    ExitNode,
    NodeKind,
    OnFailure,
    SendCouponNode,
    SendMessageNode,
    SplitNode,
    WaitForEventNode,
)

NEXT = "next"
FAILED = "failed"
MATCHED = "matched"
TIMEOUT = "timeout"
ELSE = "else"
COMPLETED = "completed"
EXPIRED = "expired"

#: Ports of kinds whose ports do not depend on config (for the palette and docs).
STATIC_PORTS: dict[NodeKind, tuple[str, ...]] = {
    NodeKind.ENTRY: (NEXT,),
    NodeKind.WAIT: (NEXT,),
    NodeKind.WAIT_FOR_EVENT: (MATCHED, TIMEOUT),
    NodeKind.SEND_COUPON: (NEXT,),
    NodeKind.SEND_MESSAGE: (NEXT,),
    NodeKind.ASSIGN_GUIDE_TASK: (COMPLETED, EXPIRED),
    NodeKind.UPDATE_CUSTOMER: (NEXT,),
    NodeKind.EXIT: (),
}


def output_ports(node: AnyNode) -> tuple[str, ...]:
    """The output ports of ``node`` given its current config, in display order."""
    if isinstance(node, BranchNode):
        return (*(r.id for r in node.config.rules), ELSE)
    if isinstance(node, SplitNode):
        return tuple(v.id for v in node.config.variants)
    if isinstance(node, WaitForEventNode):
        return (MATCHED, TIMEOUT)
    if isinstance(node, ExitNode):
        return ()
    if isinstance(node, AssignGuideTaskNode):
        outcome_ports = tuple(node.config.outcomes) or (COMPLETED,)
        ports = (*outcome_ports, EXPIRED)
        return (*ports, FAILED) if node.config.on_failure is OnFailure.PORT else ports
    if isinstance(node, SendCouponNode | SendMessageNode):
        if node.config.on_failure is OnFailure.PORT:
            return (NEXT, FAILED)
        return (NEXT,)
    return (NEXT,)

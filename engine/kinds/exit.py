"""``exit``: the end of the path, marked as goal reached if it is one."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from engine.document_parts import NodeBase, NodeKind, _Model
from engine.ir_parts import StepBase
from engine.kinds.spec import KindSpec, StepHead

if TYPE_CHECKING:
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry


class ExitConfig(_Model):
    goal_reached: bool = False


class ExitNode(NodeBase):
    kind: Literal[NodeKind.EXIT] = NodeKind.EXIT
    config: ExitConfig = Field(default_factory=ExitConfig)


@dataclass(frozen=True)
class ExitStep(StepBase):
    goal_reached: bool = False


def ports(node: ExitNode) -> tuple[str, ...]:
    return ()


def build(node: ExitNode, head: StepHead) -> ExitStep:
    return ExitStep(
        head.node_id, head.label, head.transitions, goal_reached=node.config.goal_reached
    )


async def run(step: ExitStep, it: "Interpreter", entry: "TraceEntry", visit: int) -> str | None:
    entry.summary = "goal reached" if step.goal_reached else "exit"
    await it.exit(step.node_id, reason="exit", goal=step.goal_reached)
    return None


SPEC = KindSpec(
    kind=NodeKind.EXIT,
    node=ExitNode,
    step=ExitStep,
    ir_classes=(ExitStep,),
    ports=ports,
    static_ports=(),
    build=build,
    run=run,
    example={"goal_reached": True},
)

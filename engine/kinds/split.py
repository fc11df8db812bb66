"""``split``: A/B split customers at random by weight; a holdout variant gets nothing."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from engine import semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
from engine.document_parts import NodeBase, NodeKind, _Model
from engine.ir_parts import StepBase
from engine.kinds.spec import KindSpec, StepHead
from engine.runtime import SEMANTICS_V4

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry

# --------------------------------------------------------------------------- document


class SplitVariant(_Model):
    id: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    label: str = Field(default="", max_length=80)
    weight: int = Field(ge=0, le=100)
    holdout: bool = False


class SplitConfig(_Model):
    variants: list[SplitVariant] = Field(default_factory=list, max_length=10)


class SplitNode(NodeBase):
    kind: Literal[NodeKind.SPLIT] = NodeKind.SPLIT
    config: SplitConfig = Field(default_factory=SplitConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class Variant:
    id: str
    weight: int
    holdout: bool = False


@dataclass(frozen=True)
class SplitStep(StepBase):
    variants: tuple[Variant, ...] = ()


# --------------------------------------------------------------------------- compile


def ports(node: SplitNode) -> tuple[str, ...]:
    return tuple(v.id for v in node.config.variants)


def validate(node: SplitNode, ctx: "Context", diags: Diagnostics) -> None:
    name = common.label(node)
    variants = node.config.variants
    if len(variants) < 2:
        diags.error(
            Code.SPLIT_WEIGHTS,
            f"Split '{name}' needs at least two variants.",
            nodes=[node.id],
            params={"problem": "too_few"},
        )
    total = sum(v.weight for v in variants)
    if variants and total != 100:
        diags.error(
            Code.SPLIT_WEIGHTS,
            f"The weights of split '{name}' add up to {total}%, not 100%.",
            nodes=[node.id],
            hint="Adjust the variant weights so they sum to 100.",
            params={"total": total},
        )
    ids = [v.id for v in variants]
    for vid in sorted({i for i in ids if ids.count(i) > 1}):
        diags.error(
            Code.DUPLICATE_PORT_ID,
            f"Split '{name}' has two variants with the id '{vid}'.",
            nodes=[node.id],
        )


def build(node: SplitNode, head: StepHead) -> SplitStep:
    variants = tuple(Variant(v.id, v.weight, v.holdout) for v in node.config.variants)
    return SplitStep(head.node_id, head.label, head.transitions, variants=variants)


# --------------------------------------------------------------------------- run


async def run(step: SplitStep, it: "Interpreter", entry: "TraceEntry", visit: int) -> str | None:
    if it.rt.patched(SEMANTICS_V4):
        # One side per customer per journey, whatever the entry or the visit: a customer who
        # enters again stays in their arm, so the experiment compares stable groups.
        seed = semantics.split_seed(it.journey.journey_id, it.state.customer_id, step.node_id)
    else:
        seed = f"{it.workflow_id}/{it.state.enrollment_id}/{step.node_id}/{visit}"
    variant, bucket = semantics.choose_variant(step, seed)
    if it.rt.patched(SEMANTICS_V4):
        it.state.variants[step.node_id] = variant.id
    entry.inputs = {"bucket": bucket}
    entry.result = {"variant": variant.id, "holdout": variant.holdout}
    entry.summary = f"variant {variant.id}" + (" (holdout)" if variant.holdout else "")
    return variant.id


SPEC = KindSpec(
    kind=NodeKind.SPLIT,
    node=SplitNode,
    step=SplitStep,
    ir_classes=(SplitStep, Variant),
    ports=ports,
    validate=validate,
    build=build,
    run=run,
    example={"variants": [{"id": "a", "weight": 50}, {"id": "b", "weight": 50}]},
)

"""``update_customer``: add or remove tags and set attributes (set semantics: repeating a
change changes nothing)."""

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine.document_parts import JsonScalar, NodeBase, NodeKind, _Model
from engine.effect_parts import Effect, EffectContext, RunRecord
from engine.ir_parts import OnFailure as IrOnFailure
from engine.ir_parts import Scalar, StepBase
from engine.kinds.spec import KindSpec, StepHead
from engine.runtime import LOCAL_DB_EFFECTS

if TYPE_CHECKING:
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

NEXT = "next"

# --------------------------------------------------------------------------- document


class UpdateCustomerConfig(_Model):
    add_tags: list[str] = Field(default_factory=list, max_length=20)
    remove_tags: list[str] = Field(default_factory=list, max_length=20)
    set_attributes: dict[str, JsonScalar] = Field(default_factory=dict)


class UpdateCustomerNode(NodeBase):
    kind: Literal[NodeKind.UPDATE_CUSTOMER] = NodeKind.UPDATE_CUSTOMER
    config: UpdateCustomerConfig = Field(default_factory=UpdateCustomerConfig)


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class UpdateCustomerStep(StepBase):
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    set_attributes: tuple[tuple[str, Scalar], ...] = ()


# --------------------------------------------------------------------------- effect


@dataclass
class UpdateCustomerRequest:
    ctx: EffectContext
    add_tags: list[str] = field(default_factory=list)
    remove_tags: list[str] = field(default_factory=list)
    set_attributes: dict[str, Any] = field(default_factory=dict)
    then_record: RunRecord | None = None


@dataclass
class CustomerUpdated:
    customer_id: str
    tags: list[str]
    attributes: dict[str, Any]


async def simulate_update_customer(
    rt: "SimulatedRuntime", req: UpdateCustomerRequest
) -> CustomerUpdated:
    """The sandbox: the world's facts change (later branches see it)."""
    rt.inject("update_customer", req.ctx.node_id)
    f = rt.world.facts
    f.tags = sorted((set(f.tags) | set(req.add_tags)) - set(req.remove_tags))
    f.attributes = {**f.attributes, **req.set_attributes}
    rt.record_after(req.then_record)
    return CustomerUpdated(f.customer_id, f.tags, f.attributes)


#: Add/remove tags and set attributes (set semantics: repeating changes nothing).
UPDATE_CUSTOMER: Effect[UpdateCustomerRequest, CustomerUpdated] = Effect(
    "update_customer",
    UpdateCustomerRequest,
    CustomerUpdated,
    local_since=LOCAL_DB_EFFECTS,
    simulate=simulate_update_customer,
)

# --------------------------------------------------------------------------- compile


def ports(node: UpdateCustomerNode) -> tuple[str, ...]:
    return (NEXT,)


def build(node: UpdateCustomerNode, head: StepHead) -> UpdateCustomerStep:
    upd = node.config
    return UpdateCustomerStep(
        head.node_id,
        head.label,
        head.transitions,
        add_tags=tuple(upd.add_tags),
        remove_tags=tuple(upd.remove_tags),
        set_attributes=tuple(sorted(upd.set_attributes.items())),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: UpdateCustomerStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    req = UpdateCustomerRequest(
        ctx=it.effect_ctx(step.node_id, visit),
        add_tags=list(step.add_tags),
        remove_tags=list(step.remove_tags),
        set_attributes=dict(step.set_attributes),
        then_record=it.exit_record_after(step),
    )
    result = await it.attempt(entry, step.node_id, UPDATE_CUSTOMER, req)
    if result is None:
        return it.failure_port(step)
    it.recorded_exit = req.then_record
    it.state.facts = None  # the profile changed: read it again when needed
    entry.result = {"tags": result.tags}
    parts = [f"+{t}" for t in step.add_tags] + [f"-{t}" for t in step.remove_tags]
    parts += [f"{k}={v}" for k, v in step.set_attributes]
    entry.summary = " ".join(parts) or "no change"
    return NEXT


SPEC = KindSpec(
    kind=NodeKind.UPDATE_CUSTOMER,
    node=UpdateCustomerNode,
    step=UpdateCustomerStep,
    ir_classes=(UpdateCustomerStep,),
    ports=ports,
    static_ports=(NEXT,),
    build=build,
    run=run,
    effects=(UPDATE_CUSTOMER,),
    # no on_failure setting: a failed update always continues
    failure_ports={IrOnFailure.CONTINUE: NEXT},
    example={"add_tags": ["contacted"]},
)

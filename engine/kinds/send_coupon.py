"""``send_coupon``: issue one coupon from a template, exactly once per visit."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from engine import contact_policy
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.contact_policy import PolicyCheckRequest, PolicyDecision
from engine.document_parts import (
    ContactCategory,
    Duration,
    NodeBase,
    NodeKind,
    OnFailure,
    WhenCapped,
    _Model,
    default_max_wait,
)
from engine.effect_parts import (
    COUPON_STOCK_EXHAUSTED,
    UNKNOWN_COUPON_TEMPLATE,
    Effect,
    EffectContext,
    EffectFailed,
    RunRecord,
)
from engine.ir_parts import DEFAULT_CONTACT_RULE, OMIT_DEFAULT, ContactRule, StepBase
from engine.ir_parts import OnFailure as IrOnFailure
from engine.kinds.spec import KindSpec, ShownField, StepHead
from engine.kinds.wait import TimeWindow, Window, build_window, check_window
from engine.runtime import LOCAL_DB_EFFECTS

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

NEXT = "next"
FAILED = "failed"
CAPPED = contact_policy.CAPPED

# --------------------------------------------------------------------------- document


class SendCouponConfig(_Model):
    coupon_template_id: str = Field(min_length=1, max_length=64)
    on_failure: OnFailure = OnFailure.CONTINUE
    category: ContactCategory = ContactCategory.MARKETING
    when_capped: WhenCapped = WhenCapped.SKIP
    max_wait: Duration = Field(default_factory=default_max_wait)
    #: send only inside this daily window (customer's or store's zone), like a wait's
    window: TimeWindow | None = None


class SendCouponNode(NodeBase):
    kind: Literal[NodeKind.SEND_COUPON] = NodeKind.SEND_COUPON
    config: SendCouponConfig


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class SendCouponStep(StepBase):
    coupon_template_id: str = ""
    on_failure: IrOnFailure = IrOnFailure.CONTINUE
    contact: ContactRule = field(default=DEFAULT_CONTACT_RULE, metadata=OMIT_DEFAULT)
    window: Window | None = field(default=None, metadata=OMIT_DEFAULT)


# --------------------------------------------------------------------------- effect


@dataclass
class IssueCouponRequest:
    ctx: EffectContext
    coupon_template_id: str
    #: the run's final state when the next step is an exit: recorded with the effect
    then_record: RunRecord | None = None
    #: the contact check decided first (``engine.contact_policy.gate``); None: no check
    policy: PolicyCheckRequest | None = None


@dataclass
class CouponIssued:
    coupon_id: str
    code: str
    template_id: str
    face_value: float
    min_spend: float
    issued_at: str
    expires_at: str
    #: the contact policy held the coupon back (nothing issued): its answer
    denied: PolicyDecision | None = None


async def simulate_issue_coupon(rt: "SimulatedRuntime", req: IssueCouponRequest) -> CouponIssued:
    """The sandbox: a coupon from the world's templates, stock counted, once per key."""
    key = f"issue_coupon:{req.ctx.idempotency_key}"
    if key in rt.done:
        return rt.done[key]
    rt.inject("issue_coupon", req.ctx.node_id)
    tpl = rt.world.coupon_templates.get(req.coupon_template_id)
    if tpl is None:
        raise EffectFailed(UNKNOWN_COUPON_TEMPLATE, req.coupon_template_id)
    if tpl.stock is not None:
        if tpl.stock <= 0:
            raise EffectFailed(COUPON_STOCK_EXHAUSTED, f"{tpl.id} has no stock left")
        tpl.stock -= 1
    n = rt.next_seq()
    coupon = CouponIssued(
        coupon_id=f"SIM-CP{n}",
        code=f"SIM{n:05d}",
        template_id=tpl.id,
        face_value=tpl.face_value,
        min_spend=tpl.min_spend,
        issued_at=rt.clock.isoformat(),
        expires_at=(rt.clock + timedelta(days=tpl.validity_days)).isoformat(),
    )
    rt.world.coupons.append(coupon)
    rt.done[key] = coupon
    rt.record_after(req.then_record)
    return coupon


#: Issue one coupon, exactly once per idempotency key, never beyond stock.
ISSUE_COUPON: Effect[IssueCouponRequest, CouponIssued] = Effect(
    "issue_coupon",
    IssueCouponRequest,
    CouponIssued,
    local_since=LOCAL_DB_EFFECTS,
    simulate=simulate_issue_coupon,
)

# --------------------------------------------------------------------------- compile


def ports(node: SendCouponNode) -> tuple[str, ...]:
    capped = (CAPPED,) if node.config.when_capped is WhenCapped.PORT else ()
    failed = (FAILED,) if node.config.on_failure is OnFailure.PORT else ()
    return (NEXT, *capped, *failed)


def validate(node: SendCouponNode, ctx: "Context", diags: Diagnostics) -> None:
    common.check_contact_rule(node, diags)
    if node.config.window is not None:
        check_window(node.id, common.label(node), node.config.window, diags)
    known = ctx.coupon_templates
    tid = node.config.coupon_template_id
    if known is not None and tid not in known:
        diags.error(
            Code.UNKNOWN_COUPON_TEMPLATE,
            f"'{common.label(node)}' issues coupon template '{tid}', which does not exist.",
            nodes=[node.id],
            hint=did_you_mean(tid, known) or "Pick a coupon template in the panel.",
            params={"template": tid, "suggestions": common.close_matches(tid, known)},
        )


def build(node: SendCouponNode, head: StepHead) -> SendCouponStep:
    return SendCouponStep(
        head.node_id,
        head.label,
        head.transitions,
        coupon_template_id=node.config.coupon_template_id,
        on_failure=common.on_failure(node.config.on_failure),
        window=build_window(node.config.window),
        contact=common.contact_rule(node.config),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: SendCouponStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    gated = await contact_policy.gate(
        it,
        entry,
        step.node_id,
        visit,
        channel=contact_policy.COUPON,
        rule=step.contact,
        effect=ISSUE_COUPON,
        request=lambda check: IssueCouponRequest(
            it.effect_ctx(step.node_id, visit),
            step.coupon_template_id,
            then_record=it.exit_record_after(step),
            policy=check,
        ),
        window=step.window,
    )
    if not gated.sent:
        return gated.port
    result = gated.result
    if result is None:
        return it.failure_port(step)
    it.state.context[step.node_id] = {
        "coupon_id": result.coupon_id,
        "code": result.code,
        "template_id": result.template_id,
        "face_value": result.face_value,
        "issued_at": result.issued_at,
        "expires_at": result.expires_at,
        "issued": True,
    }
    entry.result = dict(it.state.context[step.node_id])
    entry.summary = (
        f"coupon {result.code} ¥{result.face_value:g} · expires {result.expires_at[:10]}"
    )
    return NEXT


SPEC = KindSpec(
    kind=NodeKind.SEND_COUPON,
    node=SendCouponNode,
    step=SendCouponStep,
    ir_classes=(SendCouponStep,),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    effects=(ISSUE_COUPON,),
    failure_ports={IrOnFailure.CONTINUE: NEXT, IrOnFailure.EXIT: None, IrOnFailure.PORT: FAILED},
    context_fields=("expires_at", "issued_at", "redeemed", "issued", "failed", "capped"),
    example={"coupon_template_id": "NEW20"},
    shown_fields=(
        ShownField("code", "CPN8F3K2Q"),
        ShownField("face_value", 20),
        ShownField("expires_at", timedelta(days=30)),
        ShownField("issued_at", timedelta(0)),
        ShownField("template_id", "NEW20"),
    ),
)

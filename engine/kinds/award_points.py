"""``award_points``: add points to the customer's ledger (积分), exactly once per visit, with an
optional benefit pack (权益礼包) — coupons issued in the same step.

The per-step maximum is the chain's setting (the policy page's "Points per step", stored
on the policy row and handed to the compiler as ``Context.max_points_per_step``;
:data:`MAX_POINTS_PER_STEP` when none is given, e.g. offline compiles). A larger award is a
compiler diagnostic naming the node and the limit, not a run-time surprise.

**A pack coupon that cannot be issued** (out of stock, inactive template) is the step's
business failure and the node's ``on_failure`` decides what follows, as for ``send_coupon``.
The points stay awarded: the ledger is written first and exactly once per idempotency key,
and each pack coupon exactly once per ``<key>:<template id>``. So the failure's trace note
says how many points were awarded, and running the same visit again (an activity retry
after a crash mid-pack, a workflow reset after a restock) completes the pack without
awarding the points twice.
"""

# No "from __future__ import annotations": see engine/effects.py.

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field

from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics, did_you_mean
from engine.document_parts import NodeBase, NodeKind, OnFailure, _Model
from engine.effect_parts import Effect, EffectContext, EffectFailed, RunRecord
from engine.ir_parts import OnFailure as IrOnFailure
from engine.ir_parts import StepBase
from engine.kinds.send_coupon import CouponIssued, IssueCouponRequest, simulate_issue_coupon
from engine.kinds.spec import KindSpec, ShownField, StepHead
from engine.runtime import LOCAL_DB_EFFECTS

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

NEXT = "next"
FAILED = "failed"

#: The most points one step may award unless the chain sets its own (a typo such as 200000
#: for 200 is a compiler diagnostic).
MAX_POINTS_PER_STEP = 10_000
#: The highest per-step maximum a chain may set.
MAX_POINTS_PER_STEP_CEILING = 1_000_000
#: The most coupons a benefit pack holds.
MAX_PACK_COUPONS = 5
#: The longest expiry a step may give its points (10 years).
MAX_EXPIRY_DAYS = 3650

# --------------------------------------------------------------------------- document


class AwardPointsConfig(_Model):
    #: checked by :func:`validate` (at least 1, at most the chain's maximum), not here: a
    #: bad number is a diagnostic on a node that keeps its edges and other checks
    points: int
    #: the points lapse this many days after the award; None: they never expire
    expires_in_days: int | None = Field(default=None, ge=1, le=MAX_EXPIRY_DAYS)
    #: the benefit pack: one coupon of each template, issued with the points
    coupon_template_ids: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=MAX_PACK_COUPONS
    )
    #: the ledger's reason (what the customer's points history shows); empty: "journey"
    reason: str = Field(default="", max_length=32)
    on_failure: OnFailure = OnFailure.CONTINUE


class AwardPointsNode(NodeBase):
    kind: Literal[NodeKind.AWARD_POINTS] = NodeKind.AWARD_POINTS
    config: AwardPointsConfig


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class AwardPointsStep(StepBase):
    points: int = 0
    expires_in_days: int | None = None
    coupon_template_ids: tuple[str, ...] = ()
    reason: str = ""
    on_failure: IrOnFailure = IrOnFailure.CONTINUE


# --------------------------------------------------------------------------- effect


@dataclass
class AwardPointsRequest:
    ctx: EffectContext
    points: int
    expires_in_days: int | None = None
    coupon_template_ids: list[str] = field(default_factory=list)
    reason: str = ""
    #: the run's final state when the next step is an exit: recorded with the effect
    then_record: RunRecord | None = None


@dataclass
class PointsAwarded:
    points: int
    #: the customer's balance as of the visit's time, these points included
    balance: int
    awarded_at: str
    #: when these points lapse (None: never)
    expires_at: str | None = None
    #: the ledger entry (the first one when the visit ran before)
    entry_id: str = ""
    #: the benefit pack's coupons, in the step's order
    coupons: list[CouponIssued] = field(default_factory=list)


def pack_key(idempotency_key: str, template_id: str) -> str:
    """The idempotency key of one pack coupon of a visit."""
    return f"{idempotency_key}:{template_id}"


async def simulate_award_points(rt: "SimulatedRuntime", req: AwardPointsRequest) -> PointsAwarded:
    """The sandbox: the world's balance grows once per key (later branches and test runs see
    it); pack coupons come from the world's templates like ``send_coupon``'s."""
    key = f"award_points:{req.ctx.idempotency_key}"
    if key in rt.done:
        return rt.done[key]
    rt.inject("award_points", req.ctx.node_id)
    entry_key = f"{key}:entry"  # the ledger row: kept when a pack coupon fails after it
    awarded: PointsAwarded | None = rt.done.get(entry_key)
    if awarded is None:
        rt.world.facts.points_balance += req.points
        expires = (
            (rt.clock + timedelta(days=req.expires_in_days)).isoformat()
            if req.expires_in_days
            else None
        )
        awarded = PointsAwarded(
            points=req.points,
            balance=rt.world.facts.points_balance,
            awarded_at=rt.clock.isoformat(),
            expires_at=expires,
            entry_id=f"SIM-PT{rt.next_seq()}",
        )
        rt.done[entry_key] = awarded
    coupons = []
    for tid in req.coupon_template_ids:
        one = IssueCouponRequest(
            replace(req.ctx, idempotency_key=pack_key(req.ctx.idempotency_key, tid)), tid
        )
        try:
            coupons.append(await simulate_issue_coupon(rt, one))
        except EffectFailed as exc:
            raise EffectFailed(exc.type, pack_failure(awarded, tid, exc.message)) from exc
    result = replace(awarded, coupons=coupons)
    rt.done[key] = result
    rt.record_after(req.then_record)
    return result


def pack_failure(awarded: PointsAwarded, template_id: str, why: str) -> str:
    """The failure message of a pack coupon: what failed, and that the points stay."""
    return (
        f"pack coupon {template_id} was not issued ({why}); the {awarded.points} points stay "
        f"awarded (balance {awarded.balance})"
    )


#: Award points (and the pack's coupons), exactly once per idempotency key.
AWARD_POINTS: Effect[AwardPointsRequest, PointsAwarded] = Effect(
    "award_points",
    AwardPointsRequest,
    PointsAwarded,
    local_since=LOCAL_DB_EFFECTS,
    simulate=simulate_award_points,
)

# --------------------------------------------------------------------------- compile


def ports(node: AwardPointsNode) -> tuple[str, ...]:
    return (NEXT, FAILED) if node.config.on_failure is OnFailure.PORT else (NEXT,)


def _points_error(
    node: AwardPointsNode, diags: Diagnostics, message: str, hint: str, error: dict[str, object]
) -> None:
    diags.error(
        Code.INVALID_CONFIG,
        message,
        nodes=[node.id],
        hint=hint,
        params={"kind": node.kind.value, "errors": [{"loc": ["config", "points"], **error}]},
    )


def validate(node: AwardPointsNode, ctx: "Context", diags: Diagnostics) -> None:
    c = node.config
    name = common.label(node)
    most = ctx.max_points_per_step or MAX_POINTS_PER_STEP
    if c.points < 1:
        _points_error(
            node,
            diags,
            f"'{name}' awards {c.points} points; a step awards at least 1 point.",
            "Set a positive number of points in the panel.",
            {"type": "greater_than_equal", "ctx": {"ge": 1}},
        )
    elif c.points > most:
        _points_error(
            node,
            diags,
            f"'{name}' awards {c.points} points, more than the per-step maximum of {most}.",
            f"Award at most {most} points in one step, or raise the chain's maximum "
            "(policy page, Points per step).",
            {"type": "less_than_equal", "ctx": {"le": most}},
        )
    seen: set[str] = set()
    for tid in c.coupon_template_ids:
        if tid in seen:
            diags.error(
                Code.INVALID_CONFIG,
                f"'{name}' lists coupon template '{tid}' twice in its pack.",
                nodes=[node.id],
                hint="A pack holds one coupon of each template; remove the repeat.",
                params={
                    "kind": node.kind.value,
                    "errors": [
                        {
                            "loc": ["config", "coupon_template_ids"],
                            "type": "duplicate",
                            "msg": f"{tid} is listed twice",
                        }
                    ],
                },
            )
            continue
        seen.add(tid)
        known = ctx.coupon_templates
        if known is not None and tid not in known:
            diags.error(
                Code.UNKNOWN_COUPON_TEMPLATE,
                f"'{name}' issues coupon template '{tid}' in its pack, which does not exist.",
                nodes=[node.id],
                hint=did_you_mean(tid, known) or "Pick the pack's coupon templates in the panel.",
                params={"template": tid, "suggestions": common.close_matches(tid, known)},
            )


def build(node: AwardPointsNode, head: StepHead) -> AwardPointsStep:
    c = node.config
    return AwardPointsStep(
        head.node_id,
        head.label,
        head.transitions,
        points=c.points,
        expires_in_days=c.expires_in_days,
        coupon_template_ids=tuple(c.coupon_template_ids),
        reason=c.reason,
        on_failure=common.on_failure(c.on_failure),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: AwardPointsStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    req = AwardPointsRequest(
        it.effect_ctx(step.node_id, visit),
        step.points,
        step.expires_in_days,
        list(step.coupon_template_ids),
        step.reason,
        then_record=it.exit_record_after(step),
    )
    result = await it.attempt(entry, step.node_id, AWARD_POINTS, req)
    # the balance changed (also when a pack coupon failed after the points): read the
    # profile again when a later step needs it
    it.state.facts = None
    if result is None:
        return it.failure_port(step)
    it.recorded_exit = req.then_record
    codes = [c.code for c in result.coupons]
    it.state.context[step.node_id] = {
        "points": result.points,
        "balance": result.balance,
        "awarded_at": result.awarded_at,
        "points_expire_at": result.expires_at,
        "coupon_codes": ", ".join(codes),
        "coupons": [
            {
                "coupon_id": c.coupon_id,
                "code": c.code,
                "template_id": c.template_id,
                "face_value": c.face_value,
                "expires_at": c.expires_at,
            }
            for c in result.coupons
        ],
    }
    entry.result = dict(it.state.context[step.node_id])
    summary = f"+{result.points} points · balance {result.balance}"
    if result.expires_at:
        summary += f" · expire {result.expires_at[:10]}"
    if codes:
        summary += f" · coupons {', '.join(codes)}"
    entry.summary = summary
    return NEXT


SPEC = KindSpec(
    kind=NodeKind.AWARD_POINTS,
    node=AwardPointsNode,
    step=AwardPointsStep,
    ir_classes=(AwardPointsStep,),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    effects=(AWARD_POINTS,),
    failure_ports={IrOnFailure.CONTINUE: NEXT, IrOnFailure.EXIT: None, IrOnFailure.PORT: FAILED},
    context_fields=("points", "balance", "coupon_codes", "failed"),
    example={
        "points": 200,
        "expires_in_days": 30,
        "coupon_template_ids": ["NEW20"],
        "reason": "生日礼",
    },
    shown_fields=(
        ShownField("points", 200),
        ShownField("balance", 1200),
        ShownField("coupon_codes", "CPN8F3K2Q"),
        ShownField("points_expire_at", timedelta(days=365)),
    ),
)

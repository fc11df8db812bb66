"""``assign_guide_task``: ask the customer's own guide to call, chat or invite; remind,
escalate and expire the task on time; follow the guide's outcome."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine import contact_policy, semantics
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
from engine.contact_policy import PolicyCheckRequest, PolicyDecision
from engine.document_parts import (
    ContactCategory,
    Duration,
    NodeBase,
    NodeKind,
    OnFailure,
    TimeUnit,
    WhenCapped,
    _Model,
    default_max_wait,
)
from engine.effect_parts import NO_GUIDE_AVAILABLE, Effect, EffectContext, EffectFailed
from engine.ir_parts import DEFAULT_CONTACT_RULE, OMIT_DEFAULT, ContactRule, StepBase
from engine.ir_parts import OnFailure as IrOnFailure
from engine.kinds.spec import KindSpec, ShownField, StepHead
from engine.kinds.wait import TimeWindow, Window, build_window, check_window
from engine.runtime import SEMANTICS_V2, SEMANTICS_V3

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

COMPLETED = "completed"
EXPIRED = "expired"
FAILED = "failed"
CAPPED = contact_policy.CAPPED

# --------------------------------------------------------------------------- document


class TaskType(StrEnum):
    CALL = "call"
    WECOM_CHAT = "wecom_chat"
    STORE_INVITE = "store_invite"


class AssigneeRule(StrEnum):
    BOUND_GUIDE = "bound_guide"  # fallback: the store manager
    STORE_MANAGER = "store_manager"


class AssignGuideTaskConfig(_Model):
    task_type: TaskType = TaskType.CALL
    title: str = Field(default="", max_length=120)
    instructions: str = Field(min_length=1, max_length=2000)
    assignee: AssigneeRule = AssigneeRule.BOUND_GUIDE
    due_in: Duration = Field(default_factory=lambda: Duration(amount=24, unit=TimeUnit.HOURS))
    remind_before: Duration | None = Field(
        default_factory=lambda: Duration(amount=2, unit=TimeUnit.HOURS)
    )
    expire_after: Duration = Field(
        default_factory=lambda: Duration(amount=24, unit=TimeUnit.HOURS),
        description="How long an overdue task stays open (the store manager is alerted at the "
        "due time) before it expires and the customer takes the `expired` port.",
    )
    outcomes: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Empty: one `completed` port. Otherwise one port per outcome.",
    )
    on_failure: OnFailure = OnFailure.CONTINUE
    category: ContactCategory = ContactCategory.MARKETING
    when_capped: WhenCapped = WhenCapped.SKIP
    max_wait: Duration = Field(default_factory=default_max_wait)
    #: send only inside this daily window (customer's or store's zone), like a wait's
    window: TimeWindow | None = None


class AssignGuideTaskNode(NodeBase):
    kind: Literal[NodeKind.ASSIGN_GUIDE_TASK] = NodeKind.ASSIGN_GUIDE_TASK
    config: AssignGuideTaskConfig


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class AssignTaskStep(StepBase):
    task_type: str = "call"
    title: str = ""
    instructions: str = ""
    assignee: str = "bound_guide"
    due_in_seconds: int = 86400
    remind_before_seconds: int | None = None
    expire_after_seconds: int = 86400
    outcomes: tuple[str, ...] = ()
    on_failure: IrOnFailure = IrOnFailure.CONTINUE
    contact: ContactRule = field(default=DEFAULT_CONTACT_RULE, metadata=OMIT_DEFAULT)
    window: Window | None = field(default=None, metadata=OMIT_DEFAULT)


# --------------------------------------------------------------------------- effects


@dataclass
class CreateTaskRequest:
    ctx: EffectContext
    task_type: str
    title: str
    instructions: str  # a Jinja2 template over {customer, ctx}
    assignee: str  # "bound_guide" | "store_manager"
    due_at: str
    remind_at: str | None = None
    outcomes: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)
    #: the contact check decided first (``engine.contact_policy.gate``); None: no check
    policy: PolicyCheckRequest | None = None


@dataclass
class TaskCreated:
    task_id: str
    guide_id: str
    guide_name: str
    due_at: str
    #: the contact policy held the task back (nothing created): its answer
    denied: PolicyDecision | None = None


@dataclass
class TaskNoticeRequest:
    """A reminder to the assignee, or an escalation to the store manager, for one task."""

    task_id: str
    kind: str  # "reminder" | "escalation" | "expired"
    idempotency_key: str


@dataclass
class TaskNoticeResult:
    task_id: str
    kind: str
    notified: str  # who was notified (guide id), "" when the task was already closed


async def simulate_create_task(rt: "SimulatedRuntime", req: CreateTaskRequest) -> TaskCreated:
    """The sandbox: an open task for the bound guide (else the store manager) in the world."""
    rt.inject("create_task", req.ctx.node_id)
    guide = rt.world.facts.guide_id
    if not guide and req.assignee == "bound_guide":
        guide = rt.world.facts.attributes.get("store_manager_id")
    if not isinstance(guide, str) or not guide:
        raise EffectFailed(NO_GUIDE_AVAILABLE, "no bound guide and no store manager")
    # rendered like the worker does, so a test run shows the failure a live run would get
    title = rt.render(req.title, req.context)
    instructions = rt.render(req.instructions, req.context)
    task_id = f"SIM-T{rt.next_seq()}"
    rt.world.tasks.append(
        {
            "task_id": task_id,
            "node_id": req.ctx.node_id,
            "guide_id": guide,
            "status": "open",
            "outcome": None,
            "due_at": req.due_at,
            "task_type": req.task_type,
            "title": title,
            "instructions": instructions,
        }
    )
    return TaskCreated(task_id, guide, guide, req.due_at)


async def simulate_task_notice(rt: "SimulatedRuntime", req: TaskNoticeRequest) -> TaskNoticeResult:
    """The sandbox: the notice is kept; an expiry or cancel closes the world's task."""
    tasks = rt.world.tasks
    rt.inject("task_notice", next((t["node_id"] for t in tasks if t["task_id"] == req.task_id), ""))
    rt.world.notices.append(req)
    for t in tasks:
        if t["task_id"] == req.task_id and req.kind in ("expired", "cancelled"):
            t["status"] = req.kind
    return TaskNoticeResult(req.task_id, req.kind, "sandbox")


#: Create a guide task for the bound guide (fallback: store manager), once.
CREATE_TASK: Effect[CreateTaskRequest, TaskCreated] = Effect(
    "create_task", CreateTaskRequest, TaskCreated, simulate=simulate_create_task
)
#: Remind, escalate, expire or cancel a task, once per key; nothing for closed tasks.
TASK_NOTICE: Effect[TaskNoticeRequest, TaskNoticeResult] = Effect(
    "task_notice", TaskNoticeRequest, TaskNoticeResult, simulate=simulate_task_notice
)

# --------------------------------------------------------------------------- compile


def ports(node: AssignGuideTaskNode) -> tuple[str, ...]:
    outcome_ports = tuple(node.config.outcomes) or (COMPLETED,)
    ports = (*outcome_ports, EXPIRED)
    if node.config.when_capped is WhenCapped.PORT:
        ports = (*ports, CAPPED)
    return (*ports, FAILED) if node.config.on_failure is OnFailure.PORT else ports


def validate(node: AssignGuideTaskNode, ctx: "Context", diags: Diagnostics) -> None:
    common.check_contact_rule(node, diags)
    if node.config.window is not None:
        check_window(node.id, common.label(node), node.config.window, diags)
    for field_name in ("title", "instructions"):
        common.check_template_text(ctx, node, field_name, getattr(node.config, field_name), diags)
    common.check_duration(node.id, common.label(node), "due_in", node.config.due_in, diags)
    outcomes = node.config.outcomes
    dupes = sorted({o for o in outcomes if outcomes.count(o) > 1})
    bad = [o for o in outcomes if o in (EXPIRED, FAILED, CAPPED) or not o.strip()]
    if dupes or bad:
        diags.error(
            Code.DUPLICATE_PORT_ID,
            f"'{common.label(node)}': task outcomes must be unique, non-empty and not "
            f"'expired'/'failed'/'capped' (got {', '.join(dupes + bad)}).",
            nodes=[node.id],
        )


def context_refs(node: AssignGuideTaskNode) -> list[tuple[str, str | None]]:
    return common.template_refs(node.config.instructions, node.config.title)


def build(node: AssignGuideTaskNode, head: StepHead) -> AssignTaskStep:
    t = node.config
    return AssignTaskStep(
        head.node_id,
        head.label,
        head.transitions,
        task_type=t.task_type.value,
        title=t.title,
        instructions=t.instructions,
        assignee=t.assignee.value,
        due_in_seconds=common.seconds(t.due_in),
        remind_before_seconds=common.seconds(t.remind_before) if t.remind_before else None,
        expire_after_seconds=common.seconds(t.expire_after),
        outcomes=tuple(t.outcomes),
        on_failure=common.on_failure(t.on_failure),
        window=build_window(node.config.window),
        contact=common.contact_rule(t),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: AssignTaskStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    asked: list[tuple[datetime, datetime, datetime | None, CreateTaskRequest]] = []

    def request(check: PolicyCheckRequest | None) -> CreateTaskRequest:
        now = it.rt.now()
        due = now + timedelta(seconds=step.due_in_seconds)
        remind = (
            due - timedelta(seconds=step.remind_before_seconds)
            if step.remind_before_seconds
            else None
        )
        req = CreateTaskRequest(
            ctx=it.effect_ctx(step.node_id, visit),
            task_type=step.task_type,
            title=step.title or step.label,
            instructions=step.instructions,
            assignee=step.assignee,
            due_at=due.isoformat(),
            remind_at=remind.isoformat() if remind and remind > now else None,
            outcomes=list(step.outcomes),
            context=it.template_context(),
            policy=check,
        )
        asked[:] = [(now, due, remind, req)]
        return req

    # a skipped task is a task nobody did: `expired`, like one that could not be created
    gated = await contact_policy.gate(
        it,
        entry,
        step.node_id,
        visit,
        channel=contact_policy.GUIDE_TASK,
        rule=step.contact,
        effect=CREATE_TASK,
        request=request,
        window=step.window,
        skip_port=EXPIRED,
    )
    if not gated.sent:
        return gated.port
    task = gated.result
    if task is None:
        return it.failure_port(step)
    ((now, due, remind, req),) = asked
    if it.rt.patched(SEMANTICS_V2) and task.due_at != req.due_at:
        # assignment moved the task (the guide's day was full): remind, escalate and
        # expire on the task's own schedule
        due = semantics.parse_time(task.due_at)
        if step.remind_before_seconds:
            remind = due - timedelta(seconds=step.remind_before_seconds)
    ctx = {"task_id": task.task_id, "guide_id": task.guide_id, "due_at": task.due_at}
    it.state.context[step.node_id] = ctx
    entry.result = dict(ctx)

    def done() -> bool:
        return task.task_id in it.state.task_outcomes or it.interrupted()

    detail = f"task {task.task_id} · {task.guide_name}"
    key = f"{it.workflow_id}/{it.state.enrollment_id}/{step.node_id}/{visit}"
    if remind is not None and remind > now:
        await it.park(step.node_id, "task", remind, detail)
        if not await it.rt.wait(until=remind, wake=done):
            await _notice(it, entry, task.task_id, "reminder", key)
    if not done():
        await it.park(step.node_id, "task", due, detail)
        if not await it.rt.wait(until=due, wake=done):
            await _notice(it, entry, task.task_id, "escalation", key)
    expires = due + timedelta(seconds=step.expire_after_seconds)
    if not done():
        await it.park(step.node_id, "task", expires, detail + " · overdue")
        await it.rt.wait(until=expires, wake=done)
    it.state.waiting = None
    outcome = it.state.task_outcomes.get(task.task_id)
    if outcome is not None:
        ports = step.outcomes or (COMPLETED,)
        port = outcome.outcome if outcome.outcome in ports else ports[0]
        ctx["outcome"] = outcome.outcome
        entry.result = {**ctx, "note": outcome.note, "by": outcome.by}
        entry.summary = f"task {task.task_id} · {task.guide_name} · {outcome.outcome}"
        return port
    if it.interrupted():
        await _notice(it, entry, task.task_id, "cancelled", key)
        return None
    await _notice(it, entry, task.task_id, "expired", key)
    ctx["outcome"] = EXPIRED
    entry.summary = f"task {task.task_id} · {task.guide_name} · expired"
    return EXPIRED


async def _notice(
    it: "Interpreter", entry: "TraceEntry", task_id: str, kind: str, key: str
) -> None:
    """Send one task notice; from release 3 one that fails for good is noted on the visit
    instead of failing the run (the customer's path does not depend on it)."""
    req = TaskNoticeRequest(task_id, kind, f"{key}/{kind}")
    if not it.rt.patched(SEMANTICS_V3):
        await it.rt.effect(TASK_NOTICE, req)
        return
    try:
        await it.rt.effect(TASK_NOTICE, req)
    except EffectFailed as failure:
        entry.error = entry.error or failure.type
        entry.inputs.setdefault("notices_failed", {})[kind] = str(failure)


SPEC = KindSpec(
    kind=NodeKind.ASSIGN_GUIDE_TASK,
    node=AssignGuideTaskNode,
    step=AssignTaskStep,
    ir_classes=(AssignTaskStep,),
    ports=ports,
    static_ports=(COMPLETED, EXPIRED),
    validate=validate,
    build=build,
    run=run,
    effects=(CREATE_TASK, TASK_NOTICE),
    # a task that could not be created is a task nobody did: "continue" follows `expired`
    failure_ports={
        IrOnFailure.CONTINUE: EXPIRED,
        IrOnFailure.EXIT: None,
        IrOnFailure.PORT: FAILED,
    },
    context_fields=("due_at", "outcome", "failed", "capped"),
    context_refs=context_refs,
    waits=True,
    example={"task_type": "call", "instructions": "回访 {{ customer.name }}"},
    shown_fields=(ShownField("due_at", timedelta(days=2)), ShownField("outcome", "interested")),
)

"""``send_message``: render a template and send it (SMS, WeCom, WeChat template or subscribe
message, email, webhook), exactly once per visit."""

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from engine import contact_policy, subscribe_content
from engine.compiler import common
from engine.compiler.diagnostics import Code, Diagnostics
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
from engine.effect_parts import CUSTOMER_OPTED_OUT, Effect, EffectContext, EffectFailed, RunRecord
from engine.ir_parts import DEFAULT_CONTACT_RULE, OMIT_DEFAULT, ContactRule, StepBase
from engine.ir_parts import OnFailure as IrOnFailure
from engine.kinds.spec import KindSpec, StepHead
from engine.kinds.wait import TimeWindow, Window, build_window, check_window

if TYPE_CHECKING:
    from engine.compiler.passes import Context
    from engine.interpreter import Interpreter
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

NEXT = "next"
FAILED = "failed"
CAPPED = contact_policy.CAPPED

# --------------------------------------------------------------------------- document


class Channel(StrEnum):
    SMS = "sms"
    WECOM = "wecom"
    WECHAT_TEMPLATE = "wechat_template"
    #: 公众号订阅通知: a subscribe template the customer agreed to (engine.subscribe_content)
    WECHAT_SUBSCRIBE = "wechat_subscribe"
    EMAIL = "email"
    WEBHOOK = "webhook"


class SendMessageConfig(_Model):
    channel: Channel = Channel.SMS
    subject: str = Field(default="", max_length=200)
    content: str = Field(min_length=1, max_length=2000)
    webhook_url: str | None = Field(default=None, max_length=500)
    on_failure: OnFailure = OnFailure.CONTINUE
    category: ContactCategory = ContactCategory.MARKETING
    when_capped: WhenCapped = WhenCapped.SKIP
    max_wait: Duration = Field(default_factory=default_max_wait)
    #: send only inside this daily window (customer's or store's zone), like a wait's
    window: TimeWindow | None = None


class SendMessageNode(NodeBase):
    kind: Literal[NodeKind.SEND_MESSAGE] = NodeKind.SEND_MESSAGE
    config: SendMessageConfig


# --------------------------------------------------------------------------- IR


@dataclass(frozen=True)
class SendMessageStep(StepBase):
    channel: str = "sms"
    subject: str = ""
    content: str = ""
    webhook_url: str | None = None
    on_failure: IrOnFailure = IrOnFailure.CONTINUE
    contact: ContactRule = field(default=DEFAULT_CONTACT_RULE, metadata=OMIT_DEFAULT)
    window: Window | None = field(default=None, metadata=OMIT_DEFAULT)


# --------------------------------------------------------------------------- effect


@dataclass
class SendMessageRequest:
    ctx: EffectContext
    channel: str
    content: str  # a Jinja2 template over {customer, ctx}
    subject: str = ""
    webhook_url: str | None = None
    context: dict[str, Any] = field(default_factory=dict)
    then_record: RunRecord | None = None
    #: the contact check decided first (``engine.contact_policy.gate``); None: no check
    policy: PolicyCheckRequest | None = None


@dataclass
class MessageSent:
    message_id: str
    channel: str
    status: str  # "recorded" | "sent"
    rendered: str
    #: the contact policy held the message back (nothing sent): its answer
    denied: PolicyDecision | None = None


async def simulate_send_message(rt: "SimulatedRuntime", req: SendMessageRequest) -> MessageSent:
    """The sandbox: rendered as the worker would, kept in the world, not sent."""
    rt.inject("send_message", req.ctx.node_id)
    if req.channel in rt.world.facts.opted_out_channels:
        raise EffectFailed(CUSTOMER_OPTED_OUT, f"opted out of {req.channel}")
    n = rt.next_seq()
    rendered = rt.render(req.content, req.context)
    msg = MessageSent(f"SIM-MSG{n}", req.channel, "sandbox", rendered)
    rt.world.messages.append(msg)
    rt.record_after(req.then_record)
    return msg


#: Render and send one message through the channel's provider, exactly once.
SEND_MESSAGE: Effect[SendMessageRequest, MessageSent] = Effect(
    "send_message", SendMessageRequest, MessageSent, simulate=simulate_send_message
)

# --------------------------------------------------------------------------- compile


def ports(node: SendMessageNode) -> tuple[str, ...]:
    capped = (CAPPED,) if node.config.when_capped is WhenCapped.PORT else ()
    failed = (FAILED,) if node.config.on_failure is OnFailure.PORT else ()
    return (NEXT, *capped, *failed)


def validate(node: SendMessageNode, ctx: "Context", diags: Diagnostics) -> None:
    common.check_contact_rule(node, diags)
    if node.config.window is not None:
        check_window(node.id, common.label(node), node.config.window, diags)
    for field_name in ("content", "subject"):
        common.check_template_text(ctx, node, field_name, getattr(node.config, field_name), diags)
    if node.config.channel is Channel.WEBHOOK and not node.config.webhook_url:
        diags.error(
            Code.WEBHOOK_URL_REQUIRED,
            f"'{common.label(node)}' sends through a webhook but has no webhook URL.",
            nodes=[node.id],
            hint="Enter the https:// URL that should receive the message.",
        )
    if node.config.channel is Channel.WECHAT_SUBSCRIBE:
        _check_subscribe_content(node, diags)


def _check_subscribe_content(node: SendMessageNode, diags: Diagnostics) -> None:
    """A subscribe message's content must fill a subscribe template (engine.subscribe_content)."""
    try:
        subscribe_content.check(node.config.content)
    except subscribe_content.SubscribeContentError as exc:
        diags.error(
            Code.WECHAT_SUBSCRIBE_CONTENT,
            f"'{common.label(node)}' sends a WeChat subscribe message, but {exc}.",
            nodes=[node.id],
            hint='Write {"template_id": "…", "data": {"thing1": "…", "time2": "…"}} with the '
            "fields of the subscribe template, or plain text for the default template.",
            params={"field": "content", "problem": exc.problem, "key": exc.key, "limit": exc.limit},
        )
        return
    if subscribe_content.plain_too_long(node.config.content):
        limit = subscribe_content.PLAIN_LIMIT
        diags.warning(
            Code.WECHAT_SUBSCRIBE_CONTENT,
            f"'{common.label(node)}': plain text goes into the default subscribe template's "
            f"field, which usually takes at most {limit} characters.",
            nodes=[node.id],
            hint="Shorten the text, or write the template's fields as JSON.",
            params={"field": "content", "problem": "plain_long", "key": "", "limit": limit},
        )


def context_refs(node: SendMessageNode) -> list[tuple[str, str | None]]:
    return common.template_refs(node.config.content, node.config.subject)


def build(node: SendMessageNode, head: StepHead) -> SendMessageStep:
    msg = node.config
    return SendMessageStep(
        head.node_id,
        head.label,
        head.transitions,
        channel=msg.channel.value,
        subject=msg.subject,
        content=msg.content,
        webhook_url=msg.webhook_url,
        on_failure=common.on_failure(msg.on_failure),
        window=build_window(node.config.window),
        contact=common.contact_rule(msg),
    )


# --------------------------------------------------------------------------- run


async def run(
    step: SendMessageStep, it: "Interpreter", entry: "TraceEntry", visit: int
) -> str | None:
    gated = await contact_policy.gate(
        it,
        entry,
        step.node_id,
        visit,
        channel=step.channel,
        rule=step.contact,
        effect=SEND_MESSAGE,
        request=lambda check: SendMessageRequest(
            ctx=it.effect_ctx(step.node_id, visit),
            channel=step.channel,
            content=step.content,
            subject=step.subject,
            webhook_url=step.webhook_url,
            context=it.template_context(),
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
    it.state.context[step.node_id] = {"message_id": result.message_id, "status": result.status}
    entry.result = {
        "message_id": result.message_id,
        "status": result.status,
        "rendered": result.rendered[:200],
    }
    entry.summary = f"{result.channel} message {result.status}"
    return NEXT


SPEC = KindSpec(
    kind=NodeKind.SEND_MESSAGE,
    node=SendMessageNode,
    step=SendMessageStep,
    ir_classes=(SendMessageStep,),
    ports=ports,
    static_ports=(NEXT,),
    validate=validate,
    build=build,
    run=run,
    effects=(SEND_MESSAGE,),
    failure_ports={IrOnFailure.CONTINUE: NEXT, IrOnFailure.EXIT: None, IrOnFailure.PORT: FAILED},
    context_fields=("failed", "capped"),
    context_refs=context_refs,
    example={"channel": "sms", "content": "{{ customer.name }}，欢迎回来"},
)

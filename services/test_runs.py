"""Test run of a draft: "what happens to a customer who buys on day 5?" in milliseconds.

The draft is compiled like a publish would, then run by the real interpreter under the
virtual clock of :mod:`engine.simulation` with sandbox providers (no real coupon, message or
task). The customer is a synthetic profile (or a real customer's profile copied into one);
the script is a few lines such as::

    purchase ¥300 on day 5
    task outcome interested on day 2
    coupon_redeemed on day 12 14:00
    第3天 到店

The result is a :class:`services.run_explain.RunExplanation`, the same shape as a live run's.
Templates render with the worker's renderer and limits (:mod:`engine.rendering`); a
template that goes past a limit takes the node's ``on_failure`` path as it would live, and
is listed in :attr:`TestRunResult.limit_errors`. The simulation is CPU work: a web route
calls :func:`run_test_blocking` from a worker thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from db.crud import contact_policy as policy_crud
from engine import ir
from engine.compiler import compile_document
from engine.compiler.diagnostics import Diagnostic
from engine.contact_policy import (
    COUPON,
    GUIDE_TASK,
    MARKETING,
    MESSAGE_CHANNELS,
    Contact,
    ContactPolicy,
)
from engine.effects import CustomerFacts, Effect, EffectFailed, SendMessageRequest
from engine.interpreter import Interpreter, new_state
from engine.ports import COMPLETED
from engine.rendering import TemplateLimitError
from engine.runtime import CustomerEventIn, RunState
from engine.simulation import (
    CouponTemplateSpec,
    SandboxWorld,
    ScriptItem,
    SimulatedRuntime,
    SimulationStalled,
)
from services.run_explain import RunExplanation, explain

#: Words a marketer may type for common event types.
EVENT_ALIASES = {
    "购买": "purchase",
    "下单": "purchase",
    "到店": "store_visit",
    "浏览": "browse",
    "用券": "coupon_redeemed",
    "核销": "coupon_redeemed",
}
_EN = re.compile(
    r"^(?:(?:task(?:\s+outcome)?|任务结果)\s+(?P<outcome>[\w-]+)(?:\s+at\s+(?P<node>[\w-]+))?"
    r"|(?P<event>[^\s¥￥]+)(?:\s*[¥￥]\s*(?P<amount>\d+(?:\.\d+)?))?)"
    r"\s+on\s+day\s+(?P<day>\d+(?:\.\d+)?)(?:\s+(?P<time>\d{1,2}:\d{2}))?$",
    re.IGNORECASE,
)
_ZH = re.compile(
    r"^第\s*(?P<day>\d+(?:\.\d+)?)\s*天(?:\s+(?P<time>\d{1,2}:\d{2}))?\s+"
    r"(?:(?:任务结果|task)\s+(?P<outcome>[\w-]+)|(?P<event>[^\s¥￥]+)"
    r"(?:\s*[¥￥]\s*(?P<amount>\d+(?:\.\d+)?))?)$"
)


class ScriptError(ValueError):
    """A script line that could not be read; names the line and shows the accepted forms."""

    def __init__(self, line_no: int, line: str) -> None:
        super().__init__(
            f"line {line_no}: cannot read {line!r}; write e.g. 'purchase ¥300 on day 5', "
            "'task outcome interested on day 2' or '第3天 到店'"
        )
        self.line_no = line_no
        self.line = line


class ScriptOutcomeError(ValueError):
    """A scripted task outcome the run cannot take: the task does not define it, or no task
    is open when it comes. Names the line, what is wrong and what to write instead."""

    def __init__(self, line_no: int, line: str, problem: str) -> None:
        super().__init__(f"line {line_no}: {line!r}: {problem}")
        self.line_no = line_no
        self.line = line


class DraftInvalidError(ValueError):
    """The draft does not compile; ``diagnostics`` say where."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics if d.severity == "error"))
        self.diagnostics = diagnostics


@dataclass
class ScriptLine:
    """One parsed line: on ``day`` (fractional ok) at ``at_time``, an event or an outcome."""

    day: float
    at_time: time | None = None
    event_type: str | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    task_outcome: str | None = None
    task_node_id: str | None = None
    #: where it was written (1-based; a JSON script: the item's place) and as written
    line_no: int = 0
    text: str = ""


@dataclass
class TestRunResult:
    """What a test run produced: the explanation plus the sandbox's side effects."""

    explanation: RunExplanation
    coupons: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    elapsed_ms: float
    stalled: str | None = None
    #: Templates that went past a rendering limit: "'<node id>': <which limit>".
    limit_errors: list[str] = field(default_factory=list)


def parse_script(text: str) -> list[ScriptLine]:
    """Parse the script: one happening per line, or a JSON list of objects
    (``{"day": 5, "event": "purchase", "properties": {"amount": 300}}`` /
    ``{"day": 2, "task_outcome": "interested", "node": "call"}``)."""
    text = text.strip()
    if not text:
        return []
    if text.startswith("["):
        items = [_from_json(item) for item in json.loads(text)]
        for no, item in enumerate(items, start=1):
            item.line_no, item.text = no, f"item {no}"
        return items
    lines = []
    for no, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _EN.match(line) or _ZH.match(line)
        if m is None:
            raise ScriptError(no, line)
        g = m.groupdict()
        item = ScriptLine(day=float(g["day"]), at_time=_time(g.get("time")), line_no=no, text=line)
        if g.get("outcome"):
            item.task_outcome = g["outcome"]
            item.task_node_id = g.get("node")
        else:
            item.event_type = EVENT_ALIASES.get(g["event"], g["event"])
            if g.get("amount"):
                item.properties["amount"] = float(g["amount"])
        lines.append(item)
    return lines


def _from_json(item: dict[str, Any]) -> ScriptLine:
    return ScriptLine(
        day=float(item.get("day", 0)),
        at_time=_time(item.get("time")),
        event_type=item.get("event"),
        properties=dict(item.get("properties") or {}),
        task_outcome=item.get("task_outcome"),
        task_node_id=item.get("node"),
    )


def _time(value: str | None) -> time | None:
    if not value:
        return None
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def script_items(lines: list[ScriptLine], start: datetime) -> list[ScriptItem]:
    """Absolute script items: day N is ``start + N days`` (at ``time`` on that date if given)."""
    items = []
    for line in lines:
        at = start + timedelta(days=line.day)
        if line.at_time is not None:
            at = at.replace(hour=line.at_time.hour, minute=line.at_time.minute, second=0)
        items.append(
            ScriptItem(
                at=at,
                event_type=line.event_type,
                properties=line.properties,
                task_outcome=line.task_outcome,
                task_node_id=line.task_node_id,
            )
        )
    return items


Rq = TypeVar("Rq")
Rs = TypeVar("Rs")


class _SteppingRuntime(SimulatedRuntime):
    """The simulation runtime, keeping a copy of the state each time a new step begins and
    noting the templates that went past a rendering limit."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.snapshots: list[RunState] = []
        self.limit_errors: list[str] = []
        self._seen = -1
        #: the script line each scripted item came from (by the item's identity)
        self.lines: dict[int, ScriptLine] = {}

    def _deliver(self, item: ScriptItem) -> None:
        # A scripted outcome no open task can take was silently dropped: name its line.
        if item.task_outcome and self.interpreter is not None:
            line = self.lines.get(id(item)) or ScriptLine(day=0, text=item.task_outcome)
            open_tasks = [
                t
                for t in self.world.tasks
                if t["status"] == "open"
                and (item.task_node_id is None or t["node_id"] == item.task_node_id)
            ]
            if not open_tasks:
                raise ScriptOutcomeError(
                    line.line_no,
                    line.text,
                    f"no guide task{_at_node(item.task_node_id)} is open on day {line.day:g} — "
                    "it is created later (or has already ended): script the outcome on a day "
                    "after the task is created",
                )
            node_id = open_tasks[-1]["node_id"]
            defined = task_outcomes(self.interpreter.journey).get(node_id, ())
            if item.task_outcome not in defined:
                raise ScriptOutcomeError(
                    line.line_no,
                    line.text,
                    f"the task open then ({node_id!r}) has no outcome {item.task_outcome!r}; "
                    f"write one of: {', '.join(defined)}",
                )
        super()._deliver(item)

    async def effect(self, effect: Effect[Rq, Rs], request: Rq) -> Rs:
        try:
            return await super().effect(effect, request)
        except EffectFailed as failure:
            # engine.simulation raises the render failure as the cause of the business one.
            cause = failure.__cause__
            if isinstance(cause, TemplateLimitError) and isinstance(request, SendMessageRequest):
                self.limit_errors.append(f"'{request.ctx.node_id}': {cause.reason}")
            raise

    def now(self) -> datetime:
        interp = self.interpreter
        if interp is not None:
            count = interp.state.trace_dropped + len(interp.state.trace)
            if count != self._seen:
                self._seen = count
                self.snapshots.append(copy.deepcopy(interp.state))
        return super().now()


def task_outcomes(journey: ir.CompiledJourney) -> dict[str, tuple[str, ...]]:
    """Every guide task step of ``journey`` → the outcomes a guide may report."""
    return {
        step.node_id: step.outcomes or (COMPLETED,)
        for step in journey.steps
        if isinstance(step, ir.AssignTaskStep)
    }


def check_outcomes(journey: ir.CompiledJourney, lines: list[ScriptLine]) -> None:
    """Refuse a scripted outcome no task of ``journey`` defines (or a task it does not
    have), naming the line: :class:`ScriptOutcomeError`."""
    tasks = task_outcomes(journey)
    for line in lines:
        outcome = line.task_outcome
        if not outcome:
            continue
        if line.task_node_id is not None:
            if line.task_node_id not in tasks:
                raise ScriptOutcomeError(
                    line.line_no,
                    line.text,
                    f"{line.task_node_id!r} is not a guide task step of this draft; its task "
                    f"steps are: {', '.join(tasks) or 'none'}",
                )
            if outcome not in tasks[line.task_node_id]:
                raise ScriptOutcomeError(
                    line.line_no,
                    line.text,
                    f"the task {line.task_node_id!r} has no outcome {outcome!r}; write one of: "
                    f"{', '.join(tasks[line.task_node_id])}",
                )
        elif not tasks:
            raise ScriptOutcomeError(
                line.line_no, line.text, "this draft gives no guide task, so nothing takes it"
            )
        elif not any(outcome in outs for outs in tasks.values()):
            known = sorted({o for outs in tasks.values() for o in outs})
            raise ScriptOutcomeError(
                line.line_no,
                line.text,
                f"no guide task of this draft has the outcome {outcome!r}; write one of: "
                f"{', '.join(known)}",
            )


def _at_node(node_id: str | None) -> str:
    return f" at {node_id!r}" if node_id else ""


def compile_draft(
    document: dict[str, Any],
    *,
    journey_id: str,
    coupon_templates: set[str],
    max_points_per_step: int | None = None,
) -> ir.CompiledJourney:
    """Compile a draft as a publish would (``max_points_per_step``: the chain's, from its
    policy row); raises :class:`DraftInvalidError` on errors."""
    result = compile_document(
        document,
        journey_id=journey_id,
        version=0,
        coupon_templates=coupon_templates,
        max_points_per_step=max_points_per_step,
    )
    if result.journey is None:
        raise DraftInvalidError(list(result.diagnostics))
    return result.journey


def default_start(tz: str = "Asia/Shanghai") -> datetime:
    """Today 10:00 in the journey's timezone: a readable day 0."""
    now = datetime.now(ZoneInfo(tz))
    return now.replace(hour=10, minute=0, second=0, microsecond=0)


async def run_test(
    journey: ir.CompiledJourney,
    facts: CustomerFacts,
    *,
    coupon_templates: dict[str, CouponTemplateSpec],
    script: list[ScriptLine],
    start: datetime | None = None,
    entry_properties: dict[str, Any] | None = None,
    past_events: list[tuple[float, str]] | None = None,
    template_customer: dict[str, Any] | None = None,
    policy: ContactPolicy | None = None,
    contacts: list[tuple[float, str]] | None = None,
) -> TestRunResult:
    """Run ``journey`` for ``facts`` in the sandbox; ``past_events`` are (days before, type);
    ``template_customer``: what messages see of the customer beyond the facts
    (:func:`template_customer`); ``policy``: the brand's contact policy (:func:`live_policy`)
    and ``contacts`` the customer's earlier contacts it counts, (days before, channel)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    start = start or default_start(journey.timezone)
    world = SandboxWorld(
        facts=copy.deepcopy(facts),
        coupon_templates={k: copy.copy(v) for k, v in coupon_templates.items()},
        past_events=[(start - timedelta(days=d), t) for d, t in (past_events or [])],
        template_customer=dict(template_customer or {}),
        policy=policy,
        contacts=[
            Contact(start - timedelta(days=d), channel, MARKETING)
            for d, channel in (contacts or [])
        ],
    )
    check_outcomes(journey, script)
    items = script_items(script, start)
    runtime = _SteppingRuntime(world, start, items)
    runtime.lines = {id(item): line for item, line in zip(items, script, strict=True)}
    entry_event = _entry_event(journey, start, entry_properties)
    if entry_event is not None:
        world.past_events.append((start, entry_event.type))
    state = new_state(
        customer_id=facts.customer_id,
        enrollment_id="test",
        entered_at=start,
        entry_node_id=journey.entry_node_id,
        entry_event=entry_event,
    )
    interp = Interpreter(journey, runtime, workflow_id=f"test-{journey.journey_id}", state=state)
    runtime.interpreter = interp
    stalled = None
    try:
        await interp.run()
    except SimulationStalled as exc:
        stalled = str(exc)
    explanation = explain(
        interp.state,
        journey,
        source="simulation",
        workflow_id=f"test-{journey.journey_id}",
        journey_id=journey.journey_id,
        version=None,
        snapshots=runtime.snapshots,
    )
    return TestRunResult(
        explanation=explanation,
        coupons=[dict(c.__dict__) for c in world.coupons],
        messages=[dict(m.__dict__) for m in world.messages],
        tasks=[dict(t) for t in world.tasks],
        elapsed_ms=(loop.time() - began) * 1000,
        stalled=stalled,
        limit_errors=runtime.limit_errors,
    )


def run_test_blocking(
    journey: ir.CompiledJourney,
    facts: CustomerFacts,
    *,
    coupon_templates: dict[str, CouponTemplateSpec],
    script: list[ScriptLine],
    past_events: list[tuple[float, str]] | None = None,
    template_customer: dict[str, Any] | None = None,
    policy: ContactPolicy | None = None,
    contacts: list[tuple[float, str]] | None = None,
) -> TestRunResult:
    """:func:`run_test` on an event loop of its own, for a caller in a worker thread (a plain
    ``def`` route): the simulation and its template rendering are CPU work that must not hold
    the web app's event loop."""
    return asyncio.run(
        run_test(
            journey,
            facts,
            coupon_templates=coupon_templates,
            script=script,
            past_events=past_events,
            template_customer=template_customer,
            policy=policy,
            contacts=contacts,
        )
    )


#: What a test run's earlier contacts may name: every channel the contact policy counts.
CONTACT_CHANNELS = (*MESSAGE_CHANNELS, COUPON, GUIDE_TASK)
#: The same in the marketers' words (the form's zh-CN example is "短信 2, 优惠券 5").
CONTACT_ALIASES = {
    "短信": "sms",
    "企微": "wecom",
    "企业微信": "wecom",
    "微信模板": "wechat_template",
    "订阅通知": "wechat_subscribe",
    "邮件": "email",
    "券": COUPON,
    "优惠券": COUPON,
    "任务": GUIDE_TASK,
    "导购任务": GUIDE_TASK,
}


def parse_contacts(text: str) -> list[tuple[float, str]]:
    """The customer's earlier contacts for a test run: ``"sms 2, coupon 5"`` (channel, days
    ago) → ``[(2.0, "sms"), (5.0, "coupon")]``; ValueError naming what it cannot read."""
    out = []
    for raw in re.split(r"[,，\n]", text):
        item = raw.strip()
        if not item:
            continue
        parts = item.split()
        try:
            channel, days = CONTACT_ALIASES.get(parts[0], parts[0]), float(parts[1])
        except (IndexError, ValueError):
            channel, days = "", -1.0
        if len(parts) != 2 or channel not in CONTACT_CHANNELS or not 0 <= days <= 365:
            raise ValueError(
                f"earlier contacts: cannot read {item!r}; write e.g. 'sms 2, coupon 5' "
                f"(one of {', '.join(CONTACT_CHANNELS)}, then days ago, 0 to 365)"
            )
        out.append((days, channel))
    return out


def customer_contacts(*, session: Any, customer_id: str) -> list[tuple[float, str]]:
    """A real customer's contacts of the last year as the caps count them, (days ago,
    channel): a test run that copies the customer starts from their real ledger."""
    if not customer_id:
        return []
    now = datetime.now(UTC)
    return [
        ((now - c.at).total_seconds() / 86400, c.channel)
        for c in policy_crud.contacts_of(
            session=session, customer_id=customer_id, since=now - timedelta(days=365)
        )
    ]


def live_policy(*, session: Any) -> ContactPolicy:
    """The brand's contact policy as it stands, for a test run's sandbox."""
    return policy_crud.as_policy(policy_crud.get_policy_row(session=session))


def _entry_event(
    journey: ir.CompiledJourney, start: datetime, properties: dict[str, Any] | None
) -> CustomerEventIn | None:
    entry = journey.step(journey.entry_node_id)
    trigger = getattr(entry, "trigger", None)
    if not isinstance(trigger, ir.EventEntry):
        return None
    return CustomerEventIn("test-entry", trigger.event_type, start.isoformat(), properties or {})


def sandbox_coupons(*, session: Any) -> dict[str, CouponTemplateSpec]:
    """The chain's coupon templates as sandbox specs (stock is copied, never spent)."""
    from db import crud

    return {
        t.id: CouponTemplateSpec(t.id, t.face_value, t.min_spend, t.validity_days, t.stock)
        for t in crud.list_coupon_templates(session=session)
    }


def facts_for(
    *,
    session: Any,
    customer_id: str = "",
    name: str = "测试客户",
    member_level: str = "silver",
    rfm_class: str = "",
    tags: str = "",
    birthday: str = "",
    guide_id: str = "G1",
    segments: str = "",
    segment_ids: tuple[str, ...] | list[str] = (),
    **_ignored: Any,
) -> CustomerFacts:
    """A real customer's profile (read once, then only the sandbox changes it; their
    membership of ``segment_ids`` evaluated now), or a synthetic one from the form's fields
    (``segments``: the ids of the segments it is in, comma-separated)."""
    if customer_id:
        from activities.facts import load_facts
        from engine.effects import FactsRequest

        facts = load_facts(
            session,
            FactsRequest(
                customer_id,
                datetime.now(ZoneInfo("UTC")).isoformat(),
                [],
                [],
                list(segment_ids),
            ),
        )
        if not facts.found:
            raise ValueError(f"no customer with id {customer_id!r}")
        return facts
    return CustomerFacts(
        customer_id="TEST",
        name=name,
        member_level=member_level,
        rfm_class=rfm_class or None,
        tags=_split_list(tags),
        birthday=birthday or None,
        guide_id=guide_id or None,
        segments=dict.fromkeys(_split_list(segments), True),
    )


def template_customer(*, session: Any, facts: CustomerFacts) -> dict[str, Any]:
    """What a message of a test run sees of ``facts``' customer, as the worker's renderer
    (``activities.rendering.customer_variables``) would show it: a real customer's row, or
    for a synthetic one its name's surname, its level's name and its guide's store."""
    from activities.rendering import customer_variables
    from db.models import Customer, Guide, Store
    from db.models.customers import MEMBER_LEVEL_NAMES

    customer = session.get(Customer, facts.customer_id) if facts.customer_id != "TEST" else None
    guide = session.get(Guide, facts.guide_id) if facts.guide_id else None
    store_id = facts.store_id or (guide.store_id if guide is not None else None)
    store = session.get(Store, store_id) if store_id else None
    if customer is not None:
        return customer_variables(customer, store, guide)
    return {
        "surname": facts.name[:1],
        "member_level_name": MEMBER_LEVEL_NAMES.get(facts.member_level, facts.member_level),
        "phone_tail": "",
        "gender": "",
        "store_id": store_id or "",
        "store_name": store.name if store is not None else "",
        "city": store.city if store is not None else "",
        "guide_name": guide.name if guide is not None else "",
    }


def _split_list(text: str) -> list[str]:
    return [t.strip() for t in text.replace("，", ",").split(",") if t.strip()]

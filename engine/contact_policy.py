"""The brand's contact policy (issue 15): quiet hours and frequency caps across journeys.

Pure and stdlib-only. :func:`decide` is the one decision — used by the real activity
(``activities.contact_policy``, over the ``contact_ledger`` table, atomically) and by the
sandbox (:func:`simulate_check`, over the simulation world) — and :func:`gate` is what an
action step (``send_message``, ``send_coupon``, ``assign_guide_task``) runs before its side
effect: it asks for :data:`CHECK_CONTACT_POLICY`, defers through a durable timer while quiet
hours last (never a wall-clock sleep, never dropped), and applies the step's
:class:`~engine.ir_parts.ContactRule` when a cap is reached.

Runs started before release ``journey-contact-policy`` (``engine.runtime.PATCHES``) never
ask. The policy itself is read by the activity at each check, not compiled into journeys:
a change applies to runs already waiting from their next action on.
"""

# No "from __future__ import annotations": Temporal resolves these dataclasses on every
# payload (see engine/effects.py).

from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo

from engine.effect_parts import Effect, EffectContext
from engine.ir_parts import ContactRule

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from engine.interpreter import Interpreter
    from engine.kinds.wait import Window
    from engine.runtime import TraceEntry
    from engine.simulation import SimulatedRuntime

#: The port a step whose rule says ``port`` follows when a cap is reached.
CAPPED = "capped"

MARKETING = "marketing"
SERVICE = "service"
CATEGORIES = (MARKETING, SERVICE)
SKIP, WAIT, PORT = "skip", "wait", "port"
WHEN_CAPPED = (SKIP, WAIT, PORT)

ALLOW, DEFER, CAPPED_OUTCOME = "allow", "defer", "capped"
#: The rule name a deferral by quiet hours carries (caps carry their own id).
QUIET_HOURS = "quiet_hours"
#: The rule name a deferral into the step's own send window carries.
SEND_WINDOW = "send_window"

#: Message channels (``send_message``), and the contact channels of the other actions.
MESSAGE_CHANNELS = ("sms", "wecom", "wechat_template", "wechat_subscribe", "email", "webhook")
COUPON = "coupon"
GUIDE_TASK = "guide_task"
#: What a cap may count: every contact, every message, one message channel, coupons, tasks.
CAP_CHANNELS = ("any", "message", *MESSAGE_CHANNELS, COUPON, GUIDE_TASK)
#: Which categories a cap counts: both (the default: service is exempt from quiet hours,
#: not from caps), or marketing only.
CAP_CATEGORIES = ("all", MARKETING)
#: Limits a policy must keep (the page and API refuse others with 422).
MAX_CAP_WINDOW_DAYS = 365
MAX_CAP_CONTACTS = 100


@dataclass(frozen=True)
class QuietHours:
    """Local times (``HH:MM``, customer's zone) between which marketing is not sent; a
    start after the end spans midnight (21:00–08:00)."""

    start: str
    end: str


@dataclass(frozen=True)
class FrequencyCap:
    """At most ``max_contacts`` contacts of ``channel`` (and ``category``) per rolling
    ``window_days``, across every journey."""

    id: str
    channel: str
    max_contacts: int
    window_days: int
    category: str = "all"


@dataclass
class ContactPolicy:
    quiet_hours: QuietHours | None = None
    caps: list[FrequencyCap] = field(default_factory=list)


@dataclass
class Contact:
    """One contact the ledger counts (a decision that let an action go out)."""

    at: datetime
    channel: str
    category: str


#: What 智能回访 counts as a contact: a message sent (any channel) or a guide's completed
#: task (``guide_task``); coupons are not contacts there (they still count against caps).
RECENCY_CHANNELS = (*MESSAGE_CHANNELS, GUIDE_TASK)


@dataclass(frozen=True)
class ContactRecency:
    """智能回访: when and how the customer was last contacted, and how often lately."""

    last_at: datetime | None = None
    last_channel: str | None = None
    contacts_7d: int = 0
    contacts_30d: int = 0


def recency(contacts: "Iterable[Contact]", as_of: datetime) -> ContactRecency:
    """The recency of ``contacts`` (those of :data:`RECENCY_CHANNELS` up to ``as_of``): the
    latest one, and how many fall in the 7 / 30 days before ``as_of``. The database
    (``db.crud.contact_policy.contact_recency``) and the sandbox both answer with this."""
    counted = sorted(
        (c for c in contacts if c.channel in RECENCY_CHANNELS and c.at <= as_of),
        key=lambda c: c.at,
    )
    if not counted:
        return ContactRecency()
    last = counted[-1]
    return ContactRecency(
        last_at=last.at,
        last_channel=last.channel,
        contacts_7d=sum(1 for c in counted if c.at > as_of - timedelta(days=7)),
        contacts_30d=sum(1 for c in counted if c.at > as_of - timedelta(days=30)),
    )


# --------------------------------------------------------------------------- effect


@dataclass
class PolicyCheckRequest:
    """May this visit's action contact the customer now? ``attempt`` counts the checks of
    one visit (a re-check after a deferral or a cap wait is a new decision)."""

    ctx: EffectContext
    channel: str
    category: str = MARKETING
    attempt: int = 1

    @property
    def key(self) -> str:
        """The decision's idempotency key: a retried activity gets the same decision."""
        return f"{self.ctx.idempotency_key}@{self.attempt}"


@dataclass
class PolicyDecision:
    outcome: str  # allow | defer | capped
    rule: str = ""  # quiet_hours, or the cap's id
    until: str | None = None  # defer: when quiet hours end; capped: when the cap frees
    detail: str = ""  # the rule in words: "21:00–08:00 Asia/Shanghai", "2 per 7 days"


def parse_hhmm(value: str) -> time:
    """``"21:30"`` → 21:30; ValueError for anything else."""
    hours, _, minutes = value.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError(f"{value!r} is not HH:MM")
    return time(int(hours), int(minutes))


def quiet_until(quiet: QuietHours, at: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet hours around ``at`` end (UTC), or None when ``at`` is outside them."""
    start, end = parse_hhmm(quiet.start), parse_hhmm(quiet.end)
    local = at.astimezone(zone)
    now = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= now < end
        day = local.date()
    else:  # spans midnight: the evening part ends tomorrow
        inside = now >= start or now < end
        day = local.date() if now < end else local.date() + timedelta(days=1)
    if not inside:
        return None
    return datetime.combine(day, end, tzinfo=zone).astimezone(UTC)


def cap_applies(cap: FrequencyCap, channel: str, category: str) -> bool:
    if cap.category != "all" and cap.category != category:
        return False
    if cap.channel == "any":
        return True
    if cap.channel == "message":
        return channel in MESSAGE_CHANNELS
    return cap.channel == channel


def cap_words(cap: FrequencyCap) -> str:
    scope = cap.channel if cap.category == "all" else f"{cap.channel}, {cap.category}"
    return f"{cap.max_contacts} per {cap.window_days} days ({scope})"


def decide(
    policy: ContactPolicy,
    *,
    zone: ZoneInfo,
    contacts: list[Contact],
    channel: str,
    category: str,
    at: datetime,
) -> PolicyDecision:
    """The policy's answer for one action at ``at``: quiet hours first (marketing only),
    then every cap that counts this channel and category (the one that frees last wins)."""
    if category != SERVICE and policy.quiet_hours is not None:
        end = quiet_until(policy.quiet_hours, at, zone)
        if end is not None:
            q = policy.quiet_hours
            return PolicyDecision(
                DEFER, QUIET_HOURS, end.isoformat(), f"{q.start}–{q.end} {zone.key}"
            )
    worst: tuple[datetime, FrequencyCap] | None = None
    for cap in policy.caps:
        if not cap_applies(cap, channel, category):
            continue
        window = timedelta(days=cap.window_days)
        counted = sorted(
            c.at
            for c in contacts
            if at - window < c.at <= at and cap_applies(cap, c.channel, c.category)
        )
        if len(counted) >= cap.max_contacts:
            # the cap frees when enough of the counted contacts have left the window
            frees = counted[len(counted) - cap.max_contacts] + window
            if worst is None or frees > worst[0]:
                worst = (frees, cap)
    if worst is not None:
        frees, cap = worst
        return PolicyDecision(CAPPED_OUTCOME, cap.id, frees.isoformat(), cap_words(cap))
    return PolicyDecision(ALLOW)


async def simulate_check(rt: "SimulatedRuntime", req: PolicyCheckRequest) -> PolicyDecision:
    """The sandbox: the world's policy and earlier contacts, once per decision key."""
    key = f"check_contact_policy:{req.key}"
    if key in rt.done:
        return rt.done[key]
    world = rt.world
    at = rt.clock
    decision = decide(
        world.policy or ContactPolicy(),
        zone=_zone(world.facts.timezone or world.facts.store_timezone),
        contacts=world.contacts,
        channel=req.channel,
        category=req.category,
        at=at,
    )
    if decision.outcome == ALLOW:
        world.contacts.append(Contact(at, req.channel, req.category))
    rt.done[key] = decision
    return decision


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except Exception:  # unknown zone in customer data: the chain's default, not a failure
        return ZoneInfo("Asia/Shanghai")


#: Decide (and, when allowed, record in the contact ledger) one contact, atomically per
#: customer; a local activity (one short write transaction, no business failures).
CHECK_CONTACT_POLICY: Effect[PolicyCheckRequest, PolicyDecision] = Effect(
    "check_contact_policy", PolicyCheckRequest, PolicyDecision, local=True, simulate=simulate_check
)

# --------------------------------------------------------------------------- the gate


class Deniable(Protocol):
    """The result of a side effect that carries its own contact check: ``denied`` is the
    policy's answer when the action did not go out (nothing else is set then)."""

    denied: PolicyDecision | None


Rs = TypeVar("Rs", bound=Deniable)


@dataclass(frozen=True)
class Gate(Generic[Rs]):
    """What an action step's gate did: sent its side effect (``result``; ``None`` when the
    effect failed for good), or left by ``port`` without sending (``None``: the run was
    stopped or reached its goal while deferred)."""

    sent: bool
    result: Rs | None = None
    port: str | None = None


def denied_result(result_type: type[Rs], decision: PolicyDecision) -> Rs:
    """A result of ``result_type`` saying the contact policy held the action back (its
    other fields blank: nothing was done)."""
    blank: dict[Any, Any] = {str: "", float: 0.0, int: 0, bool: False}
    cls: Any = result_type
    required = {
        f.name: blank.get(f.type)
        for f in fields(cls)
        if f.default is MISSING and f.default_factory is MISSING
    }
    return cast(Rs, cls(**required, denied=decision))


async def gate(
    it: "Interpreter",
    entry: "TraceEntry",
    node_id: str,
    visit: int,
    *,
    channel: str,
    rule: ContactRule,
    effect: Effect[Any, Rs],
    request: "Callable[[PolicyCheckRequest | None], Any]",
    window: "Window | None" = None,
    skip_port: str = "next",
) -> Gate[Rs]:
    """Run the step's side effect (``effect`` with ``request(check)``, its request built
    with the check; ``it.attempt``) once the policy lets it go out, waiting on durable
    timers; record every deferral, skip or capped decision (with its rule) on the visit's
    trace entry (``inputs["policy"]``) and, for a capped action, ``ctx.<node>.capped``. A
    step with its own send ``window`` first waits for it (again after every wait: a cap
    may free at night).

    Since release ``journey-contact-in-effect`` the check rides on the action's activity
    (``request(check)``; a held-back action answers ``denied``); runs of release
    ``journey-contact-policy`` ask :data:`CHECK_CONTACT_POLICY` first and then send
    ``request(None)``; older runs just send ``request(None)``. A request carrying the run's
    end (``then_record``, see ``Interpreter.exit_record_after``) that went out becomes
    ``it.recorded_exit``."""
    from engine import semantics
    from engine.runtime import CONTACT_IN_EFFECT, CONTACT_POLICY

    async def send(check: PolicyCheckRequest | None) -> Rs | None:
        req = request(check)
        result = await it.attempt(entry, node_id, effect, req)
        if result is not None and result.denied is None and hasattr(req, "then_record"):
            it.recorded_exit = req.then_record
        return result

    if not it.rt.patched(CONTACT_POLICY):
        return Gate(True, await send(None))
    in_effect = it.rt.patched(CONTACT_IN_EFFECT)
    notes: list[dict[str, Any]] = []
    deadline = it.rt.now() + timedelta(seconds=rule.max_wait_seconds)
    attempt = 0
    clashes = 0  # quiet-hours deferrals of a step with a send window
    while True:
        if window is not None:
            tz_name = await it.timezone(window.timezone_source)
            now = it.rt.now()
            opens = semantics.align_to_window(
                now, window, semantics.zone(tz_name, it.journey.timezone)
            ).astimezone(UTC)
            if opens > now:
                notes.append(
                    {
                        "decision": "deferred",
                        "rule": SEND_WINDOW,
                        "detail": f"{_hhmm(window.start_minute)}–{_hhmm(window.end_minute)} "
                        f"{tz_name}",
                        "at": it.now_iso(),
                        "until": opens.isoformat(),
                    }
                )
                entry.inputs["policy"] = notes
                entry.summary = f"deferred into the send window until {opens.isoformat()}"
                await it.park(node_id, "timer", opens, "send window")
                await it.rt.wait(until=opens, wake=it.interrupted)
                it.state.waiting = None
                if it.interrupted():
                    return Gate(False)
        attempt += 1
        req = PolicyCheckRequest(it.effect_ctx(node_id, visit), channel, rule.category, attempt)
        if in_effect:
            result = await send(req)
            if result is None or result.denied is None:
                return Gate(True, result)  # sent (or failed for good: its failure port)
            decision = result.denied
        else:
            decision = await it.rt.effect(CHECK_CONTACT_POLICY, req)
        if decision.outcome == ALLOW:
            return Gate(True, await send(None))
        until = datetime.fromisoformat(decision.until) if decision.until else it.rt.now()
        note: dict[str, Any] = {
            "decision": "deferred",
            "rule": decision.rule,
            "detail": decision.detail,
            "at": it.now_iso(),
            "until": decision.until,
        }
        notes.append(note)
        entry.inputs["policy"] = notes
        if decision.outcome == DEFER and window is not None:
            clashes += 1
            if clashes > 1:
                # quiet hours pushed it out of its send window twice in a row: the window
                # lies inside quiet hours and the step would wait for ever — skip it
                note["decision"] = "skipped"
                entry.summary = f"skipped: its send window lies inside {decision.rule}"
                return Gate(False, port=skip_port)
        if decision.outcome == DEFER or (rule.when_capped == WAIT and until <= deadline):
            if decision.outcome == CAPPED_OUTCOME:
                note["decision"] = "waited"
            entry.summary = f"{note['decision']} by {decision.rule} until {decision.until}"
            await it.park(node_id, "timer", until, f"contact policy: {decision.rule}")
            await it.rt.wait(until=until, wake=it.interrupted)
            it.state.waiting = None
            if it.interrupted():
                return Gate(False)
            continue
        capped = rule.when_capped == PORT
        note["decision"] = "capped" if capped else "skipped"
        it.state.context[node_id] = {"capped": True, "cap": decision.rule}
        entry.result = {"capped": True, "cap": decision.rule, "frees_at": decision.until}
        entry.summary = f"{note['decision']} by {decision.rule} ({decision.detail})"
        return Gate(False, port=CAPPED if capped else skip_port)

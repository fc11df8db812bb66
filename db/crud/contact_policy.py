"""The contact policy's persistence: the policy row, its change log, and the contact ledger's
atomic check-and-record (engine.contact_policy decides; this module makes it atomic).

**Atomic per customer.** :func:`check_contact` reads the customer's counted contacts and
records the new one in one write transaction that holds a per-customer lock: SQLite's
``BEGIN IMMEDIATE`` (one writer at a time, so two checks never interleave), PostgreSQL's
``pg_advisory_xact_lock`` on the customer id (held until commit; checks of other customers
go on in parallel). Two journeys sending to one customer at the same instant can never both
pass a cap of 1. **Idempotent**: the decision is stored under its key (workflow id +
enrollment + node + visit + check number), and a retried activity reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Table, and_, bindparam, func, literal, or_, text
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from db.crud._util import aware
from db.crud.audit import add_policy_changes
from db.models import Customer, GuideTask, Store, utcnow
from db.models.contact_policy import (
    POLICY_ROW_ID,
    ContactLedgerEntry,
    ContactPolicyRow,
    PolicyChange,
)
from db.session import begin_write
from engine.contact_policy import (
    ALLOW,
    CAPPED_OUTCOME,
    DEFER,
    GUIDE_TASK,
    MESSAGE_CHANNELS,
    SERVICE,
    Contact,
    ContactPolicy,
    ContactRecency,
    FrequencyCap,
    PolicyDecision,
    QuietHours,
    cap_applies,
    decide,
    recency,
)

#: How many changes the policy page lists.
CHANGES_LISTED = 50


def get_policy_row(*, session: Session) -> ContactPolicyRow:
    """The policy row (an unsaved empty one — no quiet hours, no caps — before the first
    change)."""
    return session.get(ContactPolicyRow, POLICY_ROW_ID) or ContactPolicyRow(id=POLICY_ROW_ID)


def as_policy(row: ContactPolicyRow) -> ContactPolicy:
    """The row as the engine's :class:`ContactPolicy`."""
    return _policy_of(row.quiet_start, row.quiet_end, row.caps)


def read_policy(*, session: Session) -> tuple[ContactPolicy, str | None]:
    """The policy and its fallback time zone, for a check: its columns in one plain select,
    no ORM object (every message, coupon and task asks; bench.throughput measured the
    missing row's ``ContactPolicyRow()`` — a validated model — as a quarter of a check)."""
    found = session.execute(
        select(
            ContactPolicyRow.quiet_start,
            ContactPolicyRow.quiet_end,
            ContactPolicyRow.caps,
            ContactPolicyRow.fallback_timezone,
        ).where(col(ContactPolicyRow.id) == POLICY_ROW_ID)
    ).first()
    if found is None:
        return ContactPolicy(), None
    quiet_start, quiet_end, caps, fallback = found
    return _policy_of(quiet_start, quiet_end, caps or []), fallback


def _policy_of(
    quiet_start: str | None, quiet_end: str | None, stored_caps: list[dict[str, Any]]
) -> ContactPolicy:
    quiet = QuietHours(quiet_start, quiet_end) if quiet_start and quiet_end else None
    caps = [
        FrequencyCap(
            id=str(c["id"]),
            channel=str(c["channel"]),
            max_contacts=int(c["max_contacts"]),
            window_days=int(c["window_days"]),
            category=str(c.get("category", "all")),
        )
        for c in stored_caps
    ]
    return ContactPolicy(quiet_hours=quiet, caps=caps)


def save_policy(
    *,
    session: Session,
    quiet_start: str | None,
    quiet_end: str | None,
    caps: list[dict[str, Any]],
    by: str,
    fallback_timezone: str | None = None,
    at: datetime | None = None,
) -> list[PolicyChange]:
    """Store the policy and one :class:`PolicyChange` per thing that changed (quiet hours;
    each cap added, changed or removed, by id). Validated by the caller
    (services.contact_policy). Commits; returns the changes (none: nothing changed)."""
    at = at or utcnow()
    begin_write(session)
    row = session.get(ContactPolicyRow, POLICY_ROW_ID)
    if row is None:
        row = ContactPolicyRow(id=POLICY_ROW_ID)
        session.add(row)
    changes: list[PolicyChange] = []
    old_quiet, new_quiet = (
        _quiet_words(row.quiet_start, row.quiet_end),
        _quiet_words(quiet_start, quiet_end),
    )
    if old_quiet != new_quiet:
        changes.append(
            PolicyChange(at=at, by=by, subject="quiet_hours", old=old_quiet, new=new_quiet)
        )
    if (row.fallback_timezone or "") != (fallback_timezone or ""):
        changes.append(
            PolicyChange(
                at=at,
                by=by,
                subject="fallback_timezone",
                old=row.fallback_timezone or "",
                new=fallback_timezone or "",
            )
        )
    old_caps = {str(c["id"]): c for c in row.caps}
    new_caps = {str(c["id"]): c for c in caps}
    for cap_id in sorted(old_caps.keys() | new_caps.keys()):
        old, new = old_caps.get(cap_id), new_caps.get(cap_id)
        if old != new:
            changes.append(
                PolicyChange(
                    at=at, by=by, subject=f"cap:{cap_id}", old=_cap_words(old), new=_cap_words(new)
                )
            )
    row.quiet_start, row.quiet_end = quiet_start, quiet_end
    row.fallback_timezone = fallback_timezone or None
    row.caps = [dict(c) for c in caps]
    row.updated_at, row.updated_by = at, by
    session.add_all(changes)
    add_policy_changes(session, changes)
    session.commit()
    return changes


def set_guide_capacity(
    *, session: Session, guide_id: str, capacity: int, by: str, at: datetime | None = None
) -> PolicyChange | None:
    """Set a guide's daily task capacity, recorded like a policy change. None when it was
    already ``capacity``; KeyError for an unknown guide."""
    from db.models import Guide

    begin_write(session)
    guide = session.get(Guide, guide_id)
    if guide is None:
        session.rollback()
        raise KeyError(guide_id)
    if guide.daily_capacity == capacity:
        session.commit()
        return None
    change = PolicyChange(
        at=at or utcnow(),
        by=by,
        subject=f"guide_capacity:{guide_id}",
        old=str(guide.daily_capacity),
        new=str(capacity),
    )
    guide.daily_capacity = capacity
    session.add_all([guide, change])
    add_policy_changes(session, [change])
    session.commit()
    return change


def set_policy_setting(
    *, session: Session, name: str, value: Any, by: str, words: Callable[[Any], str] = str
) -> PolicyChange | None:
    """Set one of the chain's settings on the policy row (``name``: its column, e.g.
    ``max_points_per_step``, ``publish_requires_approval``), recorded like a policy change
    (subject ``name``, old → new in ``words``) and in the audit log; committed. None when it
    was ``value`` already."""
    begin_write(session)
    row = session.get(ContactPolicyRow, POLICY_ROW_ID) or ContactPolicyRow(id=POLICY_ROW_ID)
    old = getattr(row, name)
    if old == value:
        session.commit()
        return None
    change = PolicyChange(by=by, subject=name, old=words(old), new=words(value))
    setattr(row, name, value)
    row.updated_at, row.updated_by = utcnow(), by
    session.add_all([row, change])
    add_policy_changes(session, [change])
    session.commit()
    return change


def list_changes(*, session: Session, limit: int = CHANGES_LISTED) -> list[PolicyChange]:
    """The newest changes first."""
    stmt = select(PolicyChange).order_by(col(PolicyChange.id).desc()).limit(limit)
    return list(session.exec(stmt).all())


def _quiet_words(start: str | None, end: str | None) -> str:
    """``"21:00-08:00"``, or ``""`` for none (the page words it)."""
    return f"{start}-{end}" if start and end else ""


def _cap_words(cap: dict[str, Any] | None) -> str:
    """``"2/7/message/all"`` (max contacts / window days / channel / category), or ``""``."""
    if cap is None:
        return ""
    return (
        f"{cap['max_contacts']}/{cap['window_days']}/{cap['channel']}/{cap.get('category', 'all')}"
    )


# --------------------------------------------------------------------------- the ledger


def customer_zones(
    *, session: Session, customer_ids: list[str], default: str
) -> dict[str, ZoneInfo]:
    """Each customer's zone: their own, else their store's, else ``default`` (HQ's); one
    query for all."""
    found = {
        cid: _first_zone(own, store, default)
        for cid, own, store in session.execute(
            select(col(Customer.id), col(Customer.timezone), col(Store.timezone))
            .outerjoin(Store, col(Store.id) == col(Customer.store_id))
            .where(col(Customer.id).in_(customer_ids))
        )
    }
    return {cid: found.get(cid) or _first_zone(None, None, default) for cid in customer_ids}


def _first_zone(*names: str | None) -> ZoneInfo:
    for name in names:
        if not name:
            continue
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue  # bad data in a profile: the next fallback, not a failed send
    return ZoneInfo("UTC")


def check_contact(
    *,
    session: Session,
    decision_key: str,
    customer_id: str,
    channel: str,
    category: str,
    at: datetime,
    default_zone: str,
    journey_id: str | None = None,
    node_id: str | None = None,
    workflow_id: str | None = None,
    reads: Session | None = None,
) -> PolicyDecision:
    """Decide one action under the current policy and record it, atomically per customer
    (see the module docstring); the same ``decision_key`` gets the same decision. A
    deferral by quiet hours is not recorded (it depends on the clock and policy alone, and
    the check after it is a new decision). What needs no lock (a stored decision, the
    policy, the customer's zone, a deferral) is read first in ``reads`` (else ``session``,
    whose read transaction ends before the write one): :func:`check_contacts` for one."""
    check = ContactCheck(
        decision_key, customer_id, channel, category, at, journey_id, node_id, workflow_id
    )
    (answer,) = check_contacts(
        session=session,
        reads=reads if reads is not None else session,
        checks=[check],
        default_zone=default_zone,
    )
    return answer


def _decision_of(row: ContactLedgerEntry) -> PolicyDecision:
    return _recorded(row.outcome, row.rule, row.until, row.detail)


def _recorded(outcome: str, rule: str, until: datetime | None, detail: str) -> PolicyDecision:
    """The decision a ledger record answers a retry with."""
    if outcome in ("sent", "void"):  # void: allowed, then the action failed for good
        return PolicyDecision(ALLOW)
    moment = aware(until)
    return PolicyDecision(CAPPED_OUTCOME, rule, moment.isoformat() if moment else None, detail)


def void_contacts(*, session: Session, idempotency_key: str) -> int:
    """Take back the contacts counted for the visit whose action has the idempotency key
    ``idempotency_key`` (its checks' decision keys are ``<key>@<attempt>``) after the
    action failed for good: ``sent`` → ``void``, no longer counted by caps or 智能回访.
    Committed; → how many."""
    begin_write(session)
    rows = list(
        session.exec(
            select(ContactLedgerEntry).where(
                col(ContactLedgerEntry.decision_key).startswith(
                    f"{idempotency_key}@", autoescape=True
                ),
                col(ContactLedgerEntry.outcome) == "sent",
            )
        )
    )
    for row in rows:
        row.outcome = "void"
        session.add(row)
    session.commit()
    return len(rows)


def contacts_of(*, session: Session, customer_id: str, since: datetime) -> list[Contact]:
    """A customer's counted contacts since ``since`` (for test runs' sandbox worlds)."""
    stmt = select(ContactLedgerEntry).where(
        col(ContactLedgerEntry.customer_id) == customer_id,
        col(ContactLedgerEntry.outcome) == "sent",
        col(ContactLedgerEntry.at) > since,
    )
    return [Contact(aware(r.at) or since, r.channel, r.category) for r in session.exec(stmt).all()]


def contact_recency(*, session: Session, customer_id: str, as_of: datetime) -> ContactRecency:
    """智能回访 as of ``as_of``: :func:`contact_recencies` for one customer."""
    return contact_recencies(session=session, customer_ids=[customer_id], as_of=as_of)[customer_id]


def contact_recencies(
    *, session: Session, customer_ids: list[str], as_of: datetime
) -> dict[str, ContactRecency]:
    """:func:`contact_recency` of many customers in four set-based queries (a segment
    enrollment's snapshots): each one's contacts of the last 30 days, and the latest of
    each kind at or before ``as_of``."""
    if not customer_ids:
        return {}
    since = as_of - timedelta(days=30)
    found: dict[str, list[Contact]] = {cid: [] for cid in customer_ids}
    ledger = (
        col(ContactLedgerEntry.customer_id).in_(customer_ids),
        col(ContactLedgerEntry.outcome) == "sent",
        col(ContactLedgerEntry.channel).in_(MESSAGE_CHANNELS),
        col(ContactLedgerEntry.at) <= as_of,
    )
    tasks = (
        col(GuideTask.customer_id).in_(customer_ids),
        col(GuideTask.status) == "completed",
        col(GuideTask.completed_at) <= as_of,
    )
    for cid, at, channel, category in session.execute(
        select(
            col(ContactLedgerEntry.customer_id),
            col(ContactLedgerEntry.at),
            col(ContactLedgerEntry.channel),
            col(ContactLedgerEntry.category),
        ).where(*ledger, col(ContactLedgerEntry.at) > since)
    ):
        found[cid].append(Contact(aware(at) or as_of, channel, category))
    for cid, at in session.execute(
        select(col(GuideTask.customer_id), col(GuideTask.completed_at)).where(
            *tasks, col(GuideTask.completed_at) > since
        )
    ):
        found[cid].append(Contact(aware(at) or as_of, GUIDE_TASK, SERVICE))
    quiet = [cid for cid, contacts in found.items() if not contacts]
    if quiet:
        latest = (
            select(
                col(ContactLedgerEntry.customer_id),
                func.max(col(ContactLedgerEntry.at)).label("at"),
            )
            .where(*ledger, col(ContactLedgerEntry.customer_id).in_(quiet))
            .group_by(col(ContactLedgerEntry.customer_id))
            .subquery()
        )
        for cid, at, channel, category in session.execute(
            select(
                col(ContactLedgerEntry.customer_id),
                col(ContactLedgerEntry.at),
                col(ContactLedgerEntry.channel),
                col(ContactLedgerEntry.category),
            ).join(
                latest,
                (col(ContactLedgerEntry.customer_id) == latest.c.customer_id)
                & (col(ContactLedgerEntry.at) == latest.c.at),
            )
        ):
            found[cid].append(Contact(aware(at) or as_of, channel, category))
        for cid, at in session.execute(
            select(col(GuideTask.customer_id), func.max(col(GuideTask.completed_at)))
            .where(*tasks, col(GuideTask.customer_id).in_(quiet))
            .group_by(col(GuideTask.customer_id))
        ):
            if at is not None:
                found[cid].append(Contact(aware(at) or as_of, GUIDE_TASK, SERVICE))
    return {cid: recency(contacts, as_of) for cid, contacts in found.items()}


@dataclass(frozen=True)
class ContactCheck:
    """One check's inputs for :func:`check_contacts` (as :func:`check_contact` takes them)."""

    decision_key: str
    customer_id: str
    channel: str
    category: str
    at: datetime
    journey_id: str | None = None
    node_id: str | None = None
    workflow_id: str | None = None


def check_contacts(
    *,
    session: Session,
    reads: Session,
    checks: list[ContactCheck],
    default_zone: str,
    known: Callable[[int, PolicyDecision], None] | None = None,
) -> list[PolicyDecision]:
    """:func:`check_contact` for several checks in one write transaction (the checks a
    worker process has waiting at once): on SQLite each write transaction queues for the one
    write lock behind every other writer, so a batch waits once instead of once per check.
    Same answers, in order: checks of one customer in one batch are decided one after the
    other and count each other (the session flushes each record before the next read); on
    PostgreSQL the batch holds every customer's advisory lock (taken in sorted order). A
    batch that fails to commit is decided again check by check.

    ``known(i, answer)`` hears each answer that is settled before the write lock — a stored
    decision (a retry), a deferral by quiet hours, and an *allow no cap can change* (no cap
    counts the check's channel and category: nothing another journey does can turn it) —
    so its action goes on without waiting for the lock; that allow's record is still
    written by this batch, as every other."""
    answers: list[PolicyDecision | None] = [None] * len(checks)
    try:
        policy, fallback_zone = read_policy(session=reads)
        fallback = fallback_zone or default_zone
        zones = customer_zones(
            session=reads, customer_ids=list({c.customer_id for c in checks}), default=fallback
        )
        stored = {
            r.decision_key: r
            for r in reads.exec(
                select(ContactLedgerEntry).where(
                    col(ContactLedgerEntry.decision_key).in_([c.decision_key for c in checks])
                )
            )
        }
        for i, c in enumerate(checks):
            earlier = stored.get(c.decision_key)
            answers[i] = settled(
                c,
                CheckReads(
                    _decision_of(earlier) if earlier is not None else None,
                    policy,
                    zones[c.customer_id],
                ),
            )
            if known is not None:
                answer = answers[i]
                if answer is not None:
                    known(i, answer)
                elif not any(cap_applies(cap, c.channel, c.category) for cap in policy.caps):
                    known(i, PolicyDecision(ALLOW))
    finally:
        if reads.in_transaction():
            reads.rollback()
    todo = [i for i, a in enumerate(answers) if a is None]
    if todo:
        try:
            _decide_batch(session, policy, zones, [(i, checks[i]) for i in todo], answers)
        except Exception:  # noqa: BLE001 - a racing retry or a lost lock: one by one
            session.rollback()
            if len(checks) == 1:
                raise
            for i in todo:
                (answers[i],) = check_contacts(
                    session=session, reads=reads, checks=[checks[i]], default_zone=default_zone
                )
    return [a for a in answers if a is not None]


@dataclass(frozen=True)
class CheckReads:
    """What an action's own check reads before it takes the write lock (:func:`read_check`):
    a stored decision (a retry), or else the policy and the customer's zone."""

    stored: PolicyDecision | None
    policy: ContactPolicy
    zone: ZoneInfo


# A check runs on every message, coupon and task: its statements are built once (bound
# parameters) and run as Core on the session's connection — building an expression and the
# ORM's execute path cost more CPU than the statement itself (bench.contact_policy).

#: The stored decision of ``:key`` and the policy, in one row (either may be missing).
_CHECK_READ = (
    core_select(
        col(ContactPolicyRow.quiet_start),
        col(ContactPolicyRow.quiet_end),
        col(ContactPolicyRow.caps),
        col(ContactPolicyRow.fallback_timezone),
        col(ContactLedgerEntry.outcome),
        col(ContactLedgerEntry.rule),
        col(ContactLedgerEntry.until),
        col(ContactLedgerEntry.detail),
    )
    .select_from(core_select(literal(1).label("one")).subquery())
    .outerjoin(ContactPolicyRow, col(ContactPolicyRow.id) == POLICY_ROW_ID)
    .outerjoin(ContactLedgerEntry, col(ContactLedgerEntry.decision_key) == bindparam("key"))
)
_LEDGER_READ = core_select(
    col(ContactLedgerEntry.decision_key),
    col(ContactLedgerEntry.customer_id),
    col(ContactLedgerEntry.outcome),
    col(ContactLedgerEntry.rule),
    col(ContactLedgerEntry.until),
    col(ContactLedgerEntry.detail),
    col(ContactLedgerEntry.at),
    col(ContactLedgerEntry.channel),
    col(ContactLedgerEntry.category),
)
_STORED_KEYS = col(ContactLedgerEntry.decision_key).in_(bindparam("keys", expanding=True))
#: Decisions stored under ``:keys`` (a racing retry's).
_STORED = _LEDGER_READ.where(_STORED_KEYS)
#: The same, and the contacts of ``:customers`` sent in ``(:first, :last]`` (what caps count).
_STORED_AND_COUNTED = _LEDGER_READ.where(
    or_(
        _STORED_KEYS,
        and_(
            col(ContactLedgerEntry.customer_id).in_(bindparam("customers", expanding=True)),
            col(ContactLedgerEntry.outcome) == "sent",
            col(ContactLedgerEntry.at) > bindparam("first"),
            col(ContactLedgerEntry.at) <= bindparam("last"),
        ),
    )
)


def read_check(
    *,
    reads: Session,
    check: ContactCheck,
    default_zone: str,
    zone_names: tuple[str | None, str | None] | None = None,
) -> CheckReads:
    """The reads of ``check`` that need no lock (in ``reads``, a read session): its stored
    decision, the policy and the customer's zone — from ``zone_names`` (the customer's own
    and their store's zone, when the caller has read them already), else read. The stored
    decision and the policy are one statement (a check is on every message, coupon and
    task: each round trip is another turn for the GIL among the worker's threads)."""
    found = reads.connection().execute(_CHECK_READ, {"key": check.decision_key}).one()
    quiet_start, quiet_end, caps, fallback_zone, outcome, rule, until, detail = found
    policy = _policy_of(quiet_start, quiet_end, caps or [])
    stored = _recorded(outcome, rule, until, detail) if outcome is not None else None
    fallback = fallback_zone or default_zone
    if zone_names is not None:
        zone = _first_zone(*zone_names, fallback)
    else:
        zone = customer_zones(session=reads, customer_ids=[check.customer_id], default=fallback)[
            check.customer_id
        ]
    return CheckReads(stored, policy, zone)


def settled(check: ContactCheck, seen: CheckReads) -> PolicyDecision | None:
    """``check``'s answer when no write can change it — its stored decision (a retry), a
    deferral by quiet hours — else ``None`` (:func:`decide_in_action` decides it)."""
    if seen.stored is not None:
        return seen.stored
    if seen.policy.quiet_hours is not None:
        early = decide(
            seen.policy,
            zone=seen.zone,
            contacts=[],
            channel=check.channel,
            category=check.category,
            at=check.at,
        )
        if early.outcome == DEFER:
            return early
    return None


def decide_for_action(*, session: Session, check: ContactCheck, seen: CheckReads) -> PolicyDecision:
    """An action's own check (``seen``: its :func:`read_check`): answered without the lock
    when :func:`settled`, else decided under the action's write transaction, begun here
    (:func:`decide_in_action`). An allow's record waits for the action's commit; a
    held-back answer's is committed at once (the action then does nothing)."""
    decision = settled(check, seen)
    if decision is None:
        begin_write(session)
        decision = decide_in_action(session=session, check=check, seen=seen)
    if decision.outcome != ALLOW:
        session.commit()
    return decision


def decide_in_action(*, session: Session, check: ContactCheck, seen: CheckReads) -> PolicyDecision:
    """Decide ``check`` inside its action's own write transaction (``session``, already
    begun with :func:`db.session.begin_write`; the action's row not yet written) and add its ledger
    record to that transaction: one write for the action and its contact, committed — or
    rolled back — together. Same answer as :func:`check_contacts` (the same decision,
    under the same per-customer lock; a decision stored by a racing retry answers). The
    caller commits. Ask :func:`settled` first: a deferral needs no lock."""
    answers: list[PolicyDecision | None] = [None]
    _decide_batch(
        session, seen.policy, {check.customer_id: seen.zone}, [(0, check)], answers, commit=False
    )
    answer = answers[0]
    assert answer is not None
    return answer


#: The ledger's table (its records are written as plain rows, Core: no ORM bulk machinery).
LEDGER = cast(Table, ContactLedgerEntry.__table__)  # type: ignore[attr-defined]


def _decide_batch(
    session: Session,
    policy: ContactPolicy,
    zones: dict[str, ZoneInfo],
    todo: list[tuple[int, ContactCheck]],
    answers: list[PolicyDecision | None],
    *,
    commit: bool = True,
) -> None:
    """Decide ``todo`` under the lock with a fixed number of statements whatever the batch
    size (decisions stored by a racing retry, every customer's counted contacts, one
    insert): the lock is held for the decisions, not for a round trip per check. Without
    ``commit`` the records are only flushed: the caller's transaction commits them."""
    begin_write(session)
    if session.get_bind().dialect.name == "postgresql":
        for cid in sorted({c.customer_id for _, c in todo}):
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:c))"), {"c": cid})
    # one statement under the lock: decisions stored by a racing retry, and every
    # customer's contacts the caps count
    keys = [c.decision_key for _, c in todo]
    widest = max((cap.window_days for cap in policy.caps), default=0)
    counted: dict[str, list[Contact]] = {c.customer_id: [] for _, c in todo}
    last = max(c.at for _, c in todo)
    first = min(c.at for _, c in todo) - timedelta(days=widest)
    connection = session.connection()
    if widest:
        params = {"keys": keys, "customers": list(counted), "first": first, "last": last}
        found = connection.execute(_STORED_AND_COUNTED, params)
    else:
        found = connection.execute(_STORED, {"keys": keys})
    stored: dict[str, PolicyDecision] = {}
    key_set = set(keys)
    for key, cid, outcome, rule, until, detail, moment, channel, category in found:
        if key in key_set:
            stored[key] = _recorded(outcome, rule, until, detail)
        if widest and outcome == "sent" and cid in counted:
            at = aware(moment) or last
            if first < at <= last:
                counted[cid].append(Contact(at, channel, category))
    rows: list[dict[str, Any]] = []
    for i, c in todo:
        existing = stored.get(c.decision_key)
        if existing is not None:
            answers[i] = existing
            continue
        decision = decide(
            policy,
            zone=zones[c.customer_id],
            contacts=counted[c.customer_id],  # decide() keeps to each cap's window
            channel=c.channel,
            category=c.category,
            at=c.at,
        )
        if decision.outcome in (ALLOW, CAPPED_OUTCOME):
            outcome = "sent" if decision.outcome == ALLOW else "capped"
            until = datetime.fromisoformat(decision.until) if decision.until else None
            detail = decision.detail[:200]
            rows.append(
                {
                    "decision_key": c.decision_key,
                    "customer_id": c.customer_id,
                    "channel": c.channel,
                    "category": c.category,
                    "outcome": outcome,
                    "rule": decision.rule,
                    "until": until,
                    "detail": detail,
                    "at": c.at,
                    "journey_id": c.journey_id,
                    "node_id": c.node_id,
                    "workflow_id": c.workflow_id,
                }
            )
            # the same key twice in a batch: one decision, read back as a retry reads it
            stored[c.decision_key] = _recorded(outcome, decision.rule, until, detail)
            if decision.outcome == ALLOW:  # the next check of this customer counts it
                counted[c.customer_id].append(Contact(c.at, c.channel, c.category))
        answers[i] = decision
    if rows:
        # plain rows, one executemany: no unit-of-work objects for records nobody reads back
        connection.execute(LEDGER.insert(), rows)
    if commit:
        session.commit()
    else:
        session.flush()

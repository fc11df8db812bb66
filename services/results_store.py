"""Keeping the journey results up to date: the maintained aggregates of
:mod:`db.models.results`, so a report sums a few hundred day rows instead of reading every
run, visit and event of its period (issue 14, "Speed").

**What a run counts for** (its *facts*, ``journey_run_result``):

* its **day**: the day of ``journey_run.entered_at`` in the chain's time zone;
* **converted / revenue**: its version's goal (:mod:`services.goals`: a matching event, or
  any order for a version without a goal) happening within the goal's window after entry,
  also after the run ended. An event or order counts once per journey: for the customer's
  latest entry into the journey at or before it, when that entry's window still holds it;
* **ended_node**: the node whose visit has no port (the run ended there);
* **exposures**: the split sides (``journey_run_variant``) at which this run is the
  customer's first run to take a side of that split — the unit of the lift statistics.

**The day sums** are the facts added up per (journey, day, version), plus every node visit
of the day's runs per node and port.

**Refreshing** walks the source tables by id from the watermarks in ``results_state``
(rows every writer has committed: :func:`db.crud.results.maxima`): new runs get their
facts, new visits are added to their run's day, and every customer that a new run,
visit, side, goal event or order touches has the facts of all their runs computed again
from the database; what changed is added to the sums. So the sums always equal a
from-scratch computation over the rows up to the watermarks (``tests/results/
test_results_store.py`` checks exactly that on random data), are right after restarts,
and late or out-of-order events just recompute their customer.

Who refreshes: the reconciler's loop every pass, and every report before it reads
(:func:`catch_up`), so a report is never behind the rows committed before it.
"""

from __future__ import annotations

import bisect
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from db.crud import results as sql
from db.crud.attribution import version_goals
from db.models import (
    CustomerEvent,
    GuideTask,
    JourneyDayNode,
    JourneyDayStat,
    JourneyDayVariant,
    JourneyVersion,
    Order,
    ResultsState,
    utcnow,
)
from db.session import writer
from services.goals import ANY_ORDER, Goal, goal_of, goal_window_days
from settings import Settings

log = logging.getLogger(__name__)

_NEVER = datetime.min.replace(tzinfo=UTC)  # entered_at of facts read back (not needed again)
#: Guide tasks completed this long before the last one seen are looked at again.
TASK_MARGIN = timedelta(minutes=10)
#: Source rows read per table in one refresh step, and customers recomputed per query.
STEP_ROWS = 20_000
CUSTOMER_CHUNK = 400


@dataclass
class Facts:
    journey_id: str
    journey_version: int
    customer_id: str
    day: date
    entered_at: datetime
    converted: bool = False
    revenue: float = 0.0
    ended_node: str | None = None
    exposures: list[list[str]] = field(default_factory=list)

    def row(self, run_id: int) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "journey_id": self.journey_id,
            "journey_version": self.journey_version,
            "customer_id": self.customer_id,
            "day": self.day,
            "converted": self.converted,
            "revenue": round(self.revenue, 2),
            "ended_node": self.ended_node,
            "exposures": self.exposures,
        }


@dataclass(frozen=True)
class RefreshResult:
    runs: int = 0
    visits: int = 0
    customers: int = 0
    #: True when rows beyond this step's reach remain
    more: bool = False


class _Deltas:
    """Increments of the three day tables, keyed by their key columns."""

    def __init__(self) -> None:
        self.by_table: dict[Any, dict[tuple[Any, ...], list[float]]] = {
            JourneyDayStat: defaultdict(lambda: [0, 0, 0.0]),
            JourneyDayNode: defaultdict(lambda: [0, 0]),
            JourneyDayVariant: defaultdict(lambda: [0, 0, 0.0]),
        }

    def facts(self, f: Facts | None, sign: int) -> None:
        """Add (``sign`` 1) or take out (-1) what a run's facts count for."""
        if f is None:
            return
        conv, rev = (1 if f.converted else 0), (f.revenue if f.converted else 0.0)
        key = (f.journey_id, f.day, f.journey_version)
        stat = self.by_table[JourneyDayStat][key]
        stat[0] += sign
        stat[1] += sign * conv
        stat[2] += sign * rev
        if f.ended_node is not None and conv:
            self.by_table[JourneyDayNode][(*key, f.ended_node, "")][1] += sign
        for node_id, variant in f.exposures:
            v = self.by_table[JourneyDayVariant][(*key, node_id, variant)]
            v[0] += sign
            v[1] += sign * conv
            v[2] += sign * rev

    def visit(self, f: Facts, node_id: str, port: str | None) -> None:
        self.by_table[JourneyDayNode][
            (f.journey_id, f.day, f.journey_version, node_id, port or "")
        ][0] += 1

    def write(self, session: Session) -> None:
        for table, deltas in self.by_table.items():
            sql.add_to_days(
                session=session,
                table=table,
                deltas={
                    k: [round(x, 2) if isinstance(x, float) else x for x in d]
                    for k, d in deltas.items()
                },
            )


# ------------------------------------------------------------------ the rules


def goals(session: Session) -> dict[tuple[str, int], Goal]:
    """(journey, version) → what converts its runs."""
    rows = session.execute(
        sa_select(
            col(JourneyVersion.journey_id),
            col(JourneyVersion.version),
            col(JourneyVersion.document),
        )
    )
    return {(j, int(v)): goal_of(doc) or ANY_ORDER for j, v, doc in rows}


def conversions(
    runs: Sequence[tuple[int, str, int, datetime]],
    events: Iterable[tuple[str, datetime, Mapping[str, Any]]],
    orders: Iterable[tuple[datetime, float]],
    rules: Mapping[tuple[str, int], Goal],
) -> dict[int, tuple[bool, float]]:
    """One customer's runs ``(id, journey, version, entered_at)`` → (converted, revenue),
    given their goal events ``(type, at, properties)`` and orders ``(at, amount)``."""
    out = {r[0]: (False, 0.0) for r in runs}
    by_journey: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for run_id, journey_id, version, at in runs:
        by_journey[journey_id].append((at, run_id, version))
    happenings: list[tuple[datetime, str | None, Mapping[str, Any], float]] = [
        (at, etype, props, 0.0) for etype, at, props in events
    ]
    happenings += [(at, None, {}, amount) for at, amount in orders]
    for journey_id, entries in by_journey.items():
        entries.sort()
        starts = [e[0] for e in entries]
        for at, etype, props, amount in happenings:
            i = bisect.bisect_right(starts, at)
            if i == 0:
                continue  # before the customer's first entry
            entered, run_id, version = entries[i - 1]
            goal = rules.get((journey_id, version), ANY_ORDER)
            if at > entered + goal.window:
                continue
            if goal.event_type is None:
                if etype is not None:
                    continue  # an event, and this version counts orders
                value = amount
            elif etype is None or not goal.matches(etype, props):
                continue
            else:
                value = goal.value(props)
            _done, revenue = out[run_id]
            out[run_id] = (True, revenue + value)
    return out


def exposures(
    runs: Sequence[tuple[int, str, int, datetime]], sides: Iterable[tuple[int, str, str]]
) -> dict[int, list[list[str]]]:
    """One customer's runs → the ``[node, variant]`` pairs at which each run is the
    customer's first to take a side of that journey's split."""
    order = {r[0]: (r[3], r[0]) for r in runs}
    journey = {r[0]: r[1] for r in runs}
    first: dict[tuple[str, str], tuple[tuple[datetime, int], str]] = {}
    for run_id, node_id, variant in sides:
        if run_id not in order:
            continue
        key = (journey[run_id], node_id)
        if key not in first or order[run_id] < first[key][0]:
            first[key] = (order[run_id], variant)
    out: dict[int, list[list[str]]] = defaultdict(list)
    for (_j, node_id), ((_at, run_id), variant) in sorted(first.items()):
        out[run_id].append([node_id, variant])
    return out


#: an attribution touch: (when, journey, version, run id — None for a guide task)
Touch = tuple[datetime, str, int, int | None]


@dataclass(frozen=True)
class ClaimRule:
    """The chain's rule for crediting orders to journeys (``Settings.attribution_*``): a
    touch claims its customer's orders from its moment for its version's goal window, else
    ``window_days``; the latest touch wins (``last_touch=False``: the earliest)."""

    window_days: float = 14
    last_touch: bool = True

    @property
    def key(self) -> str:
        return f"{self.window_days:g}d/{'last' if self.last_touch else 'first'}"

    @classmethod
    def of(cls, settings: Settings) -> ClaimRule:
        return cls(settings.attribution_window_days, settings.attribution_touch != "first")


def claim_windows(session: Session) -> dict[tuple[str, int], float]:
    """Versions whose goal sets a window → its days (the others take the rule's)."""
    found = {}
    for journey_id, version, goal in version_goals(session=session):
        days = goal_window_days(goal)
        if days is not None:
            found[(journey_id, version)] = days
    return found


def claims(
    orders: Iterable[tuple[int, datetime]],
    touches: Sequence[Touch],
    windows: Mapping[tuple[str, int], float],
    rule: ClaimRule,
) -> dict[int, Touch]:
    """One customer's orders ``(id, at)`` → the touch that claims each (absent: none).
    Ties on the moment go to the smaller journey id, then to the run over a task."""
    ranked = sorted(
        touches,
        key=lambda t: (
            -t[0].timestamp() if rule.last_touch else t[0].timestamp(),
            t[1],
            t[3] is None,
            t[3] or 0,
        ),
    )
    spans = [
        (t, t[0] + timedelta(days=windows.get((t[1], t[2]), rule.window_days))) for t in ranked
    ]
    out: dict[int, Touch] = {}
    for order_id, at in orders:
        for touch, end in spans:
            if touch[0] <= at < end:
                out[order_id] = touch
                break
    return out


# ------------------------------------------------------------------ refreshing


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def refresh_step(
    *,
    session: Session,
    timezone: str,
    limits: Mapping[str, int],
    rule: ClaimRule = ClaimRule(),
    step_rows: int = STEP_ROWS,
) -> RefreshResult:
    """Count the source rows after the watermarks up to ``limits`` (at most ``step_rows``
    of each table) in ``session``'s transaction, and commit."""
    tz = ZoneInfo(timezone)
    st = sql.state(session=session, timezone=timezone, claim_rule=rule.key)
    upto = {k: min(limits[k], getattr(st, k) + step_rows) for k in sql.SOURCES}
    rules = goals(session)
    deltas = _Deltas()
    original: dict[int, Facts | None] = {}
    current: dict[int, Facts] = {}
    dirty: set[str] = set()

    def facts_of(row: tuple[Any, ...]) -> Facts:
        journey_id, version, customer_id, day, converted, revenue, ended_node, exp = row
        return Facts(
            journey_id,
            version,
            customer_id,
            day,
            _NEVER,
            bool(converted),
            float(revenue),
            ended_node,
            [list(x) for x in exp or []],
        )

    # 1. new runs: facts at zero
    runs = sql.new_runs(session=session, after=st.run_id, upto=upto["run_id"])
    for run_id, journey_id, version, customer_id, entered_at in runs:
        at = _utc(entered_at)
        original[run_id] = None
        current[run_id] = Facts(journey_id, version, customer_id, at.astimezone(tz).date(), at)
        dirty.add(customer_id)

    # 2. new visits, onto their run's day; a portless one says where the run ended
    visits = sql.new_visits(session=session, after=st.visit_id, upto=upto["visit_id"])
    unowned = {wid for _i, rid, wid, *_ in visits if rid is None}
    by_workflow = sql.runs_of_workflows(session=session, workflow_ids=unowned) if unowned else {}
    owners: dict[int, int] = {}
    for vid, rid, wid, _c, at, _n, _p in visits:
        if rid is None:
            rid = _owner(by_workflow.get(wid, []), _utc(at))
        if rid is not None:
            owners[vid] = rid
    missing = set(owners.values()) - set(current)
    for rid, row in sql.run_facts(session=session, run_ids=missing).items():
        original[rid] = facts_of(row)
        current[rid] = facts_of(row)
    visit_upto = upto["visit_id"]
    counted = 0
    for vid, _rid, _wid, _customer, _at, node_id, port in visits:
        rid = owners.get(vid)
        if rid is not None and rid not in current:
            # its run is beyond this step's runs (or gone): count it in a later step
            if rid > upto["run_id"]:
                visit_upto = vid - 1
                break
            continue  # a run row deleted since: nothing to count it for
        if rid is None:
            continue
        f = current[rid]
        deltas.visit(f, node_id, port)
        if port is None:
            f.ended_node = node_id  # the diff of the facts moves its conversion there
        counted += 1

    # 3. sides, goal events and orders: their customers' facts are recomputed
    dirty |= sql.customers_of_variants(
        session=session, after=st.variant_id, upto=upto["variant_id"]
    )
    types = sorted({g.event_type for g in rules.values() if g.event_type})
    if types:
        dirty |= sql.customers_of(
            session=session,
            table=CustomerEvent,
            after=st.event_id,
            upto=upto["event_id"],
            where=col(CustomerEvent.type).in_(types),
        )
    dirty |= sql.customers_of(
        session=session, table=Order, after=st.order_id, upto=upto["order_id"]
    )
    # completed tasks have no id order: look again at a margin before the last one seen
    # (a completion committed late); recomputing a customer twice changes nothing
    since_tasks = st.tasks_seen - TASK_MARGIN if st.tasks_seen is not None else None
    by_tasks, latest_task = sql.customers_of_tasks(session=session, since=since_tasks)
    dirty |= by_tasks
    if latest_task is not None:
        st.tasks_seen = max(_utc(latest_task), st.tasks_seen or _NEVER)
    windows = claim_windows(session)
    claims_in: list[dict[str, Any]] = []
    claims_up: list[dict[str, Any]] = []
    claims_out: list[int] = []

    # 4. every touched customer: their runs' conversions and exposures and their orders'
    # claims, from scratch
    customers = sorted(dirty)
    for i in range(0, len(customers), CUSTOMER_CHUNK):
        chunk = customers[i : i + CUSTOMER_CHUNK]
        theirs = sql.customer_runs(session=session, customer_ids=chunk, upto=upto["run_id"])
        unknown = [r[0] for r in theirs if r[0] not in current]
        for rid, row in sql.run_facts(session=session, run_ids=unknown).items():
            original[rid] = facts_of(row)
            current[rid] = facts_of(row)
        per_customer: dict[str, list[tuple[int, str, int, datetime]]] = defaultdict(list)
        for rid, journey_id, version, customer_id, entered_at in theirs:
            if rid not in current:  # counted by no step yet (beyond the watermark)
                continue
            per_customer[customer_id].append((rid, journey_id, version, _utc(entered_at)))
        tasks: dict[str, list[Touch]] = defaultdict(list)
        for c, journey_id, version, at in sql.tasks_of(session=session, customer_ids=chunk):
            tasks[c].append((_utc(at), journey_id, version, None))
        touched = [r[3] for rs in per_customer.values() for r in rs]
        touched += [t[0] for ts in tasks.values() for t in ts]
        if not touched:
            continue
        since = min(touched)
        ev: dict[str, list[tuple[str, datetime, Mapping[str, Any]]]] = defaultdict(list)
        for c, etype, at, props in sql.events_of(
            session=session, customer_ids=chunk, types=types, since=since, upto=upto["event_id"]
        ):
            ev[c].append((etype, _utc(at), props))
        od: dict[str, list[tuple[int, datetime, float, str, str | None, str | None]]]
        od = defaultdict(list)
        for oid, c, at, amount, channel, store, guide in sql.orders_of(
            session=session, customer_ids=chunk, since=since, upto=upto["order_id"]
        ):
            od[c].append((oid, _utc(at), amount, channel, store, guide))
        sides = sql.variants_of(
            session=session,
            run_ids=[r[0] for rs in per_customer.values() for r in rs],
            upto=upto["variant_id"],
        )
        stored = sql.claims_of(session=session, customer_ids=chunk)
        for c in chunk:
            rs = per_customer.get(c, [])
            orders = od.get(c, [])
            conv = conversions(rs, ev.get(c, ()), [(o[1], o[2]) for o in orders], rules)
            mine = {r[0] for r in rs}
            exp = exposures(rs, [s for s in sides if s[0] in mine])
            for rid, *_ in rs:
                f = current[rid]
                f.converted, f.revenue = conv[rid]
                f.revenue = round(f.revenue, 2)
                f.exposures = exp.get(rid, [])
            touches: list[Touch] = [(at, j, v, rid) for rid, j, v, at in rs] + tasks.get(c, [])
            won = claims([(o[0], o[1]) for o in orders], touches, windows, rule)
            for oid, at, amount, channel, store, guide in orders:
                new = won.get(oid)
                old = stored.pop(oid, None)
                if new is None:
                    if old is not None:
                        claims_out.append(oid)
                    continue
                if old is not None and (_utc(old[3]), old[0], old[1], old[2]) == new:
                    continue
                claim_row = {
                    "order_id": oid,
                    "customer_id": c,
                    "created_at": at,
                    "amount": amount,
                    "channel": channel,
                    "store_id": store,
                    "bound_guide_id": guide,
                    "journey_id": new[1],
                    "journey_version": new[2],
                    "run_id": new[3],
                    "touch_at": new[0],
                }
                (claims_up if old is not None else claims_in).append(claim_row)
        # claims of orders no longer read (none: orders are not deleted) stay as they are

    # 5. write the facts and the difference they make
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    for rid, f in current.items():
        before = original[rid]
        if before is not None and _same(before, f):
            continue
        deltas.facts(before, -1)
        deltas.facts(f, 1)
        (changed_rows if before is not None else new_rows).append(f.row(rid))
    sql.save_facts(session=session, rows=new_rows, new=True)
    sql.save_facts(session=session, rows=changed_rows, new=False)
    sql.save_claims(
        session=session, insert_rows=claims_in, update_rows=claims_up, delete_ids=claims_out
    )
    deltas.write(session)
    st.run_id, st.visit_id = upto["run_id"], visit_upto
    st.variant_id, st.event_id, st.order_id = upto["variant_id"], upto["event_id"], upto["order_id"]
    st.refreshed_at = utcnow()
    session.add(st)
    session.commit()
    more = any(getattr(st, k) < limits[k] for k in sql.SOURCES)
    return RefreshResult(runs=len(runs), visits=counted, customers=len(customers), more=more)


def _same(a: Facts, b: Facts) -> bool:
    return (
        a.converted == b.converted
        and round(a.revenue, 2) == round(b.revenue, 2)
        and a.ended_node == b.ended_node
        and a.exposures == b.exposures
        and a.day == b.day
    )


def _owner(runs: Sequence[tuple[datetime, int]], at: datetime) -> int | None:
    """The run a visit at ``at`` belongs to: the workflow's latest run entered at or
    before it, else its first."""
    if not runs:
        return None
    found = None
    for entered, rid in runs:
        if _utc(entered) <= at:
            found = rid
    return found if found is not None else runs[0][1]


def store_days(*, session: Session, start: datetime, end: datetime) -> tuple[date, date]:
    """The days (first, last, both included) that ``[start, end)`` covers in the time zone
    the sums are counted in (the chain's, from ``results_state``; UTC before any refresh)."""
    row = session.get(ResultsState, 1)
    tz = ZoneInfo(row.timezone) if row is not None else UTC
    return _utc(start).astimezone(tz).date(), (_utc(end) - timedelta(microseconds=1)).astimezone(
        tz
    ).date()


def pending(*, session: Session, timezone: str, rule: ClaimRule = ClaimRule()) -> bool:
    """Are there committed rows the store has not counted? (A few indexed reads.)"""
    row = session.get(ResultsState, 1)
    if row is None or row.timezone != timezone or row.claim_rule != rule.key:
        return True
    for name, table in sql.SOURCES.items():
        newer = session.scalar(
            sa_select(col(table.id)).where(col(table.id) > getattr(row, name)).limit(1)
        )
        if newer is not None:
            return True
    done = sa_select(col(GuideTask.id)).where(
        col(GuideTask.status) == "completed", col(GuideTask.journey_id).is_not(None)
    )
    if row.tasks_seen is not None:
        done = done.where(col(GuideTask.completed_at) > row.tasks_seen)
    return session.scalar(done.limit(1)) is not None


def catch_up(
    *,
    engine: Engine,
    timezone: str,
    rule: ClaimRule = ClaimRule(),
    step_rows: int = STEP_ROWS,
) -> int:
    """Refresh until every row committed before the call is counted. → steps taken.

    Cheap when nothing is new (a few indexed reads, no write lock)."""
    with Session(engine) as session:
        if not pending(session=session, timezone=timezone, rule=rule):
            return 0
    with Session(engine) as session:
        limits = sql.maxima(session=session)
        session.commit()
    steps = 0
    while True:
        with Session(writer(engine), expire_on_commit=False) as session:
            res = refresh_step(
                session=session, timezone=timezone, limits=limits, rule=rule, step_rows=step_rows
            )
        steps += 1
        if not res.more:
            return steps


def fresh(*, session: Session, settings: Settings) -> None:
    """What a report calls before it reads: count every row committed so far (by the
    app's time zone and attribution rule), then let ``session`` read from a snapshot that
    includes it (its read transaction, if open, began before). A session bound to a
    connection reads what it has."""
    engine = session.get_bind()
    if not isinstance(engine, Engine):
        return
    catch_up(engine=engine, timezone=settings.timezone, rule=ClaimRule.of(settings))
    if session.in_transaction():
        session.commit()


__all__ = [
    "Facts",
    "RefreshResult",
    "ClaimRule",
    "catch_up",
    "claim_windows",
    "claims",
    "conversions",
    "exposures",
    "fresh",
    "goals",
    "pending",
    "store_days",
    "refresh_step",
]

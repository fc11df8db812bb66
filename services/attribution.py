"""Attribution: whose sale is it — which store, which guide, which journey.

**The chain's rule** (``Settings.attribution_*``; default the field rule of DOMAIN.md):
an in-store order (channel ``store``) belongs to the store it was made in; any other
channel is online and belongs to the guide the customer was bound to *at order time*
(``orders.bound_guide_id``, from the binding history) and through them to that guide's
store. An online order of a customer bound to nobody falls back to the store of the order.
Each order is credited exactly once, so the two columns of a row add up to its total:
``store`` (store-attributed) and ``guide`` (guide-attributed).

**Journeys**: an order counts for a journey when it falls within the conversion window after
the customer's entry (``journey_run.entered_at``; the window is the version's
``settings.goal.window`` when its compiled goal has one, else ``attribution_window_days``,
14 days), and for a journey's guide task within as long after the task was completed.
When several touches claim an order the latest wins (``attribution_touch = "first"``: the
earliest). A split's variant is the side the winning run took (``journey_run_variant``).

**Scope** (server-side, like the task reports): HQ and admins see the chain; a store
manager their store (its in-store orders and its guides' online ones); a guide their own
credit only.

The SQL is in :mod:`db.crud.attribution` (indexed range + GROUP BY); this module applies
the rule to the groups, builds region → store → guide, and writes the CSV.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlmodel import Session

from db import crud
from db.crud import attribution as sql
from db.crud import results as store_sql
from db.crud.attribution import OrderGroup, OrderScope
from db.models import OrderClaim
from services import results_store
from services.accounts import Principal
from settings import Settings

MAX_RANGE_DAYS = 400
IN_STORE_CHANNELS = frozenset({"store"})
GROUP_BYS = ("region", "store", "guide")
GroupBy = Literal["region", "store", "guide"]


class PeriodError(ValueError):
    """A report period that cannot be read: ``field`` names the parameter at fault."""

    def __init__(self, field: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        #: "after" (from after to), "too_long", "not_a_date"
        self.code = code


@dataclass(frozen=True)
class Rule:
    """The chain's attribution rule (see the module docstring)."""

    in_store: str = "store"  # "store" | "bound_guide"
    online: str = "bound_guide"  # "bound_guide" | "store"
    touch: str = "last"  # "last" | "first"
    window_days: int = 14

    @classmethod
    def of(cls, settings: Settings) -> Rule:
        return cls(
            in_store=settings.attribution_in_store,
            online=settings.attribution_online,
            touch=settings.attribution_touch,
            window_days=settings.attribution_window_days,
        )

    def credit(
        self, channel: str, store_id: str | None, bound_guide_id: str | None
    ) -> tuple[str, str | None]:
        """``("guide", guide id)`` or ``("store", store id)`` of an order (store id None:
        nobody to credit)."""
        by = self.in_store if channel in IN_STORE_CHANNELS else self.online
        if by == "bound_guide" and bound_guide_id:
            return "guide", bound_guide_id
        return "store", store_id


@dataclass(frozen=True)
class Period:
    """``first``..``last`` (days, inclusive) in the chain's zone, as UTC ``[since, until)``."""

    first: date
    last: date
    since: datetime
    until: datetime


def period(
    *, first: date | None, last: date | None, zone: ZoneInfo, today: date | None = None
) -> Period:
    """The report period; default this month so far. :class:`PeriodError` for ``from``
    after ``to`` or more than :data:`MAX_RANGE_DAYS` days."""
    today = today or datetime.now(zone).date()
    last = last or (today if first is None else max(first, today))
    first = first or last.replace(day=1)
    if first > last:
        raise PeriodError("from", f"'from' ({first}) is after 'to' ({last})", "after")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        message = f"the period {first}..{last} is longer than {MAX_RANGE_DAYS} days"
        raise PeriodError("to", message, "too_long")
    since = datetime.combine(first, time(0), tzinfo=zone).astimezone(UTC)
    until = datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return Period(first, last, since, until)


@dataclass
class Money:
    orders: int = 0
    revenue: float = 0.0

    def add(self, orders: int, revenue: float) -> None:
        self.orders += orders
        self.revenue = round(self.revenue + revenue, 2)


@dataclass
class OrgRow:
    """One row of region → store → guide: its store- and guide-attributed sales."""

    level: str  # "region" | "store" | "guide"
    id: str
    name: str
    region_id: str = ""
    store_id: str = ""
    store: Money = field(default_factory=Money)
    guide: Money = field(default_factory=Money)
    children: list[OrgRow] = field(default_factory=list)

    @property
    def total(self) -> Money:
        return Money(
            self.store.orders + self.guide.orders,
            round(self.store.revenue + self.guide.revenue, 2),
        )


@dataclass
class JourneyRow:
    journey_id: str
    name: str
    version: int | None  # None: the journey's all-versions row
    orders: int = 0
    revenue: float = 0.0
    variants: list[tuple[str, str, int, float]] = field(default_factory=list)
    #: (split node, variant, orders, revenue)


@dataclass
class Report:
    period: Period
    rule: Rule
    scope: str  # "chain" | "store" | "guide"
    total: OrgRow
    regions: list[OrgRow]
    unattributed: Money
    journeys: list[JourneyRow]
    variants_recorded: bool

    def rows(self, group_by: GroupBy) -> list[OrgRow]:
        """The rows of one level, in tree order."""
        if group_by == "region":
            return list(self.regions)
        stores = [s for r in self.regions for s in r.children]
        if group_by == "store":
            return stores
        return [g for s in stores for g in s.children]


def _scope(session: Session, actor: Principal, rule: Rule) -> tuple[str, OrderScope, str | None]:
    """(scope name, the orders it may read, the one store or guide it is limited to)."""
    kw: dict[str, Any] = {
        "in_store": tuple(sorted(IN_STORE_CHANNELS)),
        "in_store_to_guide": rule.in_store == "bound_guide",
        "online_to_guide": rule.online == "bound_guide",
    }
    if actor.sees_everything:
        return "chain", OrderScope(**kw), None
    if actor.role == "store_manager" and actor.store_id:
        guides = tuple(
            g.id
            for g in crud.list_guides(session=session, store_id=actor.store_id, active_only=False)
        )
        scope = OrderScope(store_ids=(actor.store_id,), guide_ids=guides, **kw)
        return "store", scope, actor.store_id
    # a guide (or a manager without a store): their own credit, nothing else
    guide = actor.guide_id or "-"
    return "guide", OrderScope(store_ids=(), guide_ids=(guide,), **kw), guide


def report(
    *,
    session: Session,
    actor: Principal,
    settings: Settings,
    first: date | None = None,
    last: date | None = None,
    journeys: bool = True,
    today: date | None = None,
) -> Report:
    """The attribution report of a period in the actor's scope (zeros when nothing sold)."""
    zone = ZoneInfo(settings.timezone)
    p = period(first=first, last=last, zone=zone, today=today)
    rule = Rule.of(settings)
    scope_name, scope, limit = _scope(session, actor, rule)
    groups = _groups(session, rule, p, scope)
    total, regions, unattributed = _org_tree(session, rule, groups, scope_name, limit)
    rows: list[JourneyRow] = []
    recorded = False
    if journeys:
        results_store.fresh(session=session, settings=settings)
        rows, recorded = _journeys(session, rule, p, scope)
    return Report(p, rule, scope_name, total, regions, unattributed, rows, recorded)


def _groups(session: Session, rule: Rule, p: Period, scope: OrderScope) -> list[OrderGroup]:
    return sql.order_groups(
        session=session,
        since=p.since,
        until=p.until,
        scope=scope,
        in_store=tuple(sorted(IN_STORE_CHANNELS)),
        guide_in_store=rule.in_store == "bound_guide",
        guide_online=rule.online == "bound_guide",
    )


def _org_tree(
    session: Session,
    rule: Rule,
    groups: list[OrderGroup],
    scope_name: str,
    limit: str | None,
) -> tuple[OrgRow, list[OrgRow], Money]:
    regions_by_id = {r.id: r for r in crud.list_regions(session=session)}
    stores_by_id = {s.id: s for s in crud.list_stores(session=session)}
    guides_by_id = {g.id: g for g in crud.list_guides(session=session, active_only=False)}
    total = OrgRow("total", "", "")
    unattributed = Money()
    region_rows: dict[str, OrgRow] = {}
    store_rows: dict[str, OrgRow] = {}
    guide_rows: dict[str, OrgRow] = {}

    def store_row(store_id: str) -> OrgRow | None:
        row = store_rows.get(store_id)
        if row is None:
            store = stores_by_id.get(store_id)
            if store is None:
                return None
            region = region_rows.get(store.region_id)
            if region is None:
                found = regions_by_id.get(store.region_id)
                region = OrgRow(
                    "region",
                    store.region_id,
                    found.name if found else store.region_id,
                    region_id=store.region_id,
                )
                region_rows[store.region_id] = region
            row = OrgRow(
                "store", store_id, store.name, region_id=store.region_id, store_id=store_id
            )
            store_rows[store_id] = row
            region.children.append(row)
        return row

    for g in groups:
        kind, who = rule.credit(g.channel, g.store_id, g.bound_guide_id)
        if kind == "guide":
            guide = guides_by_id.get(who or "")
            if scope_name == "guide" and who != limit:
                continue
            srow = store_row(guide.store_id) if guide is not None else None
            if scope_name == "store" and (srow is None or srow.id != limit):
                continue
            if guide is None or srow is None:
                unattributed.add(g.orders, g.revenue)
                continue
            grow = guide_rows.get(guide.id)
            if grow is None:
                grow = OrgRow(
                    "guide",
                    guide.id,
                    guide.name,
                    region_id=srow.region_id,
                    store_id=srow.id,
                )
                guide_rows[guide.id] = grow
                srow.children.append(grow)
            for row in (grow, srow, region_rows[srow.region_id], total):
                row.guide.add(g.orders, g.revenue)
        else:
            if scope_name == "guide" or (scope_name == "store" and who != limit):
                continue
            srow = store_row(who) if who else None
            if srow is None:
                unattributed.add(g.orders, g.revenue)
                continue
            for row in (srow, region_rows[srow.region_id], total):
                row.store.add(g.orders, g.revenue)
    regions = sorted(region_rows.values(), key=lambda r: r.id)
    for region in regions:
        region.children.sort(key=lambda r: r.id)
        for store in region.children:
            store.children.sort(key=lambda r: r.id)
    return total, regions, unattributed


def windows(session: Session) -> dict[tuple[str, int], float]:
    """Versions whose goal sets a window → its days (the others take the rule's default)."""
    return results_store.claim_windows(session)


def _journeys(
    session: Session, rule: Rule, p: Period, scope: OrderScope
) -> tuple[list[JourneyRow], bool]:
    # the claims the results store keeps (the report called catch_up first)
    claims = store_sql.claimed(
        session=session, since=p.since, until=p.until, where=scope.where(OrderClaim)
    )
    names = {j.id: j.name for j in crud.all_journeys(session=session)}
    variants = sql.run_variants(session=session, run_ids=[c[2] for c in claims if c[2] is not None])
    by_version: dict[tuple[str, int], JourneyRow] = {}
    by_journey: dict[str, JourneyRow] = {}
    split: dict[tuple[str, int, str, str], list[float]] = {}
    for journey_id, version, run_id, orders, revenue in claims:
        jrow = by_journey.setdefault(
            journey_id, JourneyRow(journey_id, names.get(journey_id, journey_id), None)
        )
        vrow = by_version.setdefault(
            (journey_id, version), JourneyRow(journey_id, jrow.name, int(version))
        )
        for row in (jrow, vrow):
            row.orders += int(orders)
            row.revenue = round(row.revenue + float(revenue), 2)
        for node_id, variant in variants.get(run_id, ()) if run_id is not None else ():
            acc = split.setdefault((journey_id, int(version), node_id, variant), [0, 0.0])
            acc[0] += int(orders)
            acc[1] += float(revenue)
    for (journey_id, version, node_id, variant), (n, amount) in sorted(split.items()):
        by_version[(journey_id, version)].variants.append(
            (node_id, variant, int(n), round(amount, 2))
        )
    rows: list[JourneyRow] = []
    for journey_id, jrow in sorted(by_journey.items(), key=lambda kv: -kv[1].revenue):
        rows.append(jrow)
        rows.extend(
            v for (j, _), v in sorted(by_version.items(), key=lambda kv: kv[0]) if j == journey_id
        )
    return rows, sql.variants_recorded()


CSV_HEADER = (
    "level",
    "region_id",
    "region",
    "store_id",
    "store",
    "guide_id",
    "guide",
    "store_orders",
    "store_revenue",
    "guide_orders",
    "guide_revenue",
    "total_orders",
    "total_revenue",
)


def to_csv(rep: Report) -> str:
    """Region → store → guide with both columns, then the journeys, as CSV (UTF-8 with BOM
    for Excel, like the task report)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    w = csv.writer(buf)
    w.writerow(CSV_HEADER)

    def line(
        level: str, region: OrgRow | None, store: OrgRow | None, guide: OrgRow | None, row: OrgRow
    ) -> None:
        w.writerow(
            [
                level,
                region.id if region else "",
                region.name if region else "",
                store.id if store else "",
                store.name if store else "",
                guide.id if guide else "",
                guide.name if guide else "",
                row.store.orders,
                f"{row.store.revenue:.2f}",
                row.guide.orders,
                f"{row.guide.revenue:.2f}",
                row.total.orders,
                f"{row.total.revenue:.2f}",
            ]
        )

    for region in rep.regions:
        line("region", region, None, None, region)
        for store in region.children:
            line("store", region, store, None, store)
            for guide in store.children:
                line("guide", region, store, guide, guide)
    line("total", None, None, None, rep.total)
    w.writerow([])
    w.writerow(("journey_id", "journey", "version", "split_node", "variant", "orders", "revenue"))
    for j in rep.journeys:
        w.writerow(
            [
                j.journey_id,
                j.name,
                j.version if j.version is not None else "all",
                "",
                "",
                j.orders,
                f"{j.revenue:.2f}",
            ]
        )
        for node_id, variant, n, amount in j.variants:
            w.writerow([j.journey_id, j.name, j.version, node_id, variant, n, f"{amount:.2f}"])
    return buf.getvalue()


# ------------------------------------------------------------------ the guide's workbench


@dataclass
class TaskResult:
    """A completed task and what followed it: the customer's orders within the window."""

    task: Any  # db.models.GuideTask
    customer_name: str
    converted: bool
    orders: int
    revenue: float


@dataclass
class GuideResult:
    """One guide's month: online sales credited by the rule, completed tasks and what they
    converted, and the orders attributed either way (each counted once)."""

    guide_id: str
    name: str
    store_id: str
    online: Money = field(default_factory=Money)
    tasks_completed: int = 0
    tasks_converted: int = 0
    from_tasks: Money = field(default_factory=Money)
    attributed: Money = field(default_factory=Money)


@dataclass
class GuideResults:
    period: Period
    scope: str
    guides: list[GuideResult]
    tasks: list[TaskResult]
    total: GuideResult


def guide_results(
    *,
    session: Session,
    actor: Principal,
    settings: Settings,
    today: date | None = None,
    task_limit: int = 100,
) -> GuideResults:
    """This month's attributed orders and sales per guide in the actor's scope (a guide:
    their own; a manager: the store's guides; HQ: every guide), and the month's completed
    tasks with whether each converted.

    A guide's attributed orders are those of the month the rule credits them with (their
    bound customers' online orders) plus those that followed one of their completed tasks
    within its window, each order once.
    """
    zone = ZoneInfo(settings.timezone)
    p = period(first=None, last=None, zone=zone, today=today)
    rule = Rule.of(settings)
    scope_name, scope, limit = _scope(session, actor, rule)
    guides = {g.id: g for g in crud.list_guides(session=session, active_only=False)}
    if scope_name == "chain":
        ids = sorted(guides)
    elif scope_name == "store":
        ids = sorted(g.id for g in guides.values() if g.store_id == limit)
    else:
        ids = [limit] if limit in guides else []
    results = {gid: GuideResult(gid, guides[gid].name, guides[gid].store_id) for gid in ids}
    for g in _groups(session, rule, p, scope):
        kind, who = rule.credit(g.channel, g.store_id, g.bound_guide_id)
        if kind == "guide" and who in results:
            results[who].online.add(g.orders, g.revenue)
            results[who].attributed.add(g.orders, g.revenue)

    wins = windows(session)
    window_kw: dict[str, Any] = {
        "windows": wins,
        "default_days": rule.window_days,
        "guide_ids": None if scope_name == "chain" else ids,
    }
    per_task = sql.task_results(session=session, since=p.since, until=p.until, **window_kw)
    for _task_id, guide_id, n, _revenue in per_task:
        if (row := results.get(guide_id)) is not None:
            row.tasks_completed += 1
            row.tasks_converted += int(n > 0)
    after = sql.orders_after_tasks(
        session=session, since=p.since, until=p.until, scope=scope, **window_kw
    )
    for guide_id, (n, revenue, extra_n, extra_revenue) in after.items():
        if guide_id in results:
            results[guide_id].from_tasks.add(n, revenue)
            # the orders the rule did not already credit to this guide
            results[guide_id].attributed.add(extra_n, extra_revenue)
    newest = sql.completed_tasks(
        session=session,
        since=p.since,
        until=p.until,
        guide_ids=window_kw["guide_ids"],
        limit=task_limit,
    )
    listed = _listed_tasks(session, per_task, newest)
    total = GuideResult("", "", "")
    for row in results.values():
        total.online.add(row.online.orders, row.online.revenue)
        total.from_tasks.add(row.from_tasks.orders, row.from_tasks.revenue)
        total.attributed.add(row.attributed.orders, row.attributed.revenue)
        total.tasks_completed += row.tasks_completed
        total.tasks_converted += row.tasks_converted
    ordered = sorted(results.values(), key=lambda r: (-r.attributed.revenue, r.guide_id))
    return GuideResults(p, scope_name, ordered, listed, total)


def _listed_tasks(
    session: Session, per_task: list[tuple[str, str, int, float]], tasks: list[Any]
) -> list[TaskResult]:
    """``tasks`` with their numbers and their customers' names."""
    numbers = {task_id: (n, revenue) for task_id, _g, n, revenue in per_task}
    names = {
        c.id: c.name
        for c in crud.get_customers(
            session=session, customer_ids=list(dict.fromkeys(t.customer_id for t in tasks))
        )
    }
    return [
        TaskResult(
            t,
            names.get(t.customer_id, t.customer_id),
            numbers[t.id][0] > 0,
            numbers[t.id][0],
            round(numbers[t.id][1], 2),
        )
        for t in tasks
    ]

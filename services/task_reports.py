"""Task dashboards for HQ and store managers: region → store → guide, conversion, trend, CSV.

Numbers come from the database (guide_task, orders), never from Temporal visibility.
Rates: completion = completed ÷ (issued − cancelled); overdue = open past due + expired.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from db import crud
from db.crud.task_stats import (
    GuideCounts,
    TaskFilter,
    conversion_by_completion,
    counts_by_guide,
    task_moments,
)
from db.models import TaskChase
from services.accounts import Principal

CHAIN_TIMEZONE = ZoneInfo("Asia/Shanghai")
PERIODS = (7, 30, 90)
DEFAULT_WINDOW_DAYS = 14  # DOMAIN.md: "purchase within 14 days of entry"


@dataclass
class Counts:
    """Task numbers of one row (guide, store, region or the total)."""

    issued: int = 0
    open: int = 0
    completed: int = 0
    expired: int = 0
    cancelled: int = 0
    overdue_open: int = 0
    chased: int = 0

    def add(self, other: Counts | GuideCounts) -> None:
        for name in ("issued", "open", "completed", "expired", "cancelled", "overdue_open"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.chased += other.chased

    @property
    def pending(self) -> int:
        return self.open - self.overdue_open

    @property
    def overdue(self) -> int:
        return self.overdue_open + self.expired

    @property
    def completion_rate(self) -> float | None:
        base = self.issued - self.cancelled
        return self.completed / base if base > 0 else None


@dataclass
class Row:
    """A node of the region → store → guide tree."""

    level: str  # "region" | "store" | "guide"
    id: str
    name: str
    counts: Counts = field(default_factory=Counts)
    children: list[Row] = field(default_factory=list)


@dataclass
class Conversion:
    tasks: int
    converted: int

    @property
    def rate(self) -> float | None:
        return self.converted / self.tasks if self.tasks else None


@dataclass
class DayPoint:
    day: date
    issued: int
    completed: int


@dataclass
class Dashboard:
    since: date
    until: date
    days: int
    journey_id: str | None
    window_days: int
    total: Counts
    regions: list[Row]
    completed_conversion: Conversion
    not_completed_conversion: Conversion
    series: list[DayPoint]
    chases: list[TaskChase]


def report_filter(
    actor: Principal,
    *,
    days: int,
    journey_id: str | None,
    store_id: str | None,
    now: datetime,
) -> TaskFilter:
    """Tasks created in the last ``days`` days (chain time), within the actor's scope."""
    today = now.astimezone(CHAIN_TIMEZONE).date()
    since = datetime.combine(today - timedelta(days=days - 1), time(0), tzinfo=CHAIN_TIMEZONE)
    until = datetime.combine(today + timedelta(days=1), time(0), tzinfo=CHAIN_TIMEZONE)
    stores: list[str] | None = None
    guide_id: str | None = None
    if actor.role == "store_manager":
        stores = [actor.store_id] if actor.store_id else []
        if store_id not in (None, actor.store_id):
            stores = []
    elif actor.role == "guide":
        guide_id = actor.guide_id or "-"
    elif store_id:
        stores = [store_id]
    return TaskFilter(
        since=since.astimezone(UTC),
        until=until.astimezone(UTC),
        journey_id=journey_id,
        store_ids=stores,
        guide_id=guide_id,
    )


def dashboard(
    *,
    session: Session,
    actor: Principal,
    days: int = 30,
    journey_id: str | None = None,
    store_id: str | None = None,
    window_days: int = DEFAULT_WINDOW_DAYS,
    now: datetime | None = None,
) -> Dashboard:
    """Everything the /tasks page shows."""
    now = now or datetime.now(UTC)
    days = days if days in PERIODS else 30
    f = report_filter(actor, days=days, journey_id=journey_id, store_id=store_id, now=now)
    rows = counts_by_guide(session=session, task_filter=f, now=now)
    total, regions = _tree(session, rows)
    conv = conversion_by_completion(
        session=session, task_filter=f, window=timedelta(days=window_days)
    )
    chase_scope = None if actor.sees_everything else [actor.store_id or "-"]
    chases = crud.list_chases(session=session, limit=10)
    if chase_scope is not None:
        guides = {g.id for g in crud.list_guides(session=session, store_id=chase_scope[0])}
        chases = [c for c in chases if set(c.guides_chased) & guides or c.scope_id in chase_scope]
    return Dashboard(
        since=f.since.astimezone(CHAIN_TIMEZONE).date(),
        until=(f.until - timedelta(seconds=1)).astimezone(CHAIN_TIMEZONE).date(),
        days=days,
        journey_id=journey_id,
        window_days=window_days,
        total=total,
        regions=regions,
        completed_conversion=Conversion(*conv[True]),
        not_completed_conversion=Conversion(*conv[False]),
        series=_series(session, f),
        chases=chases,
    )


def _tree(session: Session, rows: list[GuideCounts]) -> tuple[Counts, list[Row]]:
    region_names = {r.id: r.name for r in crud.list_regions(session=session)}
    store_names = {s.id: s.name for s in crud.list_stores(session=session)}
    guide_names = {g.id: g.name for g in crud.list_guides(session=session, active_only=False)}
    total = Counts()
    regions: dict[str, Row] = {}
    stores: dict[str, Row] = {}
    for r in rows:
        region = regions.setdefault(
            r.region_id, Row("region", r.region_id, region_names.get(r.region_id, r.region_id))
        )
        store = stores.get(r.store_id)
        if store is None:
            store = Row("store", r.store_id, store_names.get(r.store_id, r.store_id))
            stores[r.store_id] = store
            region.children.append(store)
        guide = Row("guide", r.guide_id, guide_names.get(r.guide_id, r.guide_id))
        guide.counts.add(r)
        store.children.append(guide)
        store.counts.add(r)
        region.counts.add(r)
        total.add(r)
    return total, list(regions.values())


def _series(session: Session, f: TaskFilter) -> list[DayPoint]:
    """Tasks issued and completed per day (chain time) over the period."""
    first = f.since.astimezone(CHAIN_TIMEZONE).date()
    last = (f.until - timedelta(seconds=1)).astimezone(CHAIN_TIMEZONE).date()
    points = {first + timedelta(days=i): [0, 0] for i in range((last - first).days + 1)}
    for created, completed, status in task_moments(session=session, task_filter=f):
        day = _utc(created).astimezone(CHAIN_TIMEZONE).date()
        if day in points:
            points[day][0] += 1
        if status == "completed" and completed is not None:
            done_day = _utc(completed).astimezone(CHAIN_TIMEZONE).date()
            if done_day in points:
                points[done_day][1] += 1
    return [DayPoint(day, issued, done) for day, (issued, done) in sorted(points.items())]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


CSV_HEADER = (
    "level",
    "region_id",
    "region",
    "store_id",
    "store",
    "guide_id",
    "guide",
    "issued",
    "pending",
    "completed",
    "overdue",
    "expired",
    "cancelled",
    "chased",
    "completion_rate",
)


def to_csv(board: Dashboard) -> str:
    """The dashboard's region → store → guide table as CSV (UTF-8 with BOM for Excel)."""
    buf = io.StringIO()
    buf.write("\ufeff")
    writer = csv.writer(buf)
    writer.writerow(CSV_HEADER)

    def line(level: str, region: Row, store: Row | None, guide: Row | None, c: Counts) -> None:
        rate = c.completion_rate
        writer.writerow(
            [
                level,
                region.id,
                region.name,
                store.id if store else "",
                store.name if store else "",
                guide.id if guide else "",
                guide.name if guide else "",
                c.issued,
                c.pending,
                c.completed,
                c.overdue,
                c.expired,
                c.cancelled,
                c.chased,
                f"{rate:.4f}" if rate is not None else "",
            ]
        )

    for region in board.regions:
        line("region", region, None, None, region.counts)
        for store in region.children:
            line("store", region, store, None, store.counts)
            for guide in store.children:
                line("guide", region, store, guide, guide.counts)
    return buf.getvalue()

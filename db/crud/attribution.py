"""The SQL of attribution reports: orders of a period grouped, guide tasks' results.

Everything here is one indexed range over ``orders.created_at`` (the covering index
``ix_orders_created_attribution``) and ``GROUP BY`` in the database: a month of a big chain
is a few hundred thousand orders, never loaded row by row. Which journey claims an order is
kept by the results store (``order_claim``, :mod:`services.results_store`). The
attribution *rule* lives in ``services.attribution``; these functions return the groups it
is applied to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlmodel import Session, SQLModel, col

from db.models import GuideTask, JourneyVersion, Order


@dataclass(frozen=True)
class OrderScope:
    """Which orders a report may read: all (HQ), or those the chain's rule credits to one of
    ``store_ids`` or to one of ``guide_ids`` (a store: itself and its guides; a guide).

    ``in_store`` are the in-store channels; ``in_store_to_guide`` / ``online_to_guide`` say
    whether the rule credits those orders to the customer's bound guide (when there is
    one) rather than to the order's store.
    """

    store_ids: tuple[str, ...] | None = None
    guide_ids: tuple[str, ...] | None = None
    in_store: tuple[str, ...] = ("store",)
    in_store_to_guide: bool = False
    online_to_guide: bool = True

    def where(self, table: Any = Order) -> ColumnElement[bool] | None:
        """The condition on ``table``'s order columns (``orders``, or ``order_claim``
        which carries them)."""
        if self.store_ids is None and self.guide_ids is None:
            return None
        in_store = col(table.channel).in_(self.in_store)
        online = col(table.channel).not_in(self.in_store)
        bound = col(table.bound_guide_id).is_not(None)
        to_guide = or_(
            and_(in_store, bound) if self.in_store_to_guide else false(),
            and_(online, bound) if self.online_to_guide else false(),
        )
        parts: list[ColumnElement[bool]] = []
        if self.store_ids:
            parts.append(and_(col(table.store_id).in_(self.store_ids), not_(to_guide)))
        if self.guide_ids:
            parts.append(and_(col(table.bound_guide_id).in_(self.guide_ids), to_guide))
        return or_(*parts) if parts else false()


@dataclass(frozen=True)
class OrderGroup:
    """Orders of one (channel class, store, bound guide) in a period."""

    channel: str
    store_id: str | None
    bound_guide_id: str | None
    orders: int
    revenue: float


def order_groups(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    scope: OrderScope = OrderScope(),
    in_store: Sequence[str] = ("store",),
    guide_in_store: bool = False,
    guide_online: bool = True,
) -> list[OrderGroup]:
    """Orders with ``since <= created_at < until``, counted and summed per channel class
    (``channel`` is ``"store"`` for the ``in_store`` channels, else ``"online"``), store and
    — where the rule may credit the guide (``guide_in_store``, ``guide_online``) — the guide
    bound at order time.

    Two grouped range scans of the covering index, one per class: each groups on the keys
    its class needs only (grouping all three keys at once sorts the whole period twice as
    slowly on SQLite).
    """
    found: list[OrderGroup] = []
    where = scope.where()
    for label, channel_cond, by_guide in (
        ("store", col(Order.channel).in_(list(in_store)), guide_in_store),
        ("online", col(Order.channel).not_in(list(in_store)), guide_online),
    ):
        keys: list[Any] = [col(Order.store_id)]
        if by_guide:
            keys.insert(0, col(Order.bound_guide_id))
        stmt = (
            select(*keys, func.count(), func.coalesce(func.sum(col(Order.amount)), 0.0))
            .where(col(Order.created_at) >= since, col(Order.created_at) < until, channel_cond)
            .group_by(*keys)
        )
        if where is not None:
            stmt = stmt.where(where)
        for r in session.execute(stmt).all():
            guide, store = (r[0], r[1]) if by_guide else (None, r[0])
            found.append(OrderGroup(label, store, guide, int(r[-2]), float(r[-1])))
    return found


def version_goals(*, session: Session) -> list[tuple[str, int, dict[str, Any]]]:
    """``(journey id, version, goal)`` of every published version: the compiled goal, with
    the document's ``settings.goal`` fields it does not carry (e.g. ``window``)."""
    rows = session.execute(
        select(
            col(JourneyVersion.journey_id),
            col(JourneyVersion.version),
            col(JourneyVersion.compiled),
            col(JourneyVersion.document),
        )
    ).all()
    found = []
    for journey_id, version, compiled, document in rows:
        drawn = ((document or {}).get("settings") or {}).get("goal") or {}
        goal = (compiled or {}).get("goal") or {}
        found.append(
            (journey_id, version, {**drawn, **{k: v for k, v in goal.items() if v is not None}})
        )
    return found


def _window_days(
    journey: Any, version: Any, windows: dict[tuple[str, int], float], default_days: float
) -> ColumnElement[Any]:
    """The conversion window (days) of the touch's journey version, as SQL."""
    if not windows:
        return literal(default_days)
    return case(
        *[(and_(journey == j, version == v), literal(days)) for (j, v), days in windows.items()],
        else_=literal(default_days),
    )


def _before_end(dialect: str, at: Any, touch_at: Any, days: Any) -> ColumnElement[bool]:
    """``at < touch_at + days``, spelled for the dialect."""
    if dialect == "sqlite":
        # SQLite keeps moments as ISO text: compare the window's end as Julian days
        return func.julianday(at) < func.julianday(touch_at) + days
    return at < touch_at + func.make_interval(0, 0, 0, 0, 0, 0, days * 86400)


def task_results(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    guide_ids: Sequence[str] | None,
    windows: dict[tuple[str, int], float],
    default_days: float,
) -> list[tuple[str, str, int, float]]:
    """``(task id, guide id, orders, revenue)`` of every task completed in ``[since,
    until)`` by ``guide_ids`` (``None``: everyone): the customer's orders within the task's
    journey window (``default_days`` for a task without one) after its completion."""
    dialect = session.get_bind().dialect.name
    t, o = GuideTask, Order
    days = _window_days(col(t.journey_id), col(t.journey_version), windows, default_days)
    stmt = (
        select(
            col(t.id),
            col(t.guide_id),
            func.count(col(o.id)),
            func.coalesce(func.sum(col(o.amount)), 0.0),
        )
        .select_from(t)
        .outerjoin(
            o,
            and_(
                col(o.customer_id) == col(t.customer_id),
                col(o.created_at) >= col(t.completed_at),
                _before_end(dialect, col(o.created_at), col(t.completed_at), days),
            ),
        )
        .where(
            col(t.status) == "completed",
            col(t.completed_at) >= since,
            col(t.completed_at) < until,
        )
        .group_by(col(t.id), col(t.guide_id))
    )
    if guide_ids is not None:
        stmt = stmt.where(col(t.guide_id).in_(list(guide_ids)))
    return [(r[0], r[1], int(r[2]), float(r[3])) for r in session.execute(stmt).all()]


def orders_after_tasks(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    guide_ids: Sequence[str] | None,
    windows: dict[tuple[str, int], float],
    default_days: float,
    scope: OrderScope,
) -> dict[str, tuple[int, float, int, float]]:
    """Per guide, the orders of ``[since, until)`` that followed one of their completed
    tasks within its window, each once: ``(orders, revenue, of which not credited to that
    guide by the rule: orders, revenue)`` (the rule's in-store / online flags of ``scope``).
    """
    dialect = session.get_bind().dialect.name
    t, o = GuideTask, Order
    longest = max([default_days, *windows.values()])
    days = _window_days(col(t.journey_id), col(t.journey_version), windows, default_days)
    in_store = col(o.channel).in_(scope.in_store)
    kinds = [in_store] if scope.in_store_to_guide else []
    if scope.online_to_guide:
        kinds.append(not_(in_store))
    to_guide = or_(*kinds) if kinds else false()
    credited = and_(col(o.bound_guide_id) == col(t.guide_id), to_guide)
    pairs = (
        select(
            col(t.guide_id).label("guide_id"),
            col(o.id).label("order_id"),
            col(o.amount).label("amount"),
            case((credited, 0), else_=1).label("extra"),
        )
        .distinct()
        .select_from(t)
        .join(
            o,
            and_(
                col(o.customer_id) == col(t.customer_id),
                col(o.created_at) >= col(t.completed_at),
                _before_end(dialect, col(o.created_at), col(t.completed_at), days),
                col(o.created_at) >= since,
                col(o.created_at) < until,
            ),
        )
        .where(
            col(t.status) == "completed",
            col(t.completed_at) >= since - timedelta(days=longest),
            col(t.completed_at) < until,
        )
    )
    if guide_ids is not None:
        pairs = pairs.where(col(t.guide_id).in_(list(guide_ids)))
    p = pairs.subquery("p")
    stmt = select(
        p.c.guide_id,
        func.count(),
        func.coalesce(func.sum(p.c.amount), 0.0),
        func.coalesce(func.sum(p.c.extra), 0),
        func.coalesce(func.sum(p.c.extra * p.c.amount), 0.0),
    ).group_by(p.c.guide_id)
    return {
        r[0]: (int(r[1]), float(r[2]), int(r[3]), float(r[4])) for r in session.execute(stmt).all()
    }


def completed_tasks(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    guide_ids: Sequence[str] | None,
    limit: int | None = None,
) -> list[GuideTask]:
    """Tasks completed in ``[since, until)`` of ``guide_ids`` (``None``: everyone's), the
    latest first."""
    stmt = select(GuideTask).where(
        col(GuideTask.status) == "completed",
        col(GuideTask.completed_at) >= since,
        col(GuideTask.completed_at) < until,
    )
    if guide_ids is not None:
        stmt = stmt.where(col(GuideTask.guide_id).in_(list(guide_ids)))
    stmt = stmt.order_by(col(GuideTask.completed_at).desc(), col(GuideTask.id))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt).all())


def variants_recorded() -> bool:
    """Whether runs record their split sides (the ``journey_run_variant`` table, issue 14
    item 5): read from the metadata, so this module works with and without it."""
    return "journey_run_variant" in SQLModel.metadata.tables


def run_variants(*, session: Session, run_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """``run id → [(split node, variant), …]`` of the runs that recorded their sides."""
    table = SQLModel.metadata.tables.get("journey_run_variant")
    if table is None or not run_ids:
        return {}
    found: dict[int, list[tuple[str, str]]] = {}
    ids = sorted(set(run_ids))
    for start in range(0, len(ids), 500):
        stmt = select(table.c.run_id, table.c.node_id, table.c.variant).where(
            table.c.run_id.in_(ids[start : start + 500])
        )
        for run_id, node_id, variant in session.execute(stmt).all():
            found.setdefault(int(run_id), []).append((node_id, variant))
    return found

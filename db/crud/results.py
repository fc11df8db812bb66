"""The maintained results tables (``db.models.results``): the refresher's reads of new
source rows, its writes of run facts and day sums, and the reports' reads of the sums.
The rules that decide the numbers live in :mod:`services.results_store`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, text, update
from sqlalchemy import select as sa_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from db.models import (
    CustomerEvent,
    GuideTask,
    JourneyDayNode,
    JourneyDayStat,
    JourneyDayVariant,
    JourneyRun,
    JourneyRunResult,
    JourneyRunVariant,
    NodeVisit,
    Order,
    OrderClaim,
    ResultsState,
)

#: Source tables the refresher walks by id, in the order their maxima are read.
SOURCES: dict[str, Any] = {
    "visit_id": NodeVisit,
    "variant_id": JourneyRunVariant,
    "run_id": JourneyRun,
    "event_id": CustomerEvent,
    "order_id": Order,
}
DAY_TABLES = (JourneyDayStat, JourneyDayNode, JourneyDayVariant)
_CHUNK = 500

#: key columns and summed columns of each day table
_KEYS = {
    JourneyDayStat: ("journey_id", "day", "journey_version"),
    JourneyDayNode: ("journey_id", "day", "journey_version", "node_id", "port"),
    JourneyDayVariant: ("journey_id", "day", "journey_version", "node_id", "variant"),
}
_SUMS = {
    JourneyDayStat: ("entered", "conversions", "revenue"),
    JourneyDayNode: ("visits", "converted"),
    JourneyDayVariant: ("customers", "conversions", "revenue"),
}


def state(*, session: Session, timezone: str, claim_rule: str) -> ResultsState:
    """The refresher's row, created at zero; locked for the transaction on PostgreSQL so
    two refreshers take turns. A changed time zone or attribution rule starts the
    aggregates over."""
    stmt = sa_select(ResultsState).where(col(ResultsState.id) == 1)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            postgresql.insert(ResultsState.__table__)  # type: ignore[attr-defined]
            .values(
                id=1, timezone=timezone, run_id=0, visit_id=0, variant_id=0, event_id=0, order_id=0
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        row = ResultsState(id=1, timezone=timezone, claim_rule=claim_rule)
        session.add(row)
        session.flush()
    if row.timezone != timezone or row.claim_rule != claim_rule:
        clear(session=session)
        row.timezone, row.claim_rule, row.tasks_seen = timezone, claim_rule, None
        for name in SOURCES:
            setattr(row, name, 0)
    return row


def clear(*, session: Session) -> None:
    """Forget every maintained number (a rebuild follows)."""
    for table in (*DAY_TABLES, JourneyRunResult, OrderClaim):
        session.execute(delete(table))


def maxima(*, session: Session) -> dict[str, int]:
    """The highest id of each source table, every row up to it committed.

    PostgreSQL hands out ids before commit, so a higher id can become visible before a
    lower one: the ``SHARE`` locks wait for the writers in flight and hold new ones off for
    the few reads. Call in a transaction of its own (the locks end with it). SQLite has
    one writer: its ids are visible in order."""
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.__tablename__ for t in SOURCES.values())
        session.execute(text(f"LOCK TABLE {names} IN SHARE MODE"))
    out = {}
    for name, table in SOURCES.items():
        out[name] = int(session.scalar(sa_select(func.max(col(table.id)))) or 0)
    return out


def new_runs(
    *, session: Session, after: int, upto: int
) -> list[tuple[int, str, int, str, datetime]]:
    """``(id, journey, version, customer, entered_at)`` of runs with ids in ``(after, upto]``."""
    stmt = (
        sa_select(
            col(JourneyRun.id),
            col(JourneyRun.journey_id),
            col(JourneyRun.journey_version),
            col(JourneyRun.customer_id),
            col(JourneyRun.entered_at),
        )
        .where(col(JourneyRun.id) > after, col(JourneyRun.id) <= upto)
        .order_by(col(JourneyRun.id))
    )
    return [tuple(r) for r in session.execute(stmt)]


def new_visits(
    *, session: Session, after: int, upto: int
) -> list[tuple[int, int | None, str, str, datetime, str, str | None]]:
    """``(id, run_id, workflow_id, customer, at, node, port)`` of visits in ``(after, upto]``."""
    stmt = (
        sa_select(
            col(NodeVisit.id),
            col(NodeVisit.run_id),
            col(NodeVisit.workflow_id),
            col(NodeVisit.customer_id),
            col(NodeVisit.at),
            col(NodeVisit.node_id),
            col(NodeVisit.port),
        )
        .where(col(NodeVisit.id) > after, col(NodeVisit.id) <= upto)
        .order_by(col(NodeVisit.id))
    )
    return [tuple(r) for r in session.execute(stmt)]


def runs_of_workflows(
    *, session: Session, workflow_ids: Iterable[str]
) -> dict[str, list[tuple[datetime, int]]]:
    """workflow id → its runs' ``(entered_at, id)``, oldest first (visits recorded before
    ``node_visit.run_id`` existed find their run by these)."""
    out: dict[str, list[tuple[datetime, int]]] = {}
    ids = sorted(set(workflow_ids))
    for i in range(0, len(ids), _CHUNK):
        stmt = sa_select(
            col(JourneyRun.workflow_id), col(JourneyRun.entered_at), col(JourneyRun.id)
        ).where(col(JourneyRun.workflow_id).in_(ids[i : i + _CHUNK]))
        for wid, at, rid in session.execute(stmt):
            out.setdefault(wid, []).append((at, int(rid)))
    for runs in out.values():
        runs.sort()
    return out


def customers_of(
    *, session: Session, table: Any, after: int, upto: int, where: Any = None
) -> set[str]:
    """Distinct customers of ``table``'s rows with ids in ``(after, upto]``."""
    stmt = sa_select(col(table.customer_id)).where(col(table.id) > after, col(table.id) <= upto)
    if where is not None:
        stmt = stmt.where(where)
    return {str(c) for c in session.scalars(stmt.distinct())}


def customers_of_variants(*, session: Session, after: int, upto: int) -> set[str]:
    stmt = (
        sa_select(col(JourneyRun.customer_id))
        .join(JourneyRunVariant, col(JourneyRunVariant.run_id) == col(JourneyRun.id))
        .where(col(JourneyRunVariant.id) > after, col(JourneyRunVariant.id) <= upto)
        .distinct()
    )
    return {str(c) for c in session.scalars(stmt)}


def customer_runs(
    *, session: Session, customer_ids: Sequence[str], upto: int
) -> list[tuple[int, str, int, str, datetime]]:
    """``(id, journey, version, customer, entered_at)`` of the customers' runs up to run
    id ``upto`` (the ones already counted)."""
    stmt = sa_select(
        col(JourneyRun.id),
        col(JourneyRun.journey_id),
        col(JourneyRun.journey_version),
        col(JourneyRun.customer_id),
        col(JourneyRun.entered_at),
    ).where(col(JourneyRun.customer_id).in_(list(customer_ids)), col(JourneyRun.id) <= upto)
    return [tuple(r) for r in session.execute(stmt)]


def run_facts(*, session: Session, run_ids: Iterable[int]) -> dict[int, tuple[Any, ...]]:
    """run id → its stored facts ``(journey, version, customer, day, converted, revenue,
    ended_node, exposures)`` (plain rows: a refresh reads thousands)."""
    t = JourneyRunResult
    out: dict[int, tuple[Any, ...]] = {}
    ids = sorted(set(run_ids))
    for i in range(0, len(ids), _CHUNK):
        stmt = sa_select(
            col(t.run_id),
            col(t.journey_id),
            col(t.journey_version),
            col(t.customer_id),
            col(t.day),
            col(t.converted),
            col(t.revenue),
            col(t.ended_node),
            col(t.exposures),
        ).where(col(t.run_id).in_(ids[i : i + _CHUNK]))
        for row in session.execute(stmt):
            out[int(row[0])] = tuple(row[1:])
    return out


def variants_of(
    *, session: Session, run_ids: Sequence[int], upto: int
) -> list[tuple[int, str, str]]:
    """``(run, split node, variant)`` of the runs, rows up to id ``upto``."""
    stmt = sa_select(
        col(JourneyRunVariant.run_id),
        col(JourneyRunVariant.node_id),
        col(JourneyRunVariant.variant),
    ).where(col(JourneyRunVariant.run_id).in_(list(run_ids)), col(JourneyRunVariant.id) <= upto)
    return [(int(r), str(n), str(v)) for r, n, v in session.execute(stmt)]


def events_of(
    *,
    session: Session,
    customer_ids: Sequence[str],
    types: Sequence[str],
    since: datetime,
    upto: int,
) -> list[tuple[str, str, datetime, dict[str, Any]]]:
    """``(customer, type, occurred_at, properties)`` of the customers' events of ``types``
    from ``since``, rows up to id ``upto``."""
    if not types:
        return []
    stmt = sa_select(
        col(CustomerEvent.customer_id),
        col(CustomerEvent.type),
        col(CustomerEvent.occurred_at),
        col(CustomerEvent.properties),
    ).where(
        col(CustomerEvent.customer_id).in_(list(customer_ids)),
        col(CustomerEvent.type).in_(list(types)),
        col(CustomerEvent.occurred_at) >= since,
        col(CustomerEvent.id) <= upto,
    )
    return [(str(c), str(t), at, p or {}) for c, t, at, p in session.execute(stmt)]


def orders_of(
    *, session: Session, customer_ids: Sequence[str], since: datetime, upto: int
) -> list[tuple[int, str, datetime, float, str, str | None, str | None]]:
    """``(id, customer, created_at, amount, channel, store, bound guide)`` of the
    customers' orders from ``since``, rows up to id ``upto``."""
    stmt = sa_select(
        col(Order.id),
        col(Order.customer_id),
        col(Order.created_at),
        col(Order.amount),
        col(Order.channel),
        col(Order.store_id),
        col(Order.bound_guide_id),
    ).where(
        col(Order.customer_id).in_(list(customer_ids)),
        col(Order.created_at) >= since,
        col(Order.id) <= upto,
    )
    return [
        (int(i), str(c), at, float(a), str(ch), s, g)
        for i, c, at, a, ch, s, g in session.execute(stmt)
    ]


def tasks_of(
    *, session: Session, customer_ids: Sequence[str]
) -> list[tuple[str, str, int, datetime]]:
    """``(customer, journey, version, completed_at)`` of the customers' completed guide
    tasks that a journey assigned (attribution touches)."""
    stmt = sa_select(
        col(GuideTask.customer_id),
        col(GuideTask.journey_id),
        col(GuideTask.journey_version),
        col(GuideTask.completed_at),
    ).where(
        col(GuideTask.customer_id).in_(list(customer_ids)),
        col(GuideTask.status) == "completed",
        col(GuideTask.journey_id).is_not(None),
        col(GuideTask.journey_version).is_not(None),
        col(GuideTask.completed_at).is_not(None),
    )
    return [(str(c), str(j), int(v), at) for c, j, v, at in session.execute(stmt)]


def customers_of_tasks(
    *, session: Session, since: datetime | None
) -> tuple[set[str], datetime | None]:
    """Customers of journey tasks completed from ``since`` (all without), and the latest
    completion seen."""
    stmt = sa_select(col(GuideTask.customer_id), func.max(col(GuideTask.completed_at))).where(
        col(GuideTask.status) == "completed", col(GuideTask.journey_id).is_not(None)
    )
    if since is not None:
        stmt = stmt.where(col(GuideTask.completed_at) >= since)
    found, latest = set(), None
    for c, at in session.execute(stmt.group_by(col(GuideTask.customer_id))):
        found.add(str(c))
        if at is not None and (latest is None or at > latest):
            latest = at
    return found, latest


def claims_of(*, session: Session, customer_ids: Sequence[str]) -> dict[int, tuple[Any, ...]]:
    """order id → the stored claim ``(journey, version, run, touch_at)`` of the customers'
    orders."""
    t = OrderClaim
    stmt = sa_select(
        col(t.order_id), col(t.journey_id), col(t.journey_version), col(t.run_id), col(t.touch_at)
    ).where(col(t.customer_id).in_(list(customer_ids)))
    return {int(o): (j, int(v), r, at) for o, j, v, r, at in session.execute(stmt)}


def save_claims(
    *,
    session: Session,
    insert_rows: Sequence[Mapping[str, Any]],
    update_rows: Sequence[Mapping[str, Any]],
    delete_ids: Sequence[int],
) -> None:
    """Write the claims that changed."""
    table: Any = OrderClaim.__table__  # type: ignore[attr-defined]
    if delete_ids:
        ids = list(delete_ids)
        for i in range(0, len(ids), _CHUNK):
            session.execute(delete(table).where(table.c.order_id.in_(ids[i : i + _CHUNK])))
    if insert_rows:
        session.execute(insert(table), list(insert_rows))
    if update_rows:
        session.execute(
            update(table).where(table.c.order_id == bindparam("key")),
            [
                {**{k: v for k, v in r.items() if k != "order_id"}, "key": r["order_id"]}
                for r in update_rows
            ],
        )


def save_facts(*, session: Session, rows: Sequence[Mapping[str, Any]], new: bool) -> None:
    """Insert (``new``) or update run fact rows (dicts of ``JourneyRunResult`` columns)."""
    if not rows:
        return
    table: Any = JourneyRunResult.__table__  # type: ignore[attr-defined]
    if new:
        session.execute(insert(table), list(rows))
        return
    session.execute(
        update(table).where(table.c.run_id == bindparam("key")),
        [{**{k: v for k, v in r.items() if k != "run_id"}, "key": r["run_id"]} for r in rows],
    )


def add_to_days(
    *, session: Session, table: Any, deltas: Mapping[tuple[Any, ...], Sequence[float]]
) -> None:
    """Add ``deltas`` (key columns → the sums' increments) to a day table, creating rows."""
    rows = [
        {**dict(zip(_KEYS[table], key, strict=True)), **dict(zip(_SUMS[table], d, strict=True))}
        for key, d in deltas.items()
        if any(d)
    ]
    if not rows:
        return
    t: Any = table.__table__
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(t)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(_KEYS[table]),
        set_={s: t.c[s] + stmt.excluded[s] for s in _SUMS[table]},
    )
    session.execute(stmt, rows)


def forget_run(*, session: Session, run_id: int) -> None:
    """Take a run whose row is being deleted (its workflow never started) out of the
    maintained results: its facts row and what it counted for in the day sums. In the
    caller's transaction."""
    row = session.get(JourneyRunResult, run_id)
    if row is None:
        return
    key = (row.journey_id, row.day, row.journey_version)
    conv, rev = (1, row.revenue) if row.converted else (0, 0.0)
    add_to_days(session=session, table=JourneyDayStat, deltas={key: (-1, -conv, -rev)})
    if row.ended_node is not None and conv:
        add_to_days(
            session=session, table=JourneyDayNode, deltas={(*key, row.ended_node, ""): (0, -1)}
        )
    add_to_days(
        session=session,
        table=JourneyDayVariant,
        deltas={(*key, n, v): (-1, -conv, -rev) for n, v in row.exposures or []},
    )
    session.delete(row)
    session.flush()


# ------------------------------------------------------------------ the reports' reads


def _days(
    stmt: Any, table: Any, journey_id: str, version: int | None, first: date, last: date
) -> Any:
    stmt = stmt.where(
        col(table.journey_id) == journey_id, col(table.day) >= first, col(table.day) <= last
    )
    if version is not None:
        stmt = stmt.where(col(table.journey_version) == version)
    return stmt


def day_totals(
    *, session: Session, journey_id: str, version: int | None, first: date, last: date
) -> list[tuple[date, int, int, float]]:
    """``(day, entered, conversions, revenue)`` per day with entries."""
    t = JourneyDayStat
    stmt = sa_select(
        col(t.day), func.sum(col(t.entered)), func.sum(col(t.conversions)), func.sum(col(t.revenue))
    )
    stmt = (
        _days(stmt, t, journey_id, version, first, last).group_by(col(t.day)).order_by(col(t.day))
    )
    return [(d, int(e or 0), int(c or 0), float(r or 0)) for d, e, c, r in session.execute(stmt)]


def node_totals(
    *, session: Session, journey_id: str, version: int | None, first: date, last: date
) -> dict[tuple[str, str], tuple[int, int]]:
    """(node, port; "" ended) → (visits, converted)."""
    t = JourneyDayNode
    stmt = sa_select(
        col(t.node_id), col(t.port), func.sum(col(t.visits)), func.sum(col(t.converted))
    )
    stmt = _days(stmt, t, journey_id, version, first, last).group_by(col(t.node_id), col(t.port))
    return {(str(n), str(p)): (int(v or 0), int(c or 0)) for n, p, v, c in session.execute(stmt)}


def variant_totals(
    *, session: Session, journey_id: str, version: int | None, first: date, last: date
) -> dict[tuple[str, str], tuple[int, int, float]]:
    """(split node, variant) → (customers, conversions, revenue)."""
    t = JourneyDayVariant
    stmt = sa_select(
        col(t.node_id),
        col(t.variant),
        func.sum(col(t.customers)),
        func.sum(col(t.conversions)),
        func.sum(col(t.revenue)),
    )
    stmt = _days(stmt, t, journey_id, version, first, last).group_by(col(t.node_id), col(t.variant))
    return {
        (str(n), str(v)): (int(c or 0), int(k or 0), float(r or 0))
        for n, v, c, k, r in session.execute(stmt)
    }


def waiting(
    *, session: Session, journey_id: str, version: int | None, start: datetime, end: datetime
) -> dict[str, int]:
    """node → runs entered in ``[start, end)`` that wait there now."""
    stmt = (
        sa_select(col(JourneyRun.current_node), func.count())
        .where(
            col(JourneyRun.journey_id) == journey_id,
            col(JourneyRun.status) == "running",
            col(JourneyRun.entered_at) >= start,
            col(JourneyRun.entered_at) < end,
            col(JourneyRun.current_node).is_not(None),
        )
        .group_by(col(JourneyRun.current_node))
    )
    if version is not None:
        stmt = stmt.where(col(JourneyRun.journey_version) == version)
    return {str(n): int(c) for n, c in session.execute(stmt)}


def claimed(
    *, session: Session, since: datetime, until: datetime, where: Any = None
) -> list[tuple[str, int, int | None, int, float]]:
    """``(journey, version, run or None, orders, revenue)`` of the orders made in
    ``[since, until)`` that a journey claimed (``where``: the report's scope, on
    ``order_claim``'s order columns)."""
    t = OrderClaim
    keys = (col(t.journey_id), col(t.journey_version), col(t.run_id))
    stmt = sa_select(*keys, func.count(), func.coalesce(func.sum(col(t.amount)), 0.0)).where(
        col(t.created_at) >= since, col(t.created_at) < until
    )
    if where is not None:
        stmt = stmt.where(where)
    return [
        (str(j), int(v), None if r is None else int(r), int(n), float(a))
        for j, v, r, n, a in session.execute(stmt.group_by(*keys))
    ]

"""Node visits: the per-step funnel's rows, written with the run reports that carry them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from db.models import NodeVisit


@dataclass(frozen=True)
class VisitReport:
    """One finished node visit as a run report carries it (``port`` None: ended there)."""

    node_id: str
    visit: int
    port: str | None
    at: datetime


@dataclass(frozen=True)
class VisitRow:
    """A visit with the run it belongs to: one ``node_visit`` row."""

    workflow_id: str
    enrollment_id: str
    journey_id: str
    journey_version: int
    customer_id: str
    visit: VisitReport
    #: the ``journey_run`` row (None when the caller does not know it)
    run_id: int | None = None


def insert_visits(*, session: Session, rows: Iterable[VisitRow]) -> None:
    """Insert visits in one statement, skipping those already written (a retried report:
    the unique key is workflow, enrollment, node and visit). The caller commits."""
    values: list[dict[str, Any]] = [
        {
            "workflow_id": r.workflow_id,
            "enrollment_id": r.enrollment_id,
            "journey_id": r.journey_id,
            "journey_version": r.journey_version,
            "customer_id": r.customer_id,
            "run_id": r.run_id,
            "node_id": r.visit.node_id,
            "visit": r.visit.visit,
            "port": r.visit.port,
            "at": r.visit.at,
        }
        for r in rows
    ]
    if not values:
        return
    table: Any = NodeVisit.__table__  # type: ignore[attr-defined]
    keys = ["workflow_id", "enrollment_id", "node_id", "visit"]
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    else:
        stmt = sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
    session.execute(stmt, values)

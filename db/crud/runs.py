"""Journey runs: one row per customer's path, kept in step by the workflow's record_run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.crud._util import read_back
from db.crud.results import forget_run
from db.crud.variants import record_variants
from db.crud.visits import VisitReport, VisitRow, insert_visits
from db.errors import InvalidStatusError, NotFoundError, RunAlreadyRunningError
from db.models import RUN_STATUSES, JourneyRun, utcnow


@dataclass(frozen=True)
class RunCounts:
    """How many customers entered a journey, are in it now, and reached its goal."""

    entered: int = 0
    running: int = 0
    exited: int = 0
    stopped: int = 0
    failed: int = 0
    goal_reached: int = 0


def create_run(
    *,
    session: Session,
    workflow_id: str,
    journey_id: str,
    journey_version: int,
    customer_id: str,
    run_id: str | None = None,
    enrollment_id: str | None = None,
    current_node: str | None = None,
    entered_at: datetime | None = None,
) -> JourneyRun:
    """Record that a customer entered a journey (status ``running``).

    Raises :class:`RunAlreadyRunningError` when ``workflow_id`` already has a running row;
    a partial unique index backs the check against races.
    """
    existing = get_running_run(session=session, workflow_id=workflow_id)
    if existing is not None:
        raise RunAlreadyRunningError(workflow_id, existing.id)
    run = JourneyRun(
        workflow_id=workflow_id,
        run_id=run_id,
        journey_id=journey_id,
        journey_version=journey_version,
        customer_id=customer_id,
        enrollment_id=enrollment_id,
        status="running",
        current_node=current_node,
        entered_at=entered_at or utcnow(),
    )
    session.add(run)
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        winner = get_running_run(session=session, workflow_id=workflow_id)
        if winner is None:
            raise
        raise RunAlreadyRunningError(workflow_id, winner.id) from exc
    read_back(session, run)
    return run


def delete_run(*, session: Session, row_id: int) -> None:
    """Remove a claimed run row whose workflow never started (it is no entry); committed."""
    run = session.get(JourneyRun, row_id)
    if run is not None:
        forget_run(session=session, run_id=row_id)  # the results store may have counted it
        session.delete(run)
    session.commit()


def unconfirmed_runs(
    *, session: Session, older_than: datetime, limit: int = 200
) -> list[JourneyRun]:
    """Running rows without a Temporal run id, claimed before ``older_than``: a start that
    may never have happened (a crash between the claim and the start). Segment enrollment
    passes verify their own claims, so their rows are left to them."""
    stmt = (
        select(JourneyRun)
        .where(
            JourneyRun.status == "running",
            col(JourneyRun.run_id).is_(None),
            col(JourneyRun.entered_at) < older_than,
            or_(
                col(JourneyRun.enrollment_id).is_(None),
                ~col(JourneyRun.enrollment_id).startswith("seg-"),
            ),
        )
        .order_by(col(JourneyRun.id))
        .limit(limit)
    )
    return list(session.exec(stmt))


def get_running_run(*, session: Session, workflow_id: str) -> JourneyRun | None:
    """The running row of ``workflow_id``, or ``None``."""
    stmt = select(JourneyRun).where(
        JourneyRun.workflow_id == workflow_id, JourneyRun.status == "running"
    )
    return session.exec(stmt).first()


def get_latest_run(*, session: Session, workflow_id: str) -> JourneyRun | None:
    """The most recent row of ``workflow_id`` (running or not), or ``None``."""
    stmt = (
        select(JourneyRun)
        .where(JourneyRun.workflow_id == workflow_id)
        .order_by(col(JourneyRun.id).desc())
    )
    return session.exec(stmt).first()


def get_running_runs_for_customer(
    *, session: Session, customer_id: str, journey_id: str | None = None
) -> list[JourneyRun]:
    """The customer's running runs (of one journey, when given), oldest first."""
    stmt = select(JourneyRun).where(
        JourneyRun.customer_id == customer_id, JourneyRun.status == "running"
    )
    if journey_id is not None:
        stmt = stmt.where(JourneyRun.journey_id == journey_id)
    return list(session.exec(stmt.order_by(col(JourneyRun.id))))


def list_runs(
    *,
    session: Session,
    journey_id: str | None = None,
    customer_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[JourneyRun]:
    """Runs, newest first, filtered by journey, customer and/or status."""
    stmt = select(JourneyRun)
    if journey_id is not None:
        stmt = stmt.where(JourneyRun.journey_id == journey_id)
    if customer_id is not None:
        stmt = stmt.where(JourneyRun.customer_id == customer_id)
    if status is not None:
        stmt = stmt.where(JourneyRun.status == status)
    stmt = stmt.order_by(col(JourneyRun.id).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


def mark_run(
    *,
    session: Session,
    workflow_id: str,
    status: str,
    current_node: str | None = None,
    exit_reason: str | None = None,
    goal_reached: bool = False,
    at: datetime | None = None,
) -> JourneyRun:
    """Move the latest run of ``workflow_id`` to ``status``; leaving ``running`` stamps
    ``exited_at``. Raises :class:`NotFoundError` when the workflow has no run row."""
    if status not in RUN_STATUSES:
        raise InvalidStatusError("run status", status, RUN_STATUSES)
    run = get_latest_run(session=session, workflow_id=workflow_id)
    if run is None:
        raise NotFoundError("journey run", workflow_id)
    _apply(run, status, current_node, exit_reason, goal_reached, at or utcnow())
    session.add(run)
    session.commit()
    read_back(session, run)
    return run


def upsert_run(
    *,
    session: Session,
    workflow_id: str,
    journey_id: str,
    journey_version: int,
    customer_id: str,
    status: str,
    current_node: str | None = None,
    exit_reason: str | None = None,
    goal_reached: bool = False,
    at: datetime | None = None,
) -> JourneyRun:
    """Bring the run row of ``workflow_id`` to the given state, creating it if missing.

    The workflow reports its state with this; it is safe to repeat. A ``running`` report
    for a workflow whose latest row has ended starts a new row (the workflow id was reused
    for a re-entry).
    """
    run = _upsert(
        session,
        workflow_id,
        journey_id,
        journey_version,
        customer_id,
        status,
        current_node,
        exit_reason,
        goal_reached,
        at or utcnow(),
    )
    session.commit()
    read_back(session, run)
    return run


def upsert_runs(*, session: Session, reports: Sequence[RunReport]) -> None:
    """Apply many run reports in order, in one transaction (a group commit).

    The worker's run recorder batches the reports of concurrent workflows this way: one
    write transaction instead of one per report. The node visits the reports carry go
    into ``node_visit`` in the same transaction.
    """
    applied: list[tuple[RunReport, JourneyRun]] = []
    for r in reports:
        run = _upsert(
            session,
            r.workflow_id,
            r.journey_id,
            r.journey_version,
            r.customer_id,
            r.status,
            r.current_node,
            r.exit_reason,
            r.goal_reached,
            r.at or utcnow(),
            r.moved_from,
        )
        if r.variants:
            record_variants(session=session, run=run, variants=r.variants)
        applied.append((r, run))
    if any(r.visits for r in reports):
        session.flush()  # the new rows' ids, for their visits' run_id
    insert_visits(
        session=session,
        rows=(
            VisitRow(
                r.workflow_id,
                r.enrollment_id,
                r.journey_id,
                r.journey_version,
                r.customer_id,
                v,
                run.id,
            )
            for r, run in applied
            for v in r.visits
        ),
    )
    session.commit()


@dataclass(frozen=True)
class RunReport:
    """One state report of a run (what :func:`upsert_run` takes, as a value)."""

    workflow_id: str
    journey_id: str
    journey_version: int
    customer_id: str
    status: str
    current_node: str | None = None
    exit_reason: str | None = None
    goal_reached: bool = False
    at: datetime | None = None
    #: node visits finished since the run's last report, and the entry they belong to
    enrollment_id: str = ""
    visits: tuple[VisitReport, ...] = ()
    #: (split node id, variant) pairs the run took so far (``journey_run_variant``)
    variants: tuple[tuple[str, str], ...] = ()
    #: the version the run was moved from (services.version_moves): its row follows it
    moved_from: int | None = None


def _upsert(
    session: Session,
    workflow_id: str,
    journey_id: str,
    journey_version: int,
    customer_id: str,
    status: str,
    current_node: str | None,
    exit_reason: str | None,
    goal_reached: bool,
    now: datetime,
    moved_from: int | None = None,
) -> JourneyRun:
    if status not in RUN_STATUSES:
        raise InvalidStatusError("run status", status, RUN_STATUSES)
    run = get_latest_run(session=session, workflow_id=workflow_id)
    if run is None or (run.status != "running" and status == "running"):
        run = JourneyRun(
            workflow_id=workflow_id,
            journey_id=journey_id,
            journey_version=journey_version,
            customer_id=customer_id,
            status="running",
            entered_at=now,
        )
    elif moved_from is not None and run.journey_version == moved_from:
        # the run was moved to another version (services.version_moves): from now on its
        # row, and so its results, count under the version it follows
        run.journey_version = journey_version
    _apply(run, status, current_node, exit_reason, goal_reached, now)
    session.add(run)
    return run


def run_counts(
    *, session: Session, journey_ids: Sequence[str] | None = None
) -> dict[str, RunCounts]:
    """Run counts per journey id (journeys without runs are absent)."""

    def count_status(status: str) -> ColumnElement[int]:
        return func.sum(case((col(JourneyRun.status) == status, 1), else_=0))

    # sqlalchemy's select: sqlmodel's typed overloads stop at four columns.
    stmt = sa_select(
        col(JourneyRun.journey_id),
        func.count(),
        count_status("running"),
        count_status("exited"),
        count_status("stopped"),
        count_status("failed"),
        func.sum(case((col(JourneyRun.goal_reached).is_(True), 1), else_=0)),
    ).group_by(JourneyRun.journey_id)
    if journey_ids is not None:
        if not journey_ids:
            return {}
        stmt = stmt.where(col(JourneyRun.journey_id).in_(list(journey_ids)))
    result: dict[str, RunCounts] = {}
    for row in session.execute(stmt):
        jid, entered, running, exited, stopped, failed, goals = row
        result[jid] = RunCounts(
            entered=int(entered or 0),
            running=int(running or 0),
            exited=int(exited or 0),
            stopped=int(stopped or 0),
            failed=int(failed or 0),
            goal_reached=int(goals or 0),
        )
    return result


def _apply(
    run: JourneyRun,
    status: str,
    current_node: str | None,
    exit_reason: str | None,
    goal_reached: bool,
    at: datetime,
) -> None:
    run.status = status
    if current_node is not None:
        run.current_node = current_node
    if exit_reason is not None:
        run.exit_reason = exit_reason
    run.goal_reached = run.goal_reached or goal_reached
    if status != "running" and run.exited_at is None:
        run.exited_at = at

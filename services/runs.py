"""Find customers' runs and explain one: "why did Ms. Li get the ¥50 coupon and not the call?"

Runs are found by customer (id, phone or name) or by journey and node ("who is waiting
here"). A run is explained from the workflow's own record, never from today's customer data:
the trace from its ``state`` query (a worker answers it for closed runs too), with the state
at each step taken from a replay of its history (:mod:`services.replay_capture`). Without a
worker the history replay alone gives the same trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from db import crud
from db.models import JourneyRun, JourneyVersion
from db.session import end_transaction, in_thread
from engine import ir
from engine.runtime import RunState
from services.replay import capture_replay, fetch_history
from services.run_explain import RunExplanation, explain

log = logging.getLogger(__name__)
#: How long the run page waits for a worker to answer the ``state`` query.
QUERY_TIMEOUT = timedelta(seconds=2)


@dataclass
class RunHit:
    """A run in a search result, with who and what for the list."""

    run: JourneyRun
    customer_name: str
    journey_name: str


@dataclass
class RunView:
    """Everything the run page shows."""

    run: JourneyRun
    version: JourneyVersion | None
    journey_name: str
    customer_name: str
    explanation: RunExplanation | None
    temporal_url: str
    problems: list[str] = field(default_factory=list)


def search_runs(*, session: Session, query: str, limit: int = 50) -> list[RunHit]:
    """Runs of the customers matching ``query`` (id, phone or name), or of a workflow id;
    with no query, the most recent runs (what an operator opens the page for)."""
    query = query.strip()
    if not query:
        return _hits(session, crud.list_runs(session=session, limit=limit))
    runs: list[JourneyRun] = []
    if query.startswith("journey-"):
        runs = list(
            session.exec(
                select(JourneyRun)
                .where(col(JourneyRun.workflow_id) == query)
                .order_by(col(JourneyRun.id).desc())
                .limit(limit)
            )
        )
    customers = crud.search_customers(session=session, query=query, limit=20)
    for c in customers:
        runs += crud.list_runs(session=session, customer_id=c.id, limit=limit)
    return _hits(session, runs[:limit])


def waiting_at(
    *, session: Session, journey_id: str, node_id: str | None = None, limit: int = 200
) -> list[RunHit]:
    """Customers in ``journey_id`` now (at ``node_id`` when given), newest first."""
    stmt = select(JourneyRun).where(
        JourneyRun.journey_id == journey_id, JourneyRun.status == "running"
    )
    if node_id:
        stmt = stmt.where(JourneyRun.current_node == node_id)
    stmt = stmt.order_by(col(JourneyRun.id).desc()).limit(limit)
    return _hits(session, list(session.exec(stmt)))


def waiting_counts(*, session: Session, journey_id: str) -> dict[str, int]:
    """How many customers are in ``journey_id`` now, per step they are at."""
    stmt = (
        select(JourneyRun.current_node, func.count())
        .where(JourneyRun.journey_id == journey_id, JourneyRun.status == "running")
        .group_by(col(JourneyRun.current_node))
    )
    return {node: n for node, n in session.exec(stmt) if node}


def running_versions(*, session: Session, journey_id: str) -> list[int]:
    """The versions of ``journey_id`` that customers are on now, newest first."""
    stmt = (
        select(JourneyRun.journey_version)
        .where(JourneyRun.journey_id == journey_id, JourneyRun.status == "running")
        .distinct()
    )
    return sorted(set(session.exec(stmt)), reverse=True)


def _hits(session: Session, runs: list[JourneyRun]) -> list[RunHit]:
    cids = {r.customer_id for r in runs}
    jids = {r.journey_id for r in runs}
    names = {c.id: c.name for c in crud.get_customers(session=session, customer_ids=list(cids))}
    journeys = {
        jid: j.name for jid in jids if (j := crud.get_journey(session=session, journey_id=jid))
    }
    return [
        RunHit(r, names.get(r.customer_id, ""), journeys.get(r.journey_id, r.journey_id))
        for r in runs
    ]


def temporal_url(ui_url: str, namespace: str, workflow_id: str) -> str:
    """The run in the Temporal Web UI."""
    return f"{ui_url.rstrip('/')}/namespaces/{namespace}/workflows/{workflow_id}"


def _run_view(session: Session, workflow_id: str, ui_url: str, namespace: str) -> RunView | None:
    run = crud.get_latest_run(session=session, workflow_id=workflow_id)
    if run is None:
        return None
    version = crud.get_version(
        session=session, journey_id=run.journey_id, version=run.journey_version
    )
    journey = crud.get_journey(session=session, journey_id=run.journey_id)
    customer = crud.get_customer(session=session, customer_id=run.customer_id)
    end_transaction(session)
    return RunView(
        run=run,
        version=version,
        journey_name=journey.name if journey else run.journey_id,
        customer_name=customer.name if customer else "",
        explanation=None,
        temporal_url=temporal_url(ui_url, namespace, workflow_id),
    )


async def load_run_view(
    *, session: Session, temporal: Any, workflow_id: str, ui_url: str, namespace: str
) -> RunView | None:
    """The run page's data, or ``None`` when no run has that workflow id."""
    view = await in_thread(_run_view, session, workflow_id, ui_url, namespace)
    if view is None:
        return None
    run, version = view.run, view.version
    compiled = ir.CompiledJourney.from_dict(version.compiled) if version else None
    view.explanation = await explain_workflow(
        temporal=temporal,
        workflow_id=workflow_id,
        journey=compiled,
        journey_id=run.journey_id,
        version=run.journey_version,
        problems=view.problems,
    )
    return view


async def explain_workflow(
    *,
    temporal: Any,
    workflow_id: str,
    journey: ir.CompiledJourney | None,
    journey_id: str,
    version: int | None,
    problems: list[str] | None = None,
) -> RunExplanation | None:
    """Explain a workflow run from its ``state`` query and/or its replayed history.

    ``problems`` collects what could not be read (Temporal down, history gone), so the page
    can say why it shows less.
    """
    from workflows import JourneyWorkflow

    problems = problems if problems is not None else []
    if temporal is None:
        problems.append("Temporal is not configured for this app.")
        return None
    try:
        client = await temporal.client()
    except Exception as exc:  # TemporalUnavailableError and connection errors
        problems.append(str(exc))
        return None
    state: RunState | None = None
    snapshots: list[RunState] = []
    try:
        # Without a worker a query waits until its RPC deadline: keep the page responsive.
        state = await client.get_workflow_handle(workflow_id).query(
            JourneyWorkflow.state, rpc_timeout=QUERY_TIMEOUT
        )
    except Exception as exc:  # no worker, or the run is gone
        problems.append(f"state query: {exc}")
    try:
        history = await fetch_history(client, workflow_id)
        capture = await capture_replay(history)
        snapshots = [s.state for s in capture.snapshots]
    except Exception as exc:
        log.info("history of %s not replayed: %s", workflow_id, exc)
        problems.append(f"history: {exc}")
    source = "query"
    if state is None and snapshots:
        state, source = snapshots[-1], "history"
    if state is None:
        return None
    return explain(
        state,
        journey,
        source=source,
        workflow_id=workflow_id,
        journey_id=journey_id,
        version=version,
        snapshots=snapshots,
    )

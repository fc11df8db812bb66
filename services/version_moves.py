"""Moving waiting customers to a newer version of their journey (issue 17 item 3): the pass.

A marketer fixes a live journey in v2 while customers wait in v1. The dry run
(:func:`plan_move`, :mod:`services.version_move_plan`, re-exported here) says where they
would land and refuses a plan with an invalid target. :func:`start_move` stores the pass
(``journey_version_move``, and its audit entry) and :func:`run_move` tells each waiting
run, page by page, with the ``move_version`` signal (``workflows.contract.MoveToVersion``):
the workflow moves at its next safe point, records "moved from v1 node X to v2 node Y by …"
on its trace and reports itself under v2 (its run row follows). The pass stores its cursor
after each page: an interrupted pass resumes where it stopped (:func:`resume_move`), and a
run told twice ignores the second signal.

A running pass is leased to the process running it (:data:`LEASE`, renewed with each
page's progress). A process that stops (a restart) stops renewing: the reconciler of any
web process claims the pass once its lease lapsed (:func:`claim_orphaned`, a conditional
``UPDATE``: one process wins) and goes on from the stored cursor. A pass that loses its
lease (it stalled past :data:`LEASE`) stops at its next page and leaves the rest to the
claimant, so two processes never tell the same page on and on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.crud import version_moves as moves_crud
from db.models import JourneyVersionMove, utcnow
from db.session import end_transaction, in_thread, writer
from services import audit
from services.version_move_plan import (
    PROBLEMS,
    STAY,
    Landing,
    MoveInputError,
    MovePlan,
    MoveRefusedError,
    NodeRef,
    check_move,
    plan_move,
)
from workflows.contract import MoveToVersion
from workflows.journey_cache import JourneyRef

__all__ = [
    "PROBLEMS",
    "STAY",
    "Landing",
    "MoveInputError",
    "MovePlan",
    "MoveRefusedError",
    "NodeRef",
    "check_move",
    "claim_orphaned",
    "is_active",
    "move_json",
    "plan_move",
    "resume_move",
    "run_move",
    "start_in_background",
    "start_move",
]

log = logging.getLogger(__name__)

#: Runs told per page (the cursor is stored after each); signals in flight at once.
PAGE_SIZE = 200
SIGNAL_CONCURRENCY = 32
#: How long a pass stays its process's after its last page: a page must fit well inside it
#: (PAGE_SIZE / SIGNAL_CONCURRENCY rounds of at most SIGNAL_TIMEOUT each)
LEASE = timedelta(seconds=60)
SIGNAL_TIMEOUT = timedelta(seconds=5)


def new_owner() -> str:
    """A lease owner: this host and process, and a token of its own per claim (two claims
    in one process — two reconcilers in a test — are two owners)."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def start_move(
    *,
    session: Session,
    journey_id: str,
    from_version: int,
    to_version: int | None = None,
    mapping: dict[str, str] | None = None,
    by: str,
) -> JourneyVersionMove:
    """Check the plan (:func:`check_move`) and store the pass (committed by the caller's
    unit of work); start it with :func:`run_move` or :func:`start_in_background`."""
    plan = check_move(
        session=session,
        journey_id=journey_id,
        from_version=from_version,
        to_version=to_version,
        mapping=mapping,
    )
    row = moves_crud.create_move(
        session=session,
        journey_id=journey_id,
        from_version=plan.from_version,
        to_version=plan.to_version,
        node_map=plan.node_map(),
        total=plan.moving,
        by=by,
        # leased from the start: no reconciler takes it before its creator starts it
        owner=new_owner(),
        lease_until=utcnow() + LEASE,
    )
    # the log entry commits with the pass (the caller's transaction)
    audit.record(
        session,
        actor=by,
        action="migrate",
        object_type="journey",
        object_id=journey_id,
        before={"version": plan.from_version, "waiting": plan.moving + plan.staying},
        after={"version": plan.to_version, "node_map": plan.node_map(), "moving": plan.moving},
        summary=f"move {plan.moving} waiting customers from v{plan.from_version} to "
        f"v{plan.to_version} (pass {row.id})",
    )
    return row


#: Passes running in this process (one whose row says running but that runs nowhere lost
#: its process: once its lease lapses, a reconciler claims and continues it).
_ACTIVE: dict[int, asyncio.Task[JourneyVersionMove]] = {}


def is_active(move_id: int) -> bool:
    task = _ACTIVE.get(move_id)
    return task is not None and not task.done()


def start_in_background(
    *, engine: Engine, client: Client, move_id: int, owner: str | None = None
) -> None:
    """Run the pass on this event loop under the lease ``owner`` holds (default: the one
    its row holds — the caller just created or claimed it); its progress is on its row."""
    if is_active(move_id):
        return
    task = asyncio.get_running_loop().create_task(
        run_move(engine=engine, client=client, move_id=move_id, owner=owner),
        name=f"version-move-{move_id}",
    )
    _ACTIVE[move_id] = task
    task.add_done_callback(lambda _t: _ACTIVE.pop(move_id, None))


def resume_move(
    *, session: Session, move_id: int, now: datetime | None = None
) -> JourneyVersionMove:
    """Claim an unfinished pass for this process and mark it running again (the caller
    commits, then starts it); → its row. :class:`MoveInputError` for an unknown or
    finished pass (404, 409), and for one another process runs (409: its lease is live)."""
    now = now or utcnow()
    claimed = moves_crud.claim_move(
        session=session, move_id=move_id, owner=new_owner(), now=now, lease=LEASE, failed_too=True
    )
    row = moves_crud.get_move(session=session, move_id=move_id)
    if row is None:
        raise MoveInputError("move_id", f"no move pass {move_id}", status=404)
    session.refresh(row)  # the UPDATE went around the session
    if claimed:
        return row
    if row.status == "done":
        raise MoveInputError("move_id", f"move pass {move_id} is done already", status=409)
    raise MoveInputError("move_id", f"move pass {move_id} is running already", status=409)


def claim_orphaned(
    *, engine: Engine, now: datetime | None = None, limit: int = 20
) -> list[tuple[int, str]]:
    """Claim the running passes whose process stopped (their lease lapsed), each in its own
    write transaction; → ``(move id, owner)`` of those this caller won (blocking: call it in
    a thread). Two callers at once never both win one pass."""
    now = now or utcnow()
    with Session(engine) as session:
        candidates = moves_crud.orphaned_moves(session=session, now=now, limit=limit)
        end_transaction(session)
    won: list[tuple[int, str]] = []
    for move_id in candidates:
        owner = new_owner()
        with Session(writer(engine)) as session:
            if moves_crud.claim_move(
                session=session, move_id=move_id, owner=owner, now=now, lease=LEASE
            ):
                won.append((move_id, owner))
            session.commit()
    return won


class LeaseLostError(RuntimeError):
    """The pass's lease went to another process (this one stalled past :data:`LEASE`)."""


async def run_move(
    *, engine: Engine, client: Client, move_id: int, owner: str | None = None
) -> JourneyVersionMove:
    """Tell every run of the pass, page by page from its cursor, while ``owner`` (default:
    the row's lease owner — the caller just created or claimed it) holds its lease; → the
    row as it ends (done, failed, or still running under another owner that took over)."""
    row = await in_thread(_get, engine, move_id)
    owner = owner if owner is not None else row.lease_owner
    if row.status != "running" or not owner or row.lease_owner != owner:
        log.info("move pass %s is not this caller's to run (%s)", move_id, row.status)
        return row
    cursor, moved, skipped = row.cursor, row.moved, row.skipped
    try:
        signal = await in_thread(_signal_of, engine, row)
        while True:
            page = await in_thread(
                _page, engine, row.journey_id, row.from_version, list(row.node_map), cursor
            )
            if not page:
                break
            told = await _tell(client, [w for _, w in page], signal)
            moved += told
            skipped += len(page) - told
            cursor = page[-1][0]
            await _store(engine, move_id, owner, cursor, moved, skipped, "running", "")
    except LeaseLostError:
        log.warning(
            "move pass %s: lease lost after run %s, another process goes on", move_id, cursor
        )
        return await in_thread(_get, engine, move_id)
    except Exception as exc:
        log.exception("move pass %s failed after run %s", move_id, cursor)
        await in_thread(
            _progress, engine, move_id, owner, cursor, moved, skipped, "failed", str(exc)
        )
        raise
    await _store(engine, move_id, owner, cursor, moved, skipped, "done", "")
    return await in_thread(_get, engine, move_id)


async def _store(
    engine: Engine,
    move_id: int,
    owner: str,
    cursor: int,
    moved: int,
    skipped: int,
    status: str,
    error: str,
) -> None:
    kept = await in_thread(_progress, engine, move_id, owner, cursor, moved, skipped, status, error)
    if not kept:
        raise LeaseLostError(f"move pass {move_id} is no longer leased to {owner}")


async def _tell(client: Client, workflow_ids: list[str], signal: MoveToVersion) -> int:
    sem = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(wid: str) -> bool:
        async with sem:
            try:
                # bounded, so a page fits inside the lease
                await asyncio.wait_for(
                    client.get_workflow_handle(wid).signal("move_version", signal),
                    SIGNAL_TIMEOUT.total_seconds(),
                )
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    return False  # ended meanwhile: nothing to move
                raise
            return True

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))


def _signal_of(engine: Engine, row: JourneyVersionMove) -> MoveToVersion:
    with Session(engine) as session:
        version = crud.get_version(
            session=session, journey_id=row.journey_id, version=row.to_version
        )
        if version is None:
            raise MoveInputError("to_version", f"v{row.to_version} is gone")
        ref = JourneyRef(row.journey_id, row.to_version, version.content_hash)
        end_transaction(session)
    assert row.id is not None
    return MoveToVersion(
        journey_ref=ref,
        move_id=f"move-{row.id}",
        from_version=row.from_version,
        node_map=dict(row.node_map),
        by=row.created_by,
    )


def _page(
    engine: Engine, journey_id: str, version: int, nodes: list[str], after: int
) -> list[tuple[int, str]]:
    with Session(engine) as session:
        return moves_crud.runs_to_move(
            session=session,
            journey_id=journey_id,
            version=version,
            nodes=nodes,
            after_id=after,
            limit=PAGE_SIZE,
        )


def _progress(
    engine: Engine,
    move_id: int,
    owner: str,
    cursor: int,
    moved: int,
    skipped: int,
    status: str,
    error: str,
) -> bool:
    """Store progress (and renew the lease) while ``owner`` holds it; False: it does not."""
    with Session(writer(engine)) as session:
        kept = moves_crud.set_progress(
            session=session,
            move_id=move_id,
            cursor=cursor,
            moved=moved,
            skipped=skipped,
            status=status,
            error=error,
            owner=owner,
            lease_until=utcnow() + LEASE,
        )
        session.commit()
    return kept


def _get(engine: Engine, move_id: int) -> JourneyVersionMove:
    with Session(engine, expire_on_commit=False) as session:
        row = moves_crud.get_move(session=session, move_id=move_id)
        if row is None:
            raise MoveInputError("move_id", f"no move pass {move_id}", status=404)
        return row


def move_json(row: JourneyVersionMove) -> dict[str, Any]:
    """A pass as the API and the page show it."""
    done = row.moved + row.skipped
    return {
        "id": row.id,
        "journey_id": row.journey_id,
        "from_version": row.from_version,
        "to_version": row.to_version,
        "node_map": dict(row.node_map),
        "status": row.status,
        "total": row.total,
        "moved": row.moved,
        "skipped": row.skipped,
        "done": done,
        "percent": min(100, round(100 * done / row.total)) if row.total else 100,
        "error": row.error,
        "created_by": row.created_by,
        "created_at": row.created_at.isoformat(),
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        # running here, or in another process whose lease is live (no Resume button then)
        "active": is_active(row.id or 0)
        or (row.status == "running" and row.lease_until is not None and row.lease_until > utcnow()),
    }

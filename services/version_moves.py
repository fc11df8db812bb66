"""Moving waiting customers to a newer version of their journey (issue 17 item 3).

A marketer fixes a live journey in v2 while customers wait in v1. :func:`plan_move` is the
dry run: per node of v1 where customers wait, how many, where they would land in v2 (the
same node when v2 has it with the same kind; else a node the marketer picks, or "stay on
v1"), and what would not be done again (coupons issued, messages sent on the way: the run's
context carries over). A target that is missing in v2, of another kind at the same id, the
entry, or unreachable from v2's entry makes the plan refuse (:class:`MoveRefusedError`, a
409). :func:`start_move` stores the pass (``journey_version_move``) and
:func:`run_move` tells each waiting run, page by page, with the ``move_version`` signal
(``workflows.contract.MoveToVersion``): the workflow moves at its next safe point, records
"moved from v1 node X to v2 node Y by …" on its trace and reports itself under v2 (its run
row follows). The pass stores its cursor after each page: an interrupted pass resumes where
it stopped (:func:`resume_move`), and a run told twice ignores the second signal.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from db import crud
from db.crud import version_moves as moves_crud
from db.models import JourneyVersion, JourneyVersionMove
from db.session import end_transaction, in_thread, writer
from engine import ir, kinds
from services import audit
from workflows.contract import MoveToVersion
from workflows.journey_cache import JourneyRef

log = logging.getLogger(__name__)

#: A mapping's value for "these customers stay on the version they follow".
STAY = ""
#: Runs told per page (the cursor is stored after each); signals in flight at once.
PAGE_SIZE = 200
SIGNAL_CONCURRENCY = 32

#: Why a target cannot take customers (the dry run names it; apply answers 409).
PROBLEMS = ("missing", "kind", "entry", "unreachable")


class MoveInputError(ValueError):
    """A request the dry run cannot take; ``field`` names the offending field."""

    def __init__(self, field: str, message: str, *, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.status = status


class MoveRefusedError(Exception):
    """Apply refused: the plan has invalid targets, or nobody waits at a mapped node."""

    def __init__(self, plan: MovePlan, message: str) -> None:
        super().__init__(message)
        self.plan = plan
        self.message = message


@dataclass(frozen=True)
class NodeRef:
    node_id: str
    label: str
    kind: str


@dataclass(frozen=True)
class Landing:
    """One row of the dry run: the customers waiting at one node of the old version."""

    node: NodeRef
    waiting: int
    #: where they land in the new version; None: they stay on the old version
    target: NodeRef | None
    #: the target is the same node (id and kind): a wait there keeps counting from arrival
    same_place: bool
    #: why the target cannot take them (one of PROBLEMS), None when it can
    problem: str | None = None
    #: side-effect steps already done on the way here: not done again (context carries over)
    kept: tuple[NodeRef, ...] = ()
    #: side-effect steps after the target the customer may already have passed: done again
    again: tuple[NodeRef, ...] = ()


@dataclass(frozen=True)
class MovePlan:
    journey_id: str
    from_version: int
    to_version: int
    rows: tuple[Landing, ...]
    #: the new version's nodes a marketer may pick (the selects' options)
    choices: tuple[NodeRef, ...] = field(default=())

    @property
    def moving(self) -> int:
        return sum(r.waiting for r in self.rows if r.target is not None)

    @property
    def staying(self) -> int:
        return sum(r.waiting for r in self.rows if r.target is None)

    @property
    def problems(self) -> list[Landing]:
        return [r for r in self.rows if r.problem is not None]

    @property
    def ok(self) -> bool:
        return not self.problems

    def node_map(self) -> dict[str, str]:
        """Old node → new node, for the rows that move (what the signal carries)."""
        return {r.node.node_id: r.target.node_id for r in self.rows if r.target is not None}

    def to_dict(self) -> dict[str, Any]:
        return {
            "journey_id": self.journey_id,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "moving": self.moving,
            "staying": self.staying,
            "ok": self.ok,
            "rows": [asdict(r) for r in self.rows],
            "choices": [asdict(c) for c in self.choices],
        }


# ------------------------------------------------------------------ the dry run


def plan_move(
    *,
    session: Session,
    journey_id: str,
    from_version: int,
    to_version: int | None = None,
    mapping: dict[str, str] | None = None,
) -> MovePlan:
    """The dry run: where the customers waiting in ``from_version`` would land in
    ``to_version`` (None: the next version), with ``mapping`` (old node → new node, or
    :data:`STAY`) over the defaults. Raises :class:`MoveInputError` naming the field."""
    old_row = crud.get_version(session=session, journey_id=journey_id, version=from_version)
    if old_row is None:
        raise MoveInputError(
            "from_version", f"journey {journey_id} has no version {from_version}", status=404
        )
    if to_version is None:
        to_version = from_version + 1
    if to_version <= from_version:
        raise MoveInputError(
            "to_version",
            f"customers move to a later version: v{to_version} is not after v{from_version}",
        )
    new_row = crud.get_version(session=session, journey_id=journey_id, version=to_version)
    if new_row is None:
        raise MoveInputError(
            "to_version",
            f"journey {journey_id} has no version {to_version}: publish the fix first",
        )
    old, new = _compiled(old_row), _compiled(new_row)
    old_ids = {s.node_id for s in old.steps}
    mapping = dict(mapping or {})
    for key, value in mapping.items():
        if key not in old_ids:
            raise MoveInputError(f"mapping.{key}", f"v{from_version} has no node {key!r}")
        if not isinstance(value, str):
            raise MoveInputError(f"mapping.{key}", "a node id of the new version, or '' to stay")
    waiting = moves_crud.waiting_by_node(
        session=session, journey_id=journey_id, version=from_version
    )
    reach_old_to = _reaching(old)
    reach_new = _reachable(new, new.entry_node_id)
    rows = []
    for step in old.steps:  # the version's node order (as compiled), stable for the table
        n = waiting.get(step.node_id, 0)
        if not n and step.node_id not in mapping:
            continue
        rows.append(_landing(old, new, step, n, mapping, reach_old_to, reach_new))
    choices = tuple(
        _ref(s) for s in new.steps if s.node_id != new.entry_node_id and s.node_id in reach_new
    )
    return MovePlan(journey_id, from_version, to_version, tuple(rows), choices)


def _landing(
    old: ir.CompiledJourney,
    new: ir.CompiledJourney,
    step: ir.Step,
    waiting: int,
    mapping: dict[str, str],
    reaching: dict[str, set[str]],
    reach_new: set[str],
) -> Landing:
    node = _ref(step)
    new_ids = {s.node_id: s for s in new.steps}
    same = new_ids.get(step.node_id)
    if step.node_id in mapping:
        chosen = mapping[step.node_id]
    else:  # the default: the same node when the new version has it with the same kind
        chosen = step.node_id if same is not None and _kind(same) == node.kind else STAY
    done_before = reaching.get(step.node_id, set()) - {step.node_id}
    kept = tuple(_ref(old.step(n)) for n in _in_order(old, done_before) if _acts(old.step(n)))
    if chosen == STAY:
        return Landing(node, waiting, None, False, kept=kept)
    target_step = new_ids.get(chosen)
    if target_step is None:
        return Landing(node, waiting, NodeRef(chosen, chosen, ""), False, "missing", kept)
    target = _ref(target_step)
    problem = None
    if chosen == step.node_id and target.kind != node.kind:
        problem = "kind"
    elif chosen == new.entry_node_id:
        problem = "entry"
    elif chosen not in reach_new:
        problem = "unreachable"
    # what runs from the target on: the target itself too, unless the customer is already
    # there (a step they are waiting in has not done its effect yet)
    after = _reachable(new, chosen) - ({chosen} if chosen == step.node_id else set())
    again = tuple(
        _ref(new.step(n))
        for n in _in_order(new, after & (done_before | {step.node_id}))
        if _acts(new.step(n))
    )
    same_place = chosen == step.node_id and problem is None
    return Landing(node, waiting, target, same_place, problem, kept, again)


def _compiled(version: JourneyVersion) -> ir.CompiledJourney:
    return ir.CompiledJourney.from_dict(version.compiled)


def _kind(step: ir.Step) -> str:
    return ir.STEP_KIND[type(step)]


def _ref(step: ir.Step) -> NodeRef:
    return NodeRef(step.node_id, step.label or step.node_id, _kind(step))


def _acts(step: ir.Step) -> bool:
    """A step with a side effect of its own (coupon, message, task, points, profile)."""
    return bool(kinds.by_step(step).effects)


def _in_order(journey: ir.CompiledJourney, ids: Iterable[str]) -> list[str]:
    wanted = set(ids)
    return [s.node_id for s in journey.steps if s.node_id in wanted]


def _reachable(journey: ir.CompiledJourney, start: str) -> set[str]:
    edges = {s.node_id: [t.target for t in s.transitions if t.target] for s in journey.steps}
    seen, todo = {start}, [start]
    while todo:
        for nxt in edges.get(todo.pop(), []):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen if start in edges else set()


def _reaching(journey: ir.CompiledJourney) -> dict[str, set[str]]:
    """For each node, the nodes on some path from the entry to it (itself included)."""
    from_entry = _reachable(journey, journey.entry_node_id)
    return {
        s.node_id: {n for n in from_entry if s.node_id in _reachable(journey, n)}
        for s in journey.steps
        if s.node_id in from_entry
    }


# ------------------------------------------------------------------ apply


def check_move(
    *,
    session: Session,
    journey_id: str,
    from_version: int,
    to_version: int | None = None,
    mapping: dict[str, str] | None = None,
) -> MovePlan:
    """The plan, when it may be applied. Raises :class:`MoveRefusedError` when a mapped
    node is invalid or nobody waits at a mapped node, :class:`MoveInputError` on bad
    input."""
    plan = plan_move(
        session=session,
        journey_id=journey_id,
        from_version=from_version,
        to_version=to_version,
        mapping=mapping,
    )
    if not plan.ok:
        bad = ", ".join(
            f"{r.node.node_id} → {r.target.node_id if r.target else ''} ({r.problem})"
            for r in plan.problems
        )
        raise MoveRefusedError(plan, f"invalid targets in v{plan.to_version}: {bad}")
    if not plan.moving:
        raise MoveRefusedError(plan, "nobody waits at a node that moves")
    return plan


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


#: Passes running in this process (a pass whose row says running but is not here was cut
#: off by a restart: :func:`resume_move` continues it).
_ACTIVE: dict[int, asyncio.Task[JourneyVersionMove]] = {}


def is_active(move_id: int) -> bool:
    task = _ACTIVE.get(move_id)
    return task is not None and not task.done()


def start_in_background(*, engine: Engine, client: Client, move_id: int) -> None:
    """Run the pass on this event loop; its progress is on its row."""
    if is_active(move_id):
        return
    task = asyncio.get_running_loop().create_task(
        run_move(engine=engine, client=client, move_id=move_id), name=f"version-move-{move_id}"
    )
    _ACTIVE[move_id] = task
    task.add_done_callback(lambda _t: _ACTIVE.pop(move_id, None))


def resume_move(*, session: Session, move_id: int) -> JourneyVersionMove:
    """Mark an unfinished pass running again (the caller starts it); → its row.
    :class:`MoveInputError` for an unknown or finished pass."""
    row = moves_crud.get_move(session=session, move_id=move_id)
    if row is None:
        raise MoveInputError("move_id", f"no move pass {move_id}", status=404)
    if row.status == "done":
        raise MoveInputError("move_id", f"move pass {move_id} is done already", status=409)
    moves_crud.set_progress(
        session=session, move_id=move_id, cursor=row.cursor, moved=row.moved, skipped=row.skipped
    )
    return row


async def run_move(*, engine: Engine, client: Client, move_id: int) -> JourneyVersionMove:
    """Tell every run of the pass, page by page from its cursor; → the finished row."""
    row, signal = await in_thread(_load, engine, move_id)
    cursor, moved, skipped = row.cursor, row.moved, row.skipped
    try:
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
            await in_thread(_progress, engine, move_id, cursor, moved, skipped, "running", "")
    except Exception as exc:
        log.exception("move pass %s failed after run %s", move_id, cursor)
        await in_thread(_progress, engine, move_id, cursor, moved, skipped, "failed", str(exc))
        raise
    await in_thread(_progress, engine, move_id, cursor, moved, skipped, "done", "")
    return await in_thread(_get, engine, move_id)


async def _tell(client: Client, workflow_ids: list[str], signal: MoveToVersion) -> int:
    sem = asyncio.Semaphore(SIGNAL_CONCURRENCY)

    async def one(wid: str) -> bool:
        async with sem:
            try:
                await client.get_workflow_handle(wid).signal("move_version", signal)
            except RPCError as exc:
                if exc.status is RPCStatusCode.NOT_FOUND:
                    return False  # ended meanwhile: nothing to move
                raise
            return True

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))


def _load(engine: Engine, move_id: int) -> tuple[JourneyVersionMove, MoveToVersion]:
    with Session(engine, expire_on_commit=False) as session:
        row = moves_crud.get_move(session=session, move_id=move_id)
        if row is None:
            raise MoveInputError("move_id", f"no move pass {move_id}", status=404)
        version = crud.get_version(
            session=session, journey_id=row.journey_id, version=row.to_version
        )
        if version is None:
            raise MoveInputError("to_version", f"v{row.to_version} is gone")
        ref = JourneyRef(row.journey_id, row.to_version, version.content_hash)
        end_transaction(session)
    return row, MoveToVersion(
        journey_ref=ref,
        move_id=f"move-{move_id}",
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
    engine: Engine, move_id: int, cursor: int, moved: int, skipped: int, status: str, error: str
) -> None:
    with Session(writer(engine)) as session:
        moves_crud.set_progress(
            session=session,
            move_id=move_id,
            cursor=cursor,
            moved=moved,
            skipped=skipped,
            status=status,
            error=error,
        )
        session.commit()


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
        "active": is_active(row.id or 0),
    }

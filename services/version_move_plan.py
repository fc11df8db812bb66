"""The dry run of moving waiting customers to a newer version (issue 17 item 3).

Per node of the old version where customers wait: how many, where they would land in the
new version (the same node when it has it with the same kind; else the node the marketer
picks, or "stay"), the side-effect steps already done on the way (not done again: the
run's context carries over) and those after the target they may pass again. A target that
is missing, of another kind at the same id, the entry, or unreachable from the entry is
named (:class:`Landing.problem`); :func:`check_move` refuses such a plan. The pass itself
is :mod:`services.version_moves`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session

from db import crud
from db.crud import version_moves as moves_crud
from db.models import JourneyVersion
from engine import ir, kinds

#: A mapping's value for "these customers stay on the version they follow".
STAY = ""

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

"""The words of moving waiting customers to a newer version (API and page alike)."""

from __future__ import annotations

from typing import Any

from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import kind_title
from services.version_moves import Landing, MoveInputError, MovePlan

PROBLEMS = {
    "missing": lazy("v%(to)s has no node %(target)s."),
    "kind": lazy(
        "Node %(target)s is a %(target_kind)s in v%(to)s, not a %(kind)s: pick where these "
        "customers go, or let them stay on v%(from)s."
    ),
    "entry": lazy("Customers cannot land on the entry of v%(to)s: pick a step after it."),
    "unreachable": lazy(
        "Node %(target)s cannot be reached from the entry of v%(to)s: pick a node on its path."
    ),
}


def problem(plan: MovePlan, row: Landing) -> str:
    """Why ``row``'s target cannot take its customers, in the UI language."""
    target = row.target
    return gettext(PROBLEMS[row.problem or "missing"]) % {
        "to": plan.to_version,
        "from": plan.from_version,
        "target": target.label if target else "",
        "target_kind": kind_title(target.kind) if target and target.kind else "",
        "kind": kind_title(row.node.kind),
    }


def refused(plan: MovePlan) -> str:
    """The 409's sentence: what makes the plan refuse."""
    if plan.problems:
        return gettext("Nobody was moved: fix the nodes named below and try again.")
    return gettext("Nobody waits at a node that moves: there is nothing to move.")


def refused_errors(plan: MovePlan) -> list[dict[str, Any]]:
    """The 409's ``errors``: one per mapped node that is invalid, naming its field."""
    return [
        {"field": f"mapping.{r.node.node_id}", "msg": problem(plan, r), "type": r.problem}
        for r in plan.problems
    ]


def input_problem(exc: MoveInputError) -> dict[str, Any]:
    """A 4xx body naming the field at fault (the API's ``Problem`` shape)."""
    return {"detail": exc.message, "errors": [{"field": exc.field, "msg": exc.message}]}


def plan_json(plan: MovePlan) -> dict[str, Any]:
    """The dry run as the API returns it, each invalid row with its sentence."""
    data = plan.to_dict()
    for row, out in zip(plan.rows, data["rows"], strict=True):
        out["problem_text"] = problem(plan, row) if row.problem else None
    return data

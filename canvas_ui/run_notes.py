"""One line per visited node, in the marketer's language, from a run's trace.

"分支: rfm_class=重要挽留 → 重要客户", "优惠券 SIM00003 · 到期 12-24", "任务 T9 · 已完成 ·
interested", "等待至 11-25 10:00". Only the trace is read (inputs, result, port), so the note
says what the run saw then, not what the customer's profile says today.
"""

from __future__ import annotations

from typing import Any

from canvas_ui.i18n import gettext as _
from canvas_ui.kinds import kind_info
from canvas_ui.texts import when
from canvas_ui.words import exit_reason
from services.run_explain import RunExplanation, StepView

__all__ = ["boot_steps", "current_note", "step_note", "when"]


def step_note(step: StepView, tz: str) -> str:
    """The annotation shown on the node and in the timeline: its kind's note
    (:mod:`canvas_ui.kinds`), or what failed."""
    if step.error:
        return _("Failed: %(error)s") % {"error": step.error}
    if step.kind == "goal":  # the journey goal, reached anywhere (not a node kind)
        return _("Goal reached")
    info = kind_info(step.kind)
    return info.run_note(step, tz) if info is not None else step.summary


def current_note(exp: RunExplanation, labels: dict[str, str]) -> str:
    """ "waiting at 等待 3 天 until 11-25 10:00", or how the run ended."""
    w = exp.waiting
    if exp.status == "running" and w:
        node = labels.get(w["node_id"], w["node_id"])
        if w.get("until"):
            return _("Waiting at %(node)s until %(at)s") % {
                "node": node,
                "at": when(w["until"], exp.timezone),
            }
        return _("Waiting at %(node)s") % {"node": node}
    if exp.status == "running":
        return _("In journey")
    reason = exp.exit_reason or exp.status
    if exp.goal_reached:
        return _("Finished: goal reached")
    return _("Finished: %(reason)s") % {"reason": exit_reason(reason)}


def boot_steps(exp: RunExplanation) -> list[dict[str, Any]]:
    """The steps as the run view script needs them (with notes and display times)."""
    out = []
    for s in exp.steps:
        d = {
            "index": s.index,
            "node_id": s.node_id,
            "kind": s.kind,
            "visit": s.visit,
            "port": s.port,
            "next_node": s.next_node,
            "error": s.error,
            "note": step_note(s, exp.timezone),
            "at": when(s.at, exp.timezone),
            "inputs": s.inputs,
            "result": s.result,
            "context": s.context,
            "events": s.events,
            "waiting": s.waiting,
        }
        out.append(d)
    return out

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

__all__ = ["boot_steps", "current_note", "move_note", "policy_notes", "step_note", "when"]


def step_note(step: StepView, tz: str) -> str:
    """The annotation shown on the node and in the timeline: its kind's note
    (:mod:`canvas_ui.kinds`), or what failed."""
    if step.kind == "move":  # moved to another version (issue 17), not a node kind
        return move_note(step)
    if step.error:
        return _("Failed: %(error)s") % {"error": step.error}
    if step.kind == "goal":  # the journey goal, reached anywhere (not a node kind)
        return _("Goal reached")
    policy = policy_notes(step, tz)
    if step.result.get("capped"):  # held back by a cap: nothing of the kind's own happened
        return " · ".join(policy)
    info = kind_info(step.kind)
    note = info.run_note(step, tz) if info is not None else step.summary
    return " · ".join([*policy, note])


def move_note(step: StepView) -> str:
    """A run moved to another version ("moved from v1 node w to v2 node w by li"), or a
    move that did not apply to it."""
    i = step.inputs
    if step.error:
        return _("Not moved to v%(new)s: this step has no place there") % {
            "new": i.get("to_version", "")
        }
    return _("Moved from v%(old)s step %(src)s to v%(new)s step %(dst)s by %(by)s") % {
        "old": i.get("from_version", ""),
        "src": i.get("from_node", ""),
        "new": i.get("to_version", ""),
        "dst": i.get("to_node", ""),
        "by": i.get("by") or "—",
    }


def policy_notes(step: StepView, tz: str) -> list[str]:
    """What the contact policy did at an action step (engine.contact_policy: the trace's
    ``inputs["policy"]``), each with the rule that caused it: "Deferred by quiet hours
    (21:00–08:00 Asia/Shanghai) until 12-03 08:00", "Skipped: frequency cap mkt7 reached"."""
    notes = []
    for p in step.inputs.get("policy") or []:
        at = when(p.get("until"), tz) if p.get("until") else ""
        rule = str(p.get("rule", ""))
        decision = p.get("decision")
        if rule == "quiet_hours":
            notes.append(
                _("Deferred by quiet hours (%(hours)s) until %(at)s")
                % {"hours": p.get("detail", ""), "at": at}
            )
        elif rule == "send_window":
            notes.append(
                _("Deferred into the step's send window (%(hours)s) until %(at)s")
                % {"hours": p.get("detail", ""), "at": at}
            )
        elif decision == "waited":
            notes.append(
                _("Waited for frequency cap %(cap)s until %(at)s") % {"cap": rule, "at": at}
            )
        elif decision == "capped":
            notes.append(
                _("Capped by frequency cap %(cap)s (allowed again %(at)s): took 'capped'")
                % {"cap": rule, "at": at}
            )
        else:
            notes.append(
                _("Skipped: frequency cap %(cap)s reached (allowed again %(at)s)")
                % {"cap": rule, "at": at}
            )
    return notes


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

"""One line per visited node, in the marketer's language, from a run's trace.

"分支: rfm_class=重要挽留 → 重要客户", "优惠券 SIM00003 · 到期 12-24", "任务 T9 · 已完成 ·
interested", "等待至 11-25 10:00". Only the trace is read (inputs, result, port), so the note
says what the run saw then, not what the customer's profile says today.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from canvas_ui.i18n import gettext as _
from engine.semantics import parse_time
from services.run_explain import RunExplanation, StepView


def when(value: str | None, tz: str) -> str:
    """``MM-DD HH:MM`` in the journey's timezone ("" for none)."""
    if not value:
        return ""
    try:
        return parse_time(value).astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M")
    except (ValueError, KeyError):
        return value[:16]


def step_note(step: StepView, tz: str) -> str:
    """The annotation shown on the node and in the timeline."""
    r, k = step.result, step.kind
    if step.error:
        return _("Failed: %(error)s") % {"error": step.error}
    if k == "entry":
        trigger = (r.get("trigger") or {}).get("type")
        return _("Entered by %(event)s") % {"event": trigger} if trigger else _("Entered")
    if k == "branch":
        return _("Branch: %(summary)s") % {"summary": step.summary}
    if k == "split":
        return _("Variant %(variant)s") % {"variant": r.get("variant", step.port)}
    if k == "wait":
        if r.get("until"):
            return _("Wait until %(at)s") % {"at": when(r["until"], tz)}
        return _("No wait: %(why)s") % {"why": step.inputs.get("rule", "")}
    if k == "wait_for_event":
        if step.port == "matched":
            return _("%(event)s at %(at)s") % {
                "event": step.inputs.get("event_type", ""),
                "at": when(r.get("occurred_at"), tz),
            }
        if step.port == "timeout":
            return _("Timed out: no %(event)s") % {"event": step.inputs.get("event_type", "")}
        return _("Waiting for %(event)s") % {"event": step.inputs.get("event_type", "")}
    if k == "send_coupon":
        return _("Coupon %(code)s · expires %(date)s") % {
            "code": r.get("code") or r.get("coupon_id", ""),
            "date": when(r.get("expires_at"), tz)[:5],
        }
    if k == "send_message":
        return _("Message %(status)s") % {"status": r.get("status", "")}
    if k == "assign_guide_task":
        outcome = r.get("outcome") or (step.port if step.port == "expired" else "")
        if outcome:
            return _("Task %(task)s · done · %(outcome)s") % {
                "task": r.get("task_id", ""),
                "outcome": outcome,
            }
        return _("Task %(task)s · open") % {"task": r.get("task_id", "")}
    if k == "goal":
        return _("Goal reached")
    if k == "exit":
        return _("Goal reached") if step.summary == "goal reached" else _("Exit")
    return step.summary


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
    return _("Finished: %(reason)s") % {"reason": reason}


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

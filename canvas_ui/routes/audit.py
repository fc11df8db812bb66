"""The audit log page (admin / HQ): who changed what and when, filtered by actor, object
type, action and period, a page at a time. The same search as ``GET /api/audit``."""

from __future__ import annotations

import json
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from canvas_ui.deps import SessionDep
from canvas_ui.i18n import gettext, lazy
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.models import AUDIT_ACTIONS, AUDIT_OBJECT_TYPES, AuditEntry
from services import audit

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

PAGE_SIZE = 50
OBJECT_LABELS = {
    "journey": lazy("Journey"),
    "segment": lazy("Segment"),
    "policy": lazy("Contact policy"),
    "priority_group": lazy("Priority group"),
    "account": lazy("Account"),
    "customer": lazy("Customer"),
    "guide": lazy("Guide"),
}
ACTION_LABELS = {
    "create": lazy("Created"),
    "save": lazy("Saved"),
    "publish": lazy("Published"),
    "pause": lazy("Paused"),
    "resume": lazy("Resumed"),
    "archive": lazy("Archived"),
    "restore": lazy("Restored"),
    "submit": lazy("Submitted for approval"),
    "approve": lazy("Approved"),
    "reject": lazy("Rejected"),
    "migrate": lazy("Moved waiting customers"),
    "campaign": lazy("Campaign dates"),
    "update": lazy("Changed"),
    "delete": lazy("Deleted"),
    "password": lazy("Password set"),
    "activate": lazy("Switched on"),
    "deactivate": lazy("Switched off"),
}


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def shown(value: Any) -> str:
    """A before / after value as the table shows it (plain text, JSON for structures)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)[:400]


STATUS_WORDS = {
    "draft": lazy("Draft"),
    "live": lazy("Live"),
    "paused": lazy("Paused"),
    "archived": lazy("Archived"),
}


def summary_words(e: AuditEntry) -> str:
    """The entry's summary in the reader's language where the log keeps the facts (status
    changes, versions, step counts); else as stored (names, comments, policy values)."""
    after = e.after if isinstance(e.after, dict) else {}
    before = e.before if isinstance(e.before, dict) else {}
    if e.object_type != "journey":
        return e.summary
    if e.action in ("save", "submit") and "changed" in after:
        words = gettext("%(a)s added · %(r)s removed · %(c)s changed") % {
            "a": after.get("added", 0),
            "r": after.get("removed", 0),
            "c": after.get("changed", 0),
        }
        return words if e.action == "save" else f"{e.summary.split(':')[0]}: {words}"
    if e.action == "publish" and after.get("live_version"):
        return gettext("Version %(n)s live") % {"n": after["live_version"]}
    if "status" in before and "status" in after:
        return " → ".join(
            gettext(STATUS_WORDS[s]) if s in STATUS_WORDS else str(s)
            for s in (before["status"], after["status"])
        )
    return e.summary


@router.get("/audit")
def audit_page(
    request: Request,
    session: SessionDep,
    actor: str = Query(default="", max_length=64),
    object_type: str = Query(default="", max_length=32),
    action: str = Query(default="", max_length=32),
    date_from: str = Query(default="", alias="from", max_length=10),
    date_to: str = Query(default="", alias="to", max_length=10),
    page: int = Query(default=1, ge=1, le=1_000_000),
) -> Response:
    """The log, newest first; a filter it cannot take is named above the table."""
    zone = ZoneInfo(request.app.state.settings.timezone)
    start, end = _day(date_from), _day(date_to)
    errors: dict[str, str] = {}
    if date_from and start is None:
        errors["from"] = gettext("Give a date.")
    if date_to and end is None:
        errors["to"] = gettext("Give a date.")
    query = audit.AuditQuery(
        actor=actor,
        object_type=object_type if object_type in AUDIT_OBJECT_TYPES else "",
        action=action if action in AUDIT_ACTIONS else "",
        since=datetime.combine(start, time(), zone) if start else None,
        # the whole "to" day counts
        until=datetime.combine(end + timedelta(days=1), time(), zone) if end else None,
        page=page,
        page_size=PAGE_SIZE,
    )
    try:
        result = audit.search(session=session, query=query)
    except audit.AuditQueryError as exc:
        errors["to" if exc.field == "until" else exc.field] = gettext(
            "The period must end after it starts."
        )
        result = audit.AuditResult([], 0, 1, PAGE_SIZE)
    filters = {
        "actor": actor,
        "object_type": query.object_type,
        "action": query.action,
        "from": date_from,
        "to": date_to,
    }
    return render(
        request,
        "audit.html",
        {
            "result": result,
            "filters": filters,
            "errors": errors,
            "actors": audit.actors(session=session),
            "object_labels": {k: gettext(v) for k, v in OBJECT_LABELS.items()},
            "action_labels": {k: gettext(v) for k, v in ACTION_LABELS.items()},
            "shown": shown,
            "summary_words": summary_words,
            "query_string": "&".join(f"{k}={v}" for k, v in filters.items() if v),
        },
        block="table",
    )

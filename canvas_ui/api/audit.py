"""``GET /api/audit``: the audit log (admin / HQ), filtered and paginated like its page.

Filters: ``actor``, ``object_type``, ``object_id``, ``action``, the period ``since`` (from)
and ``until`` (before), ``page`` and ``page_size``. A filter it cannot take is a 422 naming
the field (``query.object_type``, ``query.until`` …).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from canvas_ui.deps import SessionDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.models import AuditEntry
from services import audit

router = APIRouter(prefix="/api", tags=["audit"], route_class=UnitOfWorkRoute)


def entry_json(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "summary": e.summary,
        "before": e.before,
        "after": e.after,
    }


def run_query(session: Any, query: audit.AuditQuery) -> audit.AuditResult:
    """The search, its refusals as the API's 422 naming the query field."""
    try:
        return audit.search(session=session, query=query)
    except audit.AuditQueryError as exc:
        raise RequestValidationError(
            [{"loc": ("query", exc.field), "msg": exc.message, "type": "value_error"}]
        ) from exc


@router.get("/audit")
def list_audit(
    session: SessionDep,
    actor: str = Query(default="", max_length=64, description="who made the change"),
    object_type: str = Query(default="", max_length=32, description="journey, segment, …"),
    object_id: str = Query(default="", max_length=120),
    action: str = Query(default="", max_length=32, description="save, publish, approve, …"),
    since: datetime | None = Query(default=None, description="from this moment on"),
    until: datetime | None = Query(default=None, description="before this moment"),
    page: int = Query(default=1, ge=1, le=1_000_000),
    page_size: int = Query(default=50, ge=1, le=audit.MAX_PAGE_SIZE),
) -> dict[str, Any]:
    """Who changed what and when, newest first, with the values before and after for
    settings."""
    result = run_query(
        session,
        audit.AuditQuery(
            actor=actor,
            object_type=object_type,
            object_id=object_id,
            action=action,
            since=since,
            until=until,
            page=page,
            page_size=page_size,
        ),
    )
    return {
        "entries": [entry_json(e) for e in result.entries],
        "total": result.total,
        "page": result.page,
        "page_size": result.page_size,
        "pages": result.pages,
    }

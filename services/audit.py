"""The audit log (issue 17 item 5): who changed what, when, and for settings the values
before and after — journeys (create, save, publish, pause, resume, archive, restore, submit,
approve, reject, migrate, campaign dates), segments, the policy page (its ``policy_change``
history is mirrored here, see ``db.crud.audit.add_policy_changes``) and accounts.

:func:`record` adds the entry to the caller's session and never commits: call it before
the change's own commit, so the entry and the change are one transaction. Journeys record
from ``db.crud.journeys`` (every path that changes one passes there).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from db.crud import audit as crud
from db.crud._util import aware
from db.models import AUDIT_ACTIONS, AUDIT_OBJECT_TYPES, AuditEntry

MAX_PAGE_SIZE = 200


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any = None,
    after: Any = None,
    summary: str = "",
) -> AuditEntry:
    """Add an entry to ``session``'s transaction; it commits with the change it records.

    ``action`` is one of :data:`~db.models.AUDIT_ACTIONS` and ``object_type`` one of
    :data:`~db.models.AUDIT_OBJECT_TYPES` (a typo would hide the entry from the page's
    filters, so it is refused here, at the developer's test run)."""
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; add it to AUDIT_ACTIONS")
    if object_type not in AUDIT_OBJECT_TYPES:
        raise ValueError(f"unknown audit object type {object_type!r}")
    return crud.add_entry(
        session,
        actor=actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        summary=summary,
    )


class AuditQueryError(ValueError):
    """A filter the log cannot take; ``field`` names it (the page and the API say which)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class AuditQuery:
    actor: str = ""
    object_type: str = ""
    object_id: str = ""
    action: str = ""
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = 50


@dataclass
class AuditResult:
    entries: list[AuditEntry]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def search(*, session: Session, query: AuditQuery) -> AuditResult:
    """The entries matching ``query``, newest first, one page of them.

    Raises :class:`AuditQueryError` naming the field: an unknown object type or action, a
    period that ends before it starts, a page below 1 or a page size outside 1–200.
    Times without a zone are UTC."""
    since, until = aware(query.since), aware(query.until)
    if query.object_type and query.object_type not in AUDIT_OBJECT_TYPES:
        raise AuditQueryError("object_type", f"one of {', '.join(AUDIT_OBJECT_TYPES)}")
    if query.action and query.action not in AUDIT_ACTIONS:
        raise AuditQueryError("action", f"one of {', '.join(AUDIT_ACTIONS)}")
    if since and until and until <= since:
        raise AuditQueryError("until", "the period must end after it starts (since)")
    if query.page < 1:
        raise AuditQueryError("page", "pages count from 1")
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        raise AuditQueryError("page_size", f"between 1 and {MAX_PAGE_SIZE}")
    found = crud.list_entries(
        session=session,
        actor=query.actor.strip() or None,
        object_type=query.object_type or None,
        object_id=query.object_id.strip() or None,
        action=query.action or None,
        since=since,
        until=until,
        offset=(query.page - 1) * query.page_size,
        limit=query.page_size,
    )
    return AuditResult(found.entries, found.total, query.page, query.page_size)


def actors(*, session: Session) -> list[str]:
    """Everyone in the log (the page's actor filter)."""
    return crud.actors(session=session)

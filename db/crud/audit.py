"""The audit log's persistence: add an entry to the caller's transaction, and read a page.

:func:`add_entry` only ``session.add``s: the row commits (or rolls back) with the change it
records, so the log never says something happened that did not, nor misses what did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from db.models import utcnow
from db.models.audit import AuditEntry
from db.models.contact_policy import PolicyChange

_MAX_JSON_TEXT = 20_000


def _bounded(value: Any) -> Any:
    """Values as they are, except very long strings (a document belongs in its version)."""
    if isinstance(value, str) and len(value) > _MAX_JSON_TEXT:
        return value[:_MAX_JSON_TEXT] + "…"
    return value


def add_entry(
    session: Session,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any = None,
    after: Any = None,
    summary: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    """Add one entry to ``session``'s transaction (no flush, no commit)."""
    entry = AuditEntry(
        at=at or utcnow(),
        actor=(actor or "system")[:64],
        action=action[:32],
        object_type=object_type[:32],
        object_id=str(object_id)[:120],
        summary=summary[:500],
        before=_bounded(before),
        after=_bounded(after),
    )
    session.add(entry)
    return entry


def policy_subject(subject: str) -> tuple[str, str]:
    """A policy change's subject as ``(object type, object id)``: priority groups are their
    own object type, everything else (quiet hours, caps, zone, capacities, the approval
    rule) is the chain's policy."""
    kind, _, rest = subject.partition(":")
    if kind in ("group", "journey_group"):
        return "priority_group", subject
    return "policy", subject if rest else kind


def add_policy_changes(session: Session, changes: Iterable[PolicyChange]) -> None:
    """Mirror policy page changes (``policy_change`` rows, which the page's own history
    keeps showing) into the audit log, in the same transaction."""
    for change in changes:
        object_type, object_id = policy_subject(change.subject)
        action = "create" if not change.old else "delete" if not change.new else "update"
        add_entry(
            session,
            actor=change.by,
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=change.old or None,
            after=change.new or None,
            summary=f"{change.subject}: {change.old or '—'} → {change.new or '—'}",
            at=change.at,
        )


@dataclass
class AuditPage:
    entries: list[AuditEntry]
    total: int


def list_entries(
    *,
    session: Session,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 50,
) -> AuditPage:
    """Entries newest first matching every filter given (``until`` exclusive)."""
    conditions = []
    if actor:
        conditions.append(col(AuditEntry.actor) == actor)
    if object_type:
        conditions.append(col(AuditEntry.object_type) == object_type)
    if object_id:
        conditions.append(col(AuditEntry.object_id) == object_id)
    if action:
        conditions.append(col(AuditEntry.action) == action)
    if since is not None:
        conditions.append(col(AuditEntry.at) >= since)
    if until is not None:
        conditions.append(col(AuditEntry.at) < until)
    total = session.exec(select(func.count()).select_from(AuditEntry).where(*conditions)).one()
    rows = session.exec(
        select(AuditEntry)
        .where(*conditions)
        .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return AuditPage(list(rows), int(total))


def actors(*, session: Session) -> list[str]:
    """Everyone who appears in the log (the page's actor filter)."""
    return list(session.exec(select(AuditEntry.actor).distinct().order_by(AuditEntry.actor)))

"""The push state of task notices: which are due, who holds one, what became of it.

A notice (``task_notice``) is written ``pending`` in the transaction that decides it (the
task's creation, a reminder, an escalation, a chase). Pushing it happens after that commit
(``activities.guide_notices``): a sender first *claims* it — one conditional UPDATE, so of
two senders (the activity that wrote it, the worker's sweep) one wins — for a lease, then
pushes and stores the result. A sender that dies mid-push leaves a ``sending`` row whose
lease runs out, and the sweep claims it again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, update
from sqlmodel import Session, col, select

from db.models import TaskNotice


def _due(now: datetime) -> ColumnElement[bool]:
    return and_(
        col(TaskNotice.push_status).in_(("pending", "sending")),
        or_(col(TaskNotice.push_next_at).is_(None), col(TaskNotice.push_next_at) <= now),
    )


def due_notice_ids(
    *, session: Session, now: datetime, task_id: str | None = None, limit: int = 100
) -> list[int]:
    """Notices to push now (pending, or sending with a lapsed lease), oldest first."""
    stmt = select(TaskNotice.id).where(_due(now))
    if task_id is not None:
        stmt = stmt.where(TaskNotice.task_id == task_id)
    stmt = stmt.order_by(col(TaskNotice.id)).limit(limit)
    return [i for i in session.exec(stmt) if i is not None]


def claim_notice(*, session: Session, notice_id: int, now: datetime, lease: timedelta) -> bool:
    """Take ``notice_id`` for pushing until ``now + lease``; commit. False when another
    sender holds it or it is no longer due."""
    result = session.execute(
        update(TaskNotice)
        .where(col(TaskNotice.id) == notice_id, _due(now))
        .values(
            push_status="sending",
            push_next_at=now + lease,
            push_attempts=col(TaskNotice.push_attempts) + 1,
        )
    )
    session.commit()
    return bool(getattr(result, "rowcount", 0))


def finish_push(
    *,
    session: Session,
    notice_id: int,
    status: str,
    at: datetime,
    detail: str = "",
    message_id: str | None = None,
    retry_at: datetime | None = None,
) -> None:
    """Store the push's outcome: ``sent`` / ``recorded`` / ``failed``, or ``pending`` again
    from ``retry_at``; commit."""
    values: dict[str, object] = {"push_status": status, "push_detail": detail[:500]}
    if status == "pending":
        values["push_next_at"] = retry_at or at
    else:
        values["push_next_at"] = None
        values["pushed_at"] = at if status == "sent" else None
    if message_id is not None:
        values["push_message_id"] = message_id
    session.execute(
        update(TaskNotice)
        .where(col(TaskNotice.id) == notice_id, col(TaskNotice.push_status) == "sending")
        .values(**values)
    )
    session.commit()


def record_all_pending(*, session: Session, detail: str, limit: int = 1000) -> int:
    """Mark up to ``limit`` pending notices ``recorded`` (no push channel); commit; → how
    many."""
    ids = list(
        session.exec(
            select(TaskNotice.id)
            .where(TaskNotice.push_status == "pending")
            .order_by(col(TaskNotice.id))
            .limit(limit)
        )
    )
    if ids:
        session.execute(
            update(TaskNotice)
            .where(col(TaskNotice.id).in_(ids), col(TaskNotice.push_status) == "pending")
            .values(push_status="recorded", push_detail=detail[:500])
        )
    session.commit()
    return len(ids)

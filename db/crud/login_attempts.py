"""Sign-in attempts per throttle key (the throttling rules live in services.login_throttle)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, delete, select

from db.models.login_attempts import LoginAttempt


def record_login_attempts(*, session: Session, keys: Sequence[str], at: datetime) -> list[int]:
    """Count one attempt against each of ``keys``; commit; the new rows' ids."""
    rows = [LoginAttempt(key=key, at=at) for key in keys]
    session.add_all(rows)
    session.commit()
    return [row.id for row in rows if row.id is not None]


def nth_latest_login_attempt(
    *, session: Session, key: str, since: datetime, n: int
) -> datetime | None:
    """When the ``n``-th newest attempt against ``key`` at or after ``since`` was made
    (``None``: fewer than ``n``)."""
    stmt = (
        select(LoginAttempt.at)
        .where(LoginAttempt.key == key, col(LoginAttempt.at) >= since)
        .order_by(col(LoginAttempt.at).desc())
        .offset(max(n - 1, 0))
        .limit(1)
    )
    return session.exec(stmt).first()


def delete_login_attempts(
    *, session: Session, ids: Sequence[int] = (), keys: Sequence[str] = ()
) -> int:
    """Forget the attempts ``ids`` and every attempt against ``keys``; commit; how many."""
    deleted = 0
    if ids:
        result = session.exec(delete(LoginAttempt).where(col(LoginAttempt.id).in_(list(ids))))
        deleted += int(result.rowcount or 0)
    if keys:
        result = session.exec(delete(LoginAttempt).where(col(LoginAttempt.key).in_(list(keys))))
        deleted += int(result.rowcount or 0)
    session.commit()
    return deleted


def prune_login_attempts(*, session: Session, before: datetime) -> int:
    """Drop attempts made before ``before`` (they no longer count); commit; how many."""
    result = session.exec(delete(LoginAttempt).where(col(LoginAttempt.at) < before))
    session.commit()
    return int(result.rowcount or 0)

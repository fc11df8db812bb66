"""User accounts and login sessions (hashing and cookies live in services.accounts)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, delete, select

from db.crud._util import aware, find_by, read_back
from db.errors import InvalidStatusError, NotFoundError
from db.models import ACCOUNT_ROLES, UserAccount, UserSession, utcnow


def get_account(*, session: Session, user_id: int) -> UserAccount | None:
    """The account ``user_id``, or ``None``."""
    return session.get(UserAccount, user_id)


def get_account_by_username(*, session: Session, username: str) -> UserAccount | None:
    """The account named ``username`` (exact match), or ``None``."""
    return find_by(session, UserAccount, UserAccount.username, username)


def list_accounts(*, session: Session, role: str | None = None) -> list[UserAccount]:
    """Accounts by username, optionally of one role."""
    stmt = select(UserAccount).order_by(col(UserAccount.username))
    if role is not None:
        stmt = stmt.where(UserAccount.role == role)
    return list(session.exec(stmt))


def create_account(
    *,
    session: Session,
    username: str,
    password_hash: str,
    role: str,
    display_name: str = "",
    guide_id: str | None = None,
    store_id: str | None = None,
) -> UserAccount:
    """Insert an account. ``role`` must be one of :data:`ACCOUNT_ROLES`."""
    if role not in ACCOUNT_ROLES:
        raise InvalidStatusError("account role", role, ACCOUNT_ROLES)
    account = UserAccount(
        username=username,
        password_hash=password_hash,
        role=role,
        display_name=display_name or username,
        guide_id=guide_id,
        store_id=store_id,
    )
    session.add(account)
    session.commit()
    read_back(session, account)
    return account


def set_password_hash(*, session: Session, user_id: int, password_hash: str) -> UserAccount:
    """Replace the stored hash (after a rehash or a password change)."""
    account = session.get(UserAccount, user_id)
    if account is None:
        raise NotFoundError("account", user_id)
    account.password_hash = password_hash
    session.add(account)
    session.commit()
    return account


def set_account_active(*, session: Session, user_id: int, active: bool) -> UserAccount:
    """Switch an account on or off (an inactive account cannot sign in)."""
    account = session.get(UserAccount, user_id)
    if account is None:
        raise NotFoundError("account", user_id)
    account.active = active
    session.add(account)
    session.commit()
    read_back(session, account)
    return account


def delete_sessions_of(*, session: Session, user_id: int) -> int:
    """End every session of the account; returns how many."""
    result = session.exec(delete(UserSession).where(col(UserSession.user_id) == user_id))
    session.commit()
    return int(result.rowcount or 0)


def create_session(
    *, session: Session, session_id: str, user_id: int, expires_at: datetime
) -> UserSession:
    """Record a login; also stamps the account's ``last_login_at``."""
    row = UserSession(id=session_id, user_id=user_id, expires_at=expires_at)
    account = session.get(UserAccount, user_id)
    if account is not None:
        account.last_login_at = utcnow()
        session.add(account)
    session.add(row)
    session.commit()
    return row


def get_live_session(
    *, session: Session, session_id: str, now: datetime | None = None
) -> tuple[UserSession, UserAccount] | None:
    """The unexpired session ``session_id`` and its active account, or ``None`` (one query:
    every signed-in request asks)."""
    found = session.exec(
        select(UserSession, UserAccount)
        .join(UserAccount, col(UserAccount.id) == col(UserSession.user_id))
        .where(col(UserSession.id) == session_id)
    ).first()
    if found is None:
        return None
    row, account = found
    if (aware(row.expires_at) or utcnow()) <= (now or utcnow()) or not account.active:
        return None
    return row, account


def delete_session(*, session: Session, session_id: str) -> None:
    """Log out: forget the session (unknown ids are ignored)."""
    session.exec(delete(UserSession).where(col(UserSession.id) == session_id))
    session.commit()


def delete_expired_sessions(*, session: Session, now: datetime | None = None) -> int:
    """Drop expired sessions; returns how many."""
    result = session.exec(
        delete(UserSession).where(col(UserSession.expires_at) <= (now or utcnow()))
    )
    session.commit()
    return int(result.rowcount or 0)

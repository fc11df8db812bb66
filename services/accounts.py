"""Accounts, passwords, login sessions and what each role may see.

Passwords are hashed with argon2id (``argon2-cffi``). A login creates a row in
``user_session`` keyed by the SHA-256 of a random token; the browser gets the token signed
with ``Settings.secret_key`` (``itsdangerous``) in an HttpOnly cookie. Logout deletes the row,
so a stolen cookie dies with it.

Sign-ins are throttled per account and per client address (:mod:`services.login_throttle`).

Scopes (enforced by :class:`Principal` on every task/customer read and write):
``admin`` and ``hq`` see everything; a ``store_manager`` sees their store; a ``guide`` sees
the tasks assigned to them and the customers bound to them or named in one of their tasks.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import Engine, exists
from sqlmodel import Session, col, select

from db import crud
from db.errors import NotFoundError
from db.models import ACCOUNT_ROLES, Customer, GuideTask, UserAccount, utcnow
from db.session import end_transaction
from services import audit
from services.login_throttle import LoginLimits, attempt_succeeded, begin_attempt

log = logging.getLogger(__name__)

SESSION_COOKIE = "journeys_session"
SESSION_LIFETIME = timedelta(days=14)  # guides stay signed in on their phones
WIDE_ROLES = frozenset({"admin", "hq"})
#: Permissions an admin may grant on top of a role → the roles that may hold them. An
#: admin has every permission; ``approve_journeys`` (sign off a launch, issue 17) is
#: granted to HQ leads, so HQ marketers without it submit and cannot approve.
PERMISSIONS: dict[str, frozenset[str]] = {"approve_journeys": frozenset({"admin", "hq"})}
DEMO_PASSWORD = "journeys-demo"
#: The logins :func:`seed_demo_users` creates (all with :data:`DEMO_PASSWORD`).
DEMO_USERNAMES = ("admin", "hq", "manager", "guide", "guide2")

_hasher = PasswordHasher()
# Verified against when the username is unknown, so both failures take the same time.
_DUMMY_HASH = _hasher.hash("not-a-password")


class LoginFailedError(Exception):
    """Wrong username or password, or the account is switched off (never says which)."""

    def __init__(self) -> None:
        super().__init__("Wrong username or password.")


@dataclass(frozen=True)
class Principal:
    """The signed-in user, as the web app sees them."""

    user_id: int
    username: str
    display_name: str
    role: str
    guide_id: str | None = None
    store_id: str | None = None
    #: permissions granted on top of the role (see :data:`PERMISSIONS`)
    permissions: frozenset[str] = frozenset()

    def can(self, permission: str) -> bool:
        """Whether this user holds ``permission``: admins hold all of them, others when
        granted and their role may hold it."""
        if self.role == "admin":
            return True
        return permission in self.permissions and self.role in PERMISSIONS.get(
            permission, frozenset()
        )

    @property
    def sees_everything(self) -> bool:
        """Admin and HQ are not limited to a store."""
        return self.role in WIDE_ROLES

    def can_see_task(self, task: GuideTask) -> bool:
        """The task is in this user's scope."""
        if self.sees_everything:
            return True
        if self.role == "store_manager":
            return task.store_id is not None and task.store_id == self.store_id
        return self.role == "guide" and task.guide_id == self.guide_id

    def can_manage_store(self, store_id: str | None) -> bool:
        """Chase, reassign, change overflow policy in ``store_id``."""
        if self.sees_everything:
            return True
        return self.role == "store_manager" and store_id is not None and store_id == self.store_id

    def can_see_customer(self, session: Session, customer: Customer) -> bool:
        """HQ: anyone; manager: the store's customers; guide: bound to them or in their task."""
        if self.sees_everything:
            return True
        if self.role == "store_manager":
            return customer.store_id is not None and customer.store_id == self.store_id
        if self.role != "guide" or not self.guide_id:
            return False
        if customer.guide_id == self.guide_id:
            return True
        has_task = exists().where(
            col(GuideTask.customer_id) == customer.id, col(GuideTask.guide_id) == self.guide_id
        )
        return bool(session.exec(select(has_task)).one())


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (False for a malformed hash)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def principal_of(account: UserAccount) -> Principal:
    """The :class:`Principal` of a stored account."""
    if account.id is None:
        raise ValueError(f"account {account.username!r} is not stored yet")
    return Principal(
        user_id=account.id,
        username=account.username,
        display_name=account.display_name or account.username,
        role=account.role,
        guide_id=account.guide_id,
        store_id=account.store_id,
        permissions=granted(account),
    )


def granted(account: UserAccount) -> frozenset[str]:
    """The permissions stored on ``account``."""
    return frozenset(p for p in account.permissions.split() if p in PERMISSIONS)


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt="journeys-session")


def _session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(
    *,
    session: Session,
    username: str,
    password: str,
    secret: str,
    client: str | None = None,
    limits: LoginLimits | None = None,
    now: datetime | None = None,
) -> tuple[Principal, str]:
    """Check the password and open a session: ``(principal, cookie value)``.

    Throttled per account and per ``client`` address (:mod:`services.login_throttle`):
    raises :class:`~services.login_throttle.LoginThrottledError` while either is locked,
    even for the right password, and :class:`LoginFailedError` for a wrong one. A hash made
    with older parameters is upgraded.
    """
    now = now or utcnow()
    username = username.strip()
    attempt = begin_attempt(
        session=session, username=username, client=client, limits=limits or LoginLimits(), now=now
    )
    account = crud.get_account_by_username(session=session, username=username)
    user_id = account.id if account is not None and account.active else None
    # an unknown or switched-off account is checked against a dummy hash: same time taken
    password_hash = account.password_hash if account is not None and user_id else _DUMMY_HASH
    # argon2 takes tens of milliseconds: not inside a transaction that may hold SQLite's
    # write lock (the login request's session is a writer)
    end_transaction(session)
    if not verify_password(password_hash, password) or user_id is None:
        log.info("sign-in failed: account %r from %s", username, client or "?")
        raise LoginFailedError()
    attempt_succeeded(session=session, attempt=attempt)
    if _hasher.check_needs_rehash(password_hash):
        crud.set_password_hash(
            session=session, user_id=user_id, password_hash=hash_password(password)
        )
    token = secrets.token_urlsafe(32)
    crud.create_session(
        session=session,
        session_id=_session_id(token),
        user_id=user_id,
        expires_at=now + SESSION_LIFETIME,
    )
    account = crud.get_account(session=session, user_id=user_id)
    if account is None:  # deleted between the check and now
        raise LoginFailedError()
    return principal_of(account), _serializer(secret).dumps(token)


def principal_from_cookie(
    *, session: Session, cookie: str | None, secret: str, now: datetime | None = None
) -> Principal | None:
    """The signed-in user of a session cookie, or ``None`` (missing, forged, expired, ended)."""
    token = _token(cookie, secret)
    if token is None:
        return None
    found = crud.get_live_session(session=session, session_id=_session_id(token), now=now)
    return principal_of(found[1]) if found else None


def logout(*, session: Session, cookie: str | None, secret: str) -> None:
    """End the session of ``cookie`` (anything invalid is ignored)."""
    token = _token(cookie, secret)
    if token is not None:
        crud.delete_session(session=session, session_id=_session_id(token))


def _token(cookie: str | None, secret: str) -> str | None:
    if not cookie:
        return None
    try:
        token = _serializer(secret).loads(cookie, max_age=int(SESSION_LIFETIME.total_seconds()))
    except BadSignature:
        return None
    return token if isinstance(token, str) else None


def create_user(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    guide_id: str | None = None,
    store_id: str | None = None,
) -> UserAccount:
    """Create an account with a hashed password. A guide/manager account linked to a guide
    takes that guide's store when ``store_id`` is not given."""
    if guide_id and not store_id:
        guide = crud.get_guide(session=session, guide_id=guide_id)
        store_id = guide.store_id if guide is not None else None
    return crud.create_account(
        session=session,
        username=username,
        password_hash=hash_password(password),
        role=role,
        display_name=display_name,
        guide_id=guide_id,
        store_id=store_id,
    )


# ------------------------------------------------------------------ account administration

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD_LENGTH = 8
#: Roles that stand for a person in the organisation (a ``guide`` row, and its store).
ORG_ROLES = frozenset({"guide", "store_manager"})


class AccountInputError(ValueError):
    """Input an account cannot take; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AccountExistsError(Exception):
    def __init__(self, username: str) -> None:
        super().__init__(f"An account named '{username}' already exists.")
        self.username = username


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountInputError("password", f"use at least {MIN_PASSWORD_LENGTH} characters")


def add_account(
    *,
    session: Session,
    username: str,
    password: str,
    role: str,
    display_name: str = "",
    guide_id: str | None = None,
    by: str = "",
) -> UserAccount:
    """Create an account after checking every field (:class:`AccountInputError` names the
    first one wrong; :class:`AccountExistsError` for a taken username). A guide or store
    manager account is linked to the guide row they are (their store comes from it); an
    admin or HQ account is linked to no one."""
    username = username.strip()
    if not USERNAME_PATTERN.match(username):
        raise AccountInputError(
            "username", "2–64 characters: lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ACCOUNT_ROLES:
        raise AccountInputError("role", f"must be one of {', '.join(ACCOUNT_ROLES)}")
    _check_password(password)
    guide_id = (guide_id or "").strip() or None
    if role in ORG_ROLES:
        if guide_id is None:
            raise AccountInputError(
                "guide_id", "a guide or store manager account needs its guide id"
            )
        if crud.get_guide(session=session, guide_id=guide_id) is None:
            raise AccountInputError("guide_id", f"no guide '{guide_id}'")
    elif guide_id is not None:
        raise AccountInputError("guide_id", f"an {role} account is not linked to a guide")
    if crud.get_account_by_username(session=session, username=username) is not None:
        raise AccountExistsError(username)
    audit.record(
        session,
        actor=by or "cli",
        action="create",
        object_type="account",
        object_id=username,
        after={"role": role, "display_name": display_name.strip()[:64], "guide_id": guide_id},
        summary=f"{username} ({role})",
    )
    return create_user(
        session=session,
        username=username,
        password=password,
        role=role,
        display_name=display_name.strip()[:64],
        guide_id=guide_id,
    )


def change_password(*, session: Session, user_id: int, password: str, by: str = "") -> UserAccount:
    """Set a new password; every open session of the account ends (sign in again)."""
    _check_password(password)
    account = crud.get_account(session=session, user_id=user_id)
    if account is not None:  # never the password itself, not even hashed
        audit.record(
            session,
            actor=by or "cli",
            action="password",
            object_type="account",
            object_id=account.username,
            summary=f"new password for {account.username}",
        )
    account = crud.set_password_hash(
        session=session, user_id=user_id, password_hash=hash_password(password)
    )
    crud.delete_sessions_of(session=session, user_id=user_id)
    return account


def set_active(*, session: Session, actor: Principal, user_id: int, active: bool) -> UserAccount:
    """Switch an account on or off; switching off ends its sessions at once. An admin cannot
    switch themselves off (someone must be left to switch them back on)."""
    if not active and user_id == actor.user_id:
        raise AccountInputError("active", "you cannot deactivate your own account")
    current = crud.get_account(session=session, user_id=user_id)
    if current is not None and current.active != active:
        audit.record(
            session,
            actor=actor.username,
            action="activate" if active else "deactivate",
            object_type="account",
            object_id=current.username,
            before={"active": current.active},
            after={"active": active},
            summary=current.username,
        )
    account = crud.set_account_active(session=session, user_id=user_id, active=active)
    if not active:
        crud.delete_sessions_of(session=session, user_id=user_id)
    return account


def set_permissions(
    *, session: Session, actor: Principal, user_id: int, permissions: set[str]
) -> UserAccount:
    """Grant exactly ``permissions`` to the account (:class:`AccountInputError` on
    ``permissions`` for an unknown one or one its role cannot hold)."""
    account = crud.get_account(session=session, user_id=user_id)
    if account is None:
        raise NotFoundError("account", str(user_id))
    for permission in sorted(permissions):
        roles = PERMISSIONS.get(permission)
        if roles is None:
            raise AccountInputError("permissions", f"unknown permission {permission!r}")
        if account.role not in roles:
            raise AccountInputError(
                "permissions", f"a {account.role} account cannot hold {permission!r}"
            )
    before = sorted(granted(account))
    after = sorted(permissions)
    if before != after:
        audit.record(
            session,
            actor=actor.username,
            action="update",
            object_type="account",
            object_id=account.username,
            before={"permissions": before},
            after={"permissions": after},
            summary=f"permissions of {account.username}",
        )
    account.permissions = " ".join(after)
    session.add(account)
    session.commit()
    return account


def demo_accounts(*, session: Session) -> list[str]:
    """The demo logins (:data:`DEMO_USERNAMES`) that are active and still open with
    :data:`DEMO_PASSWORD`: an install outside the local demo must not start with them."""
    found = []
    for username in DEMO_USERNAMES:
        account = crud.get_account_by_username(session=session, username=username)
        if account is not None and account.active:
            if verify_password(account.password_hash, DEMO_PASSWORD):
                found.append(username)
    return found


def disable_demo_accounts(*, session: Session) -> list[str]:
    """Switch off the :func:`demo_accounts` (their sessions end); their usernames."""
    found = demo_accounts(session=session)
    for username in found:
        account = crud.get_account_by_username(session=session, username=username)
        if account is not None and account.id is not None:
            crud.set_account_active(session=session, user_id=account.id, active=False)
            crud.delete_sessions_of(session=session, user_id=account.id)
    return found


@dataclass(frozen=True)
class DemoLogin:
    """One demo account (for the README and the login page hint)."""

    username: str
    role: str
    display_name: str
    guide_id: str | None
    store_id: str | None


def seed_demo_users(
    *, session_or_engine: Session | Engine, password: str = DEMO_PASSWORD
) -> list[DemoLogin]:
    """One login per role on the demo chain (idempotent: existing usernames are kept).

    ``admin`` and ``hq``; ``manager``: the manager of the first store; ``guide`` and
    ``guide2``: two guides of that store (to see that one cannot open the other's tasks).
    Needs the demo org (``db.seed.seed_demo``) for the store accounts; without it only the
    admin and HQ logins are created.
    """
    if isinstance(session_or_engine, Session):
        return _seed_users(session_or_engine, password)
    with Session(session_or_engine, expire_on_commit=False) as session:
        return _seed_users(session, password)


def _seed_users(session: Session, password: str) -> list[DemoLogin]:
    wanted: list[tuple[str, str, str, str | None]] = [
        ("admin", "admin", "系统管理员", None),
        ("hq", "hq", "总部运营 · 林悦", None),
    ]
    stores = crud.list_stores(session=session)
    if stores:
        store = stores[0]
        manager = crud.get_store_manager(session=session, store_id=store.id)
        guides = [
            g for g in crud.list_guides(session=session, store_id=store.id) if g.role == "guide"
        ]
        if manager is not None:
            wanted.append(("manager", "store_manager", f"店长 · {manager.name}", manager.id))
        for username, guide in zip(("guide", "guide2"), guides, strict=False):
            wanted.append((username, "guide", f"导购 · {guide.name}", guide.id))
    logins = []
    for username, role, display, guide_id in wanted:
        account = crud.get_account_by_username(session=session, username=username)
        if account is None:
            account = create_user(
                session=session,
                username=username,
                password=password,
                role=role,
                display_name=display,
                guide_id=guide_id,
            )
        logins.append(
            DemoLogin(
                account.username,
                account.role,
                account.display_name,
                account.guide_id,
                account.store_id,
            )
        )
    return logins

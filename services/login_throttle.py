"""Login throttling per account and per client address.

After ``limit`` failed sign-ins within ``window`` an account (or a client address) is refused
until the oldest of those failures ages out of the window: a sliding window, so a guesser
gets at most ``limit`` tries per window whatever the pace. The right password is refused
too while the lock holds (otherwise the lock would only slow a guesser down between hits).

The attempts live in the database (:class:`db.models.LoginAttempt`), so every web process
and a restart see the same counts. An attempt is counted *before* the (slow) password check
and forgotten when it succeeds: a burst of parallel guesses is counted as it arrives, not
after each guess's hash. A refused attempt is not counted, so the table holds at most
``limit`` rows per key and window however hard someone hammers.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from db import crud
from settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoginLimits:
    """How many failed sign-ins an account and a client address get per ``window``."""

    account: int = 5
    client: int = 30
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginLimits:
        """The install's limits (``JOURNEYS_LOGIN_*``)."""
        return cls(
            account=settings.login_account_limit,
            client=settings.login_client_limit,
            window=timedelta(seconds=settings.login_window_seconds),
        )


class LoginThrottledError(Exception):
    """Too many failed sign-ins: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many failed sign-ins; try again in {retry_after} s.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class Attempt:
    """A counted sign-in attempt (see :func:`begin_attempt`)."""

    account_key: str
    ids: tuple[int, ...]


def _key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def account_key(username: str) -> str:
    """The throttle key of an account (usernames are lower-case; typed case does not matter)."""
    return _key("account", username.strip().lower())


def client_key(client: str) -> str:
    """The throttle key of a client address."""
    return _key("client", client)


def begin_attempt(
    *,
    session: Session,
    username: str,
    client: str | None,
    limits: LoginLimits,
    now: datetime,
) -> Attempt:
    """Count a sign-in attempt against the account and the client, or refuse it.

    Raises :class:`LoginThrottledError` (nothing counted) while either is locked.
    """
    keys = [(account_key(username), limits.account)]
    if client:
        keys.append((client_key(client), limits.client))
    since = now - limits.window
    wait = 0.0
    for key, limit in keys:
        nth = crud.nth_latest_login_attempt(session=session, key=key, since=since, n=limit)
        if nth is not None:
            wait = max(wait, (nth + limits.window - now).total_seconds())
    if wait > 0:
        retry_after = max(1, math.ceil(wait))
        log.warning(
            "sign-in refused (throttled): account %r from %s, retry in %d s",
            username,
            client or "?",
            retry_after,
        )
        raise LoginThrottledError(retry_after)
    crud.prune_login_attempts(session=session, before=since)
    ids = crud.record_login_attempts(session=session, keys=[key for key, _ in keys], at=now)
    return Attempt(account_key=keys[0][0], ids=tuple(ids))


def attempt_succeeded(*, session: Session, attempt: Attempt) -> None:
    """The password was right: forget this attempt and the account's earlier failures (the
    client's earlier failures stay: one good account must not reset a guesser's address)."""
    crud.delete_login_attempts(session=session, ids=attempt.ids, keys=[attempt.account_key])

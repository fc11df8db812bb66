"""The JSON API conventions WeCom (qyapi.weixin.qq.com) and WeChat (api.weixin.qq.com) share.

Every call carries ``?access_token=``; every answer is HTTP 200 with ``errcode`` (0: ok) and
``errmsg``. :class:`WxApi` does what both need around one call:

* the access token is fetched once and cached until shortly before ``expires_in``
  (:class:`AccessTokenCache`); an answer saying the token is invalid or expired (``40014``,
  ``42001``, ``41001``; WeChat also ``40001``) drops it and the call is made **once** more
  with a fresh one;
* throttling (``45009`` frequency / quota, ``45033`` concurrency, …) is raised at once as
  :class:`~activities.providers.ThrottledError` with a pause: the shared rate limiter
  (``activities.channels.ratelimit``) holds every worker back that long and Temporal (or
  the notice sender) retries after it;
* "system busy" (``-1``), 5xx answers and network errors are retried a few times with
  exponential backoff, then raised as :class:`~activities.providers.TransientDeliveryError`
  — except that a call which is not idempotent (``post(..., idempotent=False)``: creating a
  group-message template) is not made again after a network error or a 5xx, which may hide
  a call that took effect: it is raised at once, for the caller's retry to look first;
* any other errcode is the caller's to judge (:class:`WxApiError`), usually a permanent
  refusal.

Secrets travel in query strings (WeCom's ``gettoken?corpsecret=``, every ``access_token``):
:func:`redact` masks them, and a filter on the ``httpx`` logger masks them in its request
log lines, so neither ends up in a log.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from activities.providers import ThrottledError, TransientDeliveryError

log = logging.getLogger(__name__)

#: The token is invalid, expired or missing: fetch a new one and call once more.
TOKEN_ERRCODES = frozenset({40014, 42001, 41001})
#: Frequency, quota and concurrency limits: back off and try again.
THROTTLE_ERRCODES = frozenset({45009, 45011, 45033, 45035, 45047})
#: "System busy, try again later".
BUSY_ERRCODES = frozenset({-1})

_SECRET_QUERY = re.compile(r"((?:access_token|corpsecret|secret)=)[^&\s\"']+", re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every ``access_token=``, ``corpsecret=`` and ``secret=`` value masked."""
    return _SECRET_QUERY.sub(r"\1***", text)


class _RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(redact(str(a)) if isinstance(a, httpx.URL) else a for a in args)
        record.msg = redact(str(record.msg))
        return True


def _install_log_filter() -> None:
    for name in ("httpx", "httpcore"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactSecrets) for f in logger.filters):
            logger.addFilter(_RedactSecrets())


_install_log_filter()


class WxApiError(Exception):
    """A non-zero ``errcode`` the retry rules do not cover."""

    def __init__(self, api: str, path: str, errcode: int, errmsg: str) -> None:
        super().__init__(f"{api} {path}: errcode {errcode} {errmsg}")
        self.api = api
        self.path = path
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class RetryPolicy:
    """In-call retries of busy answers, 5xx and network errors; the pause asked for after
    a throttling answer."""

    attempts: int = 3
    backoff_seconds: float = 0.5
    max_backoff_seconds: float = 8.0
    throttled_seconds: float = 5.0

    def delay(self, attempt: int) -> float:
        return min(self.backoff_seconds * (2**attempt), self.max_backoff_seconds)


class AccessTokenCache:
    """One access token, fetched by ``fetch`` (→ token, seconds valid), shared by threads.

    Refreshed ``margin`` seconds before it expires; :meth:`invalidate` drops it when the
    platform says it is no longer good (only if it is still the one the caller used, so
    two threads that both saw the expiry fetch once).
    """

    def __init__(
        self,
        fetch: Callable[[bool], tuple[str, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 300.0,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._margin = margin
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self._forced = False

    def get(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._expires:
                token, expires_in = self._fetch(self._forced)
                self._forced = False
                self._token = token
                self._expires = self._clock() + max(expires_in - self._margin, expires_in / 2)
            return self._token

    def invalidate(self, token: str) -> None:
        with self._lock:
            if self._token == token:
                self._token = None
                self._forced = True


class WxApi:
    """Calls one platform's JSON API with a cached token; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        client: httpx.Client,
        base_url: str,
        tokens: AccessTokenCache,
        token_errcodes: frozenset[int] = TOKEN_ERRCODES,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self._client = client
        self._base = base_url.rstrip("/")
        self.tokens = tokens
        self._token_errcodes = token_errcodes
        self._retry = retry or RetryPolicy()
        self._sleep = sleep

    def post(
        self, path: str, payload: dict[str, Any], *, idempotent: bool = True
    ) -> dict[str, Any]:
        """POST ``payload`` to ``path``; the answer when ``errcode`` is 0. ``idempotent``
        False: a network error or 5xx (the call may have taken effect) is raised at once."""
        refreshed = False
        attempt = 0
        while True:
            token = self.tokens.get()
            try:
                data = request_json(
                    self._client,
                    "POST",
                    f"{self._base}{path}",
                    params={"access_token": token},
                    json=payload,
                )
            except TransientDeliveryError as exc:
                if not idempotent:
                    raise TransientDeliveryError(
                        f"{self.name} {path}: {exc}; not repeated (it may have taken effect)"
                    ) from exc
                attempt = self._pause(attempt, str(exc))
                continue
            errcode = errcode_of(data)
            if errcode == 0:
                return data
            if errcode in self._token_errcodes and not refreshed:
                # the cached token expired early or was replaced elsewhere: once more
                self.tokens.invalidate(token)
                refreshed = True
                continue
            detail = f"{self.name} {path}: errcode {errcode} {data.get('errmsg', '')}".strip()
            if errcode in THROTTLE_ERRCODES:
                raise ThrottledError(
                    f"{self.name} throttled: {redact(detail)}", self._retry.throttled_seconds
                )
            if errcode in BUSY_ERRCODES:
                attempt = self._pause(attempt, detail)
                continue
            raise WxApiError(self.name, path, errcode, str(data.get("errmsg", "")))

    def _pause(self, attempt: int, detail: str) -> int:
        """Sleep before the next attempt, or raise once the attempts are used up."""
        if attempt + 1 >= self._retry.attempts:
            raise TransientDeliveryError(f"{self.name} unavailable, retry later: {redact(detail)}")
        delay = self._retry.delay(attempt)
        log.info("%s: %s; retrying in %.1fs", self.name, redact(detail), delay)
        self._sleep(delay)
        return attempt + 1


def request_json(client: httpx.Client, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
    """One HTTP call whose answer must be a JSON object; :class:`TransientDeliveryError` for
    network errors, non-2xx answers and bodies that are not JSON objects."""
    try:
        response = client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        raise TransientDeliveryError(f"unreachable: {type(exc).__name__}") from exc
    if not response.is_success:
        raise TransientDeliveryError(f"HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise TransientDeliveryError("the answer is not JSON") from exc
    if not isinstance(data, dict):
        raise TransientDeliveryError("the answer is not a JSON object")
    return data


def errcode_of(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode", 0) or 0)
    except (TypeError, ValueError):
        return -1

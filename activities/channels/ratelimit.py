"""Every real provider sends through a rate limiter shared by all workers.

:class:`SendRateLimiter` takes a slot of the provider's bucket in the database
(:mod:`db.crud.rate_limits`: slots ``1 / rate`` apart for the whole install) and sleeps
until it; :func:`rate_limited` wraps a provider with one. When the provider still answers
"too fast" (:class:`~activities.providers.ThrottledError`), the bucket is held back for
every worker before the error goes on to Temporal's retry. A send never waits longer than
``horizon`` seconds for its slot (activities have 30 s): past that it is a transient
failure, retried later, and takes no slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.providers import (
    Delivery,
    FindsSent,
    MessageProvider,
    NotSentError,
    OutboundMessage,
    ThrottledError,
    report_window,
)
from db.crud import rate_limits

#: Seconds ahead a send may reserve its slot.
DEFAULT_HORIZON_S = 5.0
#: Slots are handed out this much under the configured rate. A send leaves some
#: milliseconds after its slot (the HTTP call, a busy machine), not always by the same
#: amount; the provider counts arrivals, so with slots exactly 1/rate apart one late send
#: among punctual ones puts rate + 1 in the provider's second. 5% under the rate absorbs
#: about 50 ms of such jitter (bench.delivery counts what the provider sees).
HEADROOM = 0.05
#: A send that wakes this much after its slot gives the slot up and takes a new one.
MAX_LATE_S = 0.02
MAX_RETAKES = 5


class RateLimitedError(NotSentError):
    """The provider's bucket is booked further ahead than a send may wait: retry later."""


class _Ticket:
    """One send waiting for its slot."""

    __slots__ = ("done", "error", "slot")

    def __init__(self) -> None:
        self.done = False
        self.slot = 0.0
        self.error: Exception | None = None

    def serve(self, slot: float) -> None:
        self.slot, self.done = slot, True

    def fail(self, error: Exception) -> None:
        self.error, self.done = error, True


class SendRateLimiter:
    """One provider's shared bucket: ``acquire`` returns once this send may go."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        provider: str,
        rate_per_second: float,
        *,
        horizon: float = DEFAULT_HORIZON_S,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0:
            raise ValueError(f"rate of {provider} must be positive, not {rate_per_second}")
        self.provider = provider
        self.rate = rate_per_second
        self._interval = 1.0 / (rate_per_second * (1 - HEADROOM))
        self._sessions = sessions
        self._horizon = horizon
        self._clock = clock
        self._sleep = sleep
        self._ready = False
        self._mutex = threading.Lock()  # guards the queue
        self._turn = threading.Lock()  # one reservation at a time in this process
        self._queue: list[_Ticket] = []

    def acquire(self) -> float:
        """Take the next slot and wait for it; → the slot (epoch seconds).

        The sends of this process that ask at the same time take their slots in one
        transaction (flat combining: whoever gets the turn reserves for everyone queued),
        so a busy worker pays one database write per batch, not per message."""
        for _ in range(MAX_RETAKES):
            ticket = _Ticket()
            with self._mutex:
                self._queue.append(ticket)
            with self._turn:
                if not ticket.done:
                    with self._mutex:
                        batch, self._queue = self._queue, []
                    self._reserve(batch)
            if ticket.error is not None:
                raise ticket.error
            wait = ticket.slot - self._clock()
            if wait > 0:
                self._sleep(wait)
            if self._clock() - ticket.slot <= MAX_LATE_S:
                return ticket.slot
            # woke too late (a busy machine): going now would crowd the sends after this
            # slot; the slot stays unused and this send takes a new one
        raise RateLimitedError(f"{self.provider}: no send slot kept in time; retrying later")

    def _reserve(self, batch: list[_Ticket]) -> None:
        try:
            with self._sessions() as session:
                if not self._ready:
                    rate_limits.ensure_bucket(session=session, provider=self.provider)
                    self._ready = True
                first = rate_limits.take_send_slot(
                    session=session,
                    provider=self.provider,
                    interval=self._interval,
                    now=self._clock(),
                    horizon=self._horizon,
                    count=len(batch),
                )
        except Exception as exc:  # every waiter hears it (Temporal retries them)
            for ticket in batch:
                ticket.fail(exc)
            return
        if first is None:
            refused = RateLimitedError(
                f"{self.provider}: its send rate ({self.rate:g}/s) is booked more than "
                f"{self._horizon:g} s ahead; retrying later"
            )
            for ticket in batch:
                ticket.fail(refused)
            return
        for k, ticket in enumerate(batch):
            ticket.serve(first + k * self._interval)

    def hold_back(self, seconds: float) -> None:
        """No send of this provider, from any worker, for ``seconds``."""
        with self._sessions() as session:
            rate_limits.hold_back(
                session=session, provider=self.provider, until=self._clock() + seconds
            )


class RateLimitedProvider:
    """``provider`` behind ``limiter`` (the same ``name``; ``find_sent`` and the report
    window pass through, unthrottled: a look-up sends nothing)."""

    def __init__(
        self, provider: MessageProvider, limiter: SendRateLimiter, backoff_seconds: float = 1.0
    ) -> None:
        self.inner = provider
        self.limiter = limiter
        self.name = provider.name
        # how far the inner provider's look-up lags (activities.providers.report_window)
        self.report_window_seconds = report_window(provider)
        self._backoff = backoff_seconds

    def deliver(self, message: OutboundMessage) -> Delivery:
        self.limiter.acquire()
        try:
            return self.inner.deliver(message)
        except ThrottledError as exc:
            self.limiter.hold_back(max(exc.retry_after, self._backoff))
            raise

    def find_sent(self, message: OutboundMessage) -> Delivery | None:
        if isinstance(self.inner, FindsSent):
            return self.inner.find_sent(message)
        return None


def rate_limited(
    provider: MessageProvider,
    sessions: sessionmaker[Session],
    rate_per_second: float,
    *,
    backoff_seconds: float = 1.0,
) -> RateLimitedProvider:
    """``provider`` sending at most ``rate_per_second`` across every worker (16b wraps its
    WeCom / WeChat providers with this too)."""
    limiter = SendRateLimiter(sessions, provider.name, rate_per_second)
    return RateLimitedProvider(provider, limiter, backoff_seconds)

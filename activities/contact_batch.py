"""The contact checks of one worker process, decided in shared write transactions.

The contact checks of coupons and guide tasks (decided by their own activities; a message's
is decided in its outbox row's transaction, ``activities.messaging``), and those of the
``check_contact_policy`` local activity that runs of the earlier release ask: each records
its decision in the contact ledger in a write transaction. On SQLite all writers of all
processes queue for one write lock, so with many journeys at once a check spent most of
its time waiting for the lock (``bench.contact_policy``). Checks that arrive while one batch
is being decided wait for the next one and are decided together in one transaction
(``db.crud.contact_policy.check_contacts``: same answers, same atomicity per customer): the
lock is waited for once per batch instead of once per check. An answer the lock cannot
change (a stored decision, a deferral, an allow that no cap counts) is handed out before the
lock is won; its record is still written by the batch. One batch runs at a time per
process, in a worker thread, so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial

from sqlmodel import Session

from db.crud import contact_policy as policy_crud
from engine.contact_policy import PolicyDecision

#: At most this many checks share one transaction (the lock is held while they are decided).
MAX_BATCH = 64

_Waiter = tuple[
    policy_crud.ContactCheck, asyncio.AbstractEventLoop, "asyncio.Future[PolicyDecision]"
]


class ContactChecks:
    """Decides checks in batches; ``await decide(check)`` → the check's decision."""

    def __init__(
        self,
        *,
        reads: Callable[[], AbstractContextManager[Session]],
        writes: Callable[[], AbstractContextManager[Session]],
        default_zone: str,
    ) -> None:
        self._reads = reads
        self._writes = writes
        self._default_zone = default_zone
        self._lock = threading.Lock()
        self._pending: list[_Waiter] = []
        self._draining = False

    async def decide(self, check: policy_crud.ContactCheck) -> PolicyDecision:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[PolicyDecision] = loop.create_future()
        with self._lock:
            self._pending.append((check, loop, future))
            start = not self._draining
            self._draining = True
        if start:
            threading.Thread(target=self._drain, name="contact-checks", daemon=True).start()
        return await future

    def _drain(self) -> None:
        try:
            self._drain_batches()
        finally:
            # whatever ended the loop (even an error delivering answers), the next check
            # must start a drainer again: checks left pending would wait for ever
            with self._lock:
                restart = bool(self._pending)
                self._draining = restart
            if restart:
                threading.Thread(target=self._drain, name="contact-checks", daemon=True).start()

    def _drain_batches(self) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
                if not batch:
                    self._draining = False
                    return
            try:
                with self._reads() as reads, self._writes() as session:
                    answers = policy_crud.check_contacts(
                        session=session,
                        reads=reads,
                        checks=[c for c, _, _ in batch],
                        default_zone=self._default_zone,
                        # answers no write can change go out before the write lock is won
                        known=partial(_deliver_known, batch),
                    )
            except BaseException as exc:  # noqa: BLE001 - each waiter gets the failure
                for _, loop, future in batch:
                    _deliver(loop, _fail, future, exc)
                continue
            for (_, loop, future), answer in zip(batch, answers, strict=True):
                _deliver(loop, _answer, future, answer)


def _deliver(loop: asyncio.AbstractEventLoop, fn: Callable[..., None], *args: object) -> None:
    """Hand a result to its waiter's loop; a loop that has closed meanwhile (a worker shutting
    down) must not stop the batches of the others."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        pass


def _deliver_known(batch: list[_Waiter], i: int, answer: PolicyDecision) -> None:
    _, loop, future = batch[i]
    _deliver(loop, _answer, future, answer)


def _answer(future: asyncio.Future[PolicyDecision], answer: PolicyDecision) -> None:
    if not future.done():
        future.set_result(answer)


def _fail(future: asyncio.Future[PolicyDecision], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)

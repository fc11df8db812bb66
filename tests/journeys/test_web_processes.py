"""``journeys web`` with ``JOURNEYS_WEB_PROCESSES=2``: two app processes answer on the one
port, one that dies is replaced, and SIGTERM stops them all within 10 s with the port free."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from db import upgrade
from tests.journeys.test_up import (
    START_WITHIN_S,
    STOP_WITHIN_S,
    _alive,
    _descendants,
    _free_port,
    _output,
    _port_free,
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the children through /proc"
)


def _app_processes(parent: int) -> set[int]:
    """The live app processes uvicorn's supervisor spawned under ``parent``."""
    return {
        pid
        for pid in _descendants(parent)
        if _alive(pid) and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def _wait(what: str, check: Callable[[], bool], web: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_WITHIN_S
    while not check():
        assert web.poll() is None, f"journeys web exited early:\n{_output(log)}"
        assert time.monotonic() < deadline, f"{what}:\n{_output(log)}"
        time.sleep(0.2)


def _answers(port: int) -> bool:
    with contextlib.suppress(httpx.TransportError):
        return httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200
    return False


def test_two_web_processes_share_the_port_are_replaced_and_stop(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'journeys.db'}"
    upgrade(url)
    port = _free_port()
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
        _wait("two app processes never answered", lambda: _answers(port), web, log)
        _wait("not two app processes", lambda: len(_app_processes(web.pid)) == 2, web, log)
        first = _app_processes(web.pid)
        assert all(_answers(port) for _ in range(6))

        # one dies: the supervisor starts another, and the port answers all along
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        _wait(
            "the dead process was not replaced",
            lambda: len(_app_processes(web.pid) - first) == 1 and len(_app_processes(web.pid)) == 2,
            web,
            log,
        )
        _wait("the new process never answered", lambda: _answers(port), web, log)

        children = _descendants(web.pid)
        started = time.monotonic()
        web.send_signal(signal.SIGTERM)
        web.wait(timeout=STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        assert took < STOP_WITHIN_S, f"stopping took {took:.1f}s:\n{_output(log)}"
        assert web.returncode == 0, _output(log)
        assert [pid for pid in children if _alive(pid)] == []
        assert _port_free(port)
    finally:  # a failed test must not leave processes behind
        leftovers = _descendants(web.pid) if web.poll() is None else set()
        if web.poll() is None:
            web.kill()
            web.wait()
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

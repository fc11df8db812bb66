"""``journeys up`` runs the Temporal dev server, the journey worker, the enrollment worker and
the web app as processes of their own, and SIGTERM or SIGINT stops them all within 10 s:
``up`` exits, none of its children is left alive, and every port it opened is free again."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from tests.journeys import _procs as procs

pytestmark = procs.NEEDS_PROC


@pytest.mark.parametrize(
    ("sig", "split"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-activity-worker"],
)
def test_up_stops_every_child_and_frees_its_ports(
    tmp_path: Path, sig: signal.Signals, split: bool
) -> None:
    web, temporal, ui = procs.free_port(), procs.free_port(), procs.free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("JOURNEYS_") and k != "DATABASE_URL"
    }
    env.update(
        JOURNEYS_DEMO="true",
        JOURNEYS_DATA_DIR=str(tmp_path / "data"),
        JOURNEYS_WEB_PORT=str(web),
        JOURNEYS_TEMPORAL_ADDRESS=f"127.0.0.1:{temporal}",
        JOURNEYS_TEMPORAL_UI_URL=f"http://127.0.0.1:{ui}",
        JOURNEYS_TASK_QUEUE=f"up-{uuid.uuid4().hex[:8]}",
        JOURNEYS_ACTIVITY_WORKER=str(split).lower(),
    )
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen(
            [sys.executable, "-m", "journeys.cli", "up", "--no-seed"],
            env=env,
            cwd=tmp_path,  # no .env of the checkout
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    children: set[int] = set()
    try:
        deadline = time.monotonic() + procs.START_WITHIN_S
        while True:
            assert up.poll() is None, f"journeys up exited early:\n{procs.output(log)}"
            assert time.monotonic() < deadline, f"the web app never answered:\n{procs.output(log)}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{web}/login", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        children = procs.descendants(up.pid)
        commands = " | ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for pid in children
            if procs.alive(pid)
        )
        workers = (
            ("cli worker --role workflows", "cli worker --role activities")
            if split
            else ("cli worker --role all",)
        )
        for part in ("start-dev", *workers, "cli enrollment-worker", "cli web"):
            assert part in commands, commands

        started = time.monotonic()
        up.send_signal(sig)
        up.wait(timeout=procs.STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        assert took < procs.STOP_WITHIN_S, f"stopping took {took:.1f}s:\n{procs.output(log)}"
        assert up.returncode == 0, procs.output(log)
        assert "Stopped." in procs.output(log)
        assert [pid for pid in children if procs.alive(pid)] == []
        assert [port for port in (web, temporal, ui) if not procs.port_free(port)] == []
    finally:  # a failed test must not leave the stack running
        if up.poll() is None:
            children |= procs.descendants(up.pid)
            up.kill()
            up.wait()
        for pid in children:
            if procs.alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

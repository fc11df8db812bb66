"""``journeys up`` runs the Temporal dev server, the journey worker, the enrollment worker and
the web app as processes of their own, and SIGTERM or SIGINT stops them all within 10 s:
``up`` exits, none of its children is left alive, and every port it opened is free again."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the children through /proc"
)

STOP_WITHIN_S = 10
START_WITHIN_S = 180  # a dev server, migrations and three Python processes on a busy machine


def _local_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_PICKED: set[int] = set()


def _free_port() -> int:
    """A free port *below* the kernel's ephemeral range: a port bound to 0 elsewhere (other
    tests running alongside, their clients' outgoing connections) is never given one of
    these, so nobody takes it between this pick and ``journeys up`` binding it (a port
    picked by binding to 0 and closing could be handed out again at once: EADDRINUSE)."""
    low = _local_port_range()[0]
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if port not in _PICKED and _port_free(port):
            _PICKED.add(port)
            return port
    raise AssertionError("no free port below the ephemeral range")


def _port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as a restarted one would)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie holds no port and runs no code


def _output(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]


@pytest.mark.parametrize(
    ("sig", "split"),
    [(signal.SIGTERM, False), (signal.SIGINT, False), (signal.SIGTERM, True)],
    ids=["SIGTERM", "SIGINT", "SIGTERM-activity-worker"],
)
def test_up_stops_every_child_and_frees_its_ports(
    tmp_path: Path, sig: signal.Signals, split: bool
) -> None:
    web, temporal, ui = _free_port(), _free_port(), _free_port()
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
        deadline = time.monotonic() + START_WITHIN_S
        while True:
            assert up.poll() is None, f"journeys up exited early:\n{_output(log)}"
            assert time.monotonic() < deadline, f"the web app never answered:\n{_output(log)}"
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"http://127.0.0.1:{web}/login", timeout=2).status_code == 200:
                    break
            time.sleep(0.2)
        children = _descendants(up.pid)
        commands = " | ".join(
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            for pid in children
            if _alive(pid)
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
        up.wait(timeout=STOP_WITHIN_S + 5)
        took = time.monotonic() - started
        assert took < STOP_WITHIN_S, f"stopping took {took:.1f}s:\n{_output(log)}"
        assert up.returncode == 0, _output(log)
        assert "Stopped." in _output(log)
        assert [pid for pid in children if _alive(pid)] == []
        assert [port for port in (web, temporal, ui) if not _port_free(port)] == []
    finally:  # a failed test must not leave the stack running
        if up.poll() is None:
            children |= _descendants(up.pid)
            up.kill()
            up.wait()
        for pid in children:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)

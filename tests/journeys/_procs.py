"""Child processes of a command under test, found through /proc, and ports for them."""

from __future__ import annotations

import random
import socket
from pathlib import Path

import pytest

#: for a test module (``pytestmark``): the children are found through /proc
NEEDS_PROC = pytest.mark.skipif(
    not Path("/proc/self/stat").exists(), reason="finds the children through /proc"
)
STOP_WITHIN_S = 10
START_WITHIN_S = 180  # a dev server, migrations and three Python processes on a busy machine


def local_port_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


_PICKED: set[int] = set()


def free_port() -> int:
    """A free port *below* the kernel's ephemeral range: a port bound to 0 elsewhere (other
    tests running alongside, their clients' outgoing connections) is never given one of
    these, so nobody takes it between this pick and ``journeys up`` binding it (a port
    picked by binding to 0 and closing could be handed out again at once: EADDRINUSE)."""
    low = local_port_range()[0]
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        if port not in _PICKED and port_free(port):
            _PICKED.add(port)
            return port
    raise AssertionError("no free port below the ephemeral range")


def port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` now (as a restarted one would)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(root: int) -> set[int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = parent_of(int(entry.name))
            if parent is not None:
                parents[int(entry.name)] = parent
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie holds no port and runs no code


def output(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:]

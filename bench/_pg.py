"""A throwaway PostgreSQL cluster for ``--database postgresql`` (initdb into a temp dir,
``pg_ctl``), from the Debian ``postgresql`` binaries (``make postgres`` installs them).

The same recipe as the tests' cluster; under root it runs as the ``postgres`` system user
(PostgreSQL refuses root). Durability is off (fsync, synchronous commit): it is thrown away.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench._live import free_port


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): `make postgres`"
        )
    return Path(found[-1]).parent


@dataclass
class Cluster:
    port: int

    def create_database(self) -> str:
        """A new empty database; → its SQLAlchemy URL."""
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:12]}"
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"


@contextmanager
def running_cluster() -> Iterator[Cluster]:
    """Start a cluster on a free port; stop it and remove its files afterwards."""
    bin_dir = _bin_dir()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    root = Path(tempfile.mkdtemp(prefix="journeys-bench-pg-"))
    data, sockets = root / "data", root / "sock"
    sockets.mkdir()
    if as_user:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    pg_ctl = str(bin_dir / "pg_ctl")
    try:
        subprocess.run(
            [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres"]
            + ["-A", "trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-o", options, "-l", str(root / "log"), "-w"]
            + ["start"],
            check=True,
            capture_output=True,
        )
        yield Cluster(port=port)
    finally:
        subprocess.run(
            [*as_user, pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)

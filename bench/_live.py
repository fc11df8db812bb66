"""A live install for the load and fault benchmarks: every piece a real process, as
``journeys up`` runs them (:mod:`journeys.processes`), on free loopback ports, with a
temporary data dir.

The Temporal dev server keeps its state in a file DB in the data dir (so a SIGKILLed server
restarts with its workflows); the database is a SQLite file there too, or a database of a
throwaway PostgreSQL cluster (:mod:`bench._pg`). Migrations, a small demo chain and the demo
logins are set up in this process; the journey worker (serving the enrollment queue too)
and the web app (``journeys web``: uvicorn) are ``journeys`` children that the benchmarks
kill (SIGKILL to the process group) and start again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client

from db import crud, make_engine, upgrade, writer
from db.models import JourneyCreate, JourneyVersion
from db.seed import seed_demo
from journeys import processes
from services.accounts import seed_demo_users
from settings import Settings

Database = Literal["sqlite", "postgresql"]
Role = Literal["server", "worker", "activities", "web"]


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveStack:
    """The processes of one throwaway install and how to reach them."""

    settings: Settings
    engine: Engine
    workdir: Path
    #: the environment of the ``journeys`` children (their settings)
    env: dict[str, str]
    procs: dict[Role, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: dict[Role, int] = field(
        default_factory=lambda: {"server": 0, "worker": 0, "activities": 0, "web": 0}
    )

    @property
    def base_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    @property
    def events_key(self) -> str:
        return self.settings.events_api_key

    def log(self, role: Role) -> Path:
        return self.workdir / f"{role}.log"

    # ---------------------------------------------------------------- processes

    def start_server(self) -> None:
        """The dev server on its port and file DB (the same file after a kill)."""
        proc = processes.start_dev_server(self.settings, log=self.log("server"))
        if proc is None:
            raise processes.StartError(
                f"something else listens on {self.settings.temporal_address}"
            )
        self.procs["server"] = proc

    def start_worker(self) -> None:
        """``journeys worker`` (no port to wait on: it polls the server): the journey
        workflows' side when the activities have a process of their own, as ``journeys up``
        runs them (``Settings.activity_worker``), else both."""
        role = processes.Role.WORKFLOWS if self.settings.activity_worker else processes.Role.ALL
        self.procs["worker"] = processes.spawn(
            ["worker", "--role", role.value], env=self.env, log=self.log("worker")
        )

    def start_activities(self) -> None:
        """``journeys worker --role activities`` (with ``Settings.activity_worker``)."""
        self.procs["activities"] = processes.spawn(
            ["worker", "--role", processes.Role.ACTIVITIES.value],
            env=self.env,
            log=self.log("activities"),
        )

    def start_web(self, *, wait: bool = True) -> None:
        """``journeys web`` (uvicorn), then wait until it accepts connections."""
        proc = processes.spawn(["web", "--log-level", "warning"], env=self.env, log=self.log("web"))
        self.procs["web"] = proc
        if wait:
            self.wait_web()

    def wait_web(self) -> None:
        processes.wait_web(self.settings, self.procs["web"])

    def kill(self, role: Role) -> None:
        """SIGKILL ``role``'s process group (no clean shutdown of any kind) and reap it."""
        proc = self.procs.pop(role)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.kills[role] += 1

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds (user + system) used so far by each role's process tree, and by this
        process (``bench``): where a run's CPU went, on a machine the load saturates."""
        tick = os.sysconf("SC_CLK_TCK")
        stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, cpu seconds)
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)

        def tree(root: int) -> float:
            total, todo = 0.0, [root]
            while todo:
                pid = todo.pop()
                total += stats.get(pid, (0, 0.0))[1]
                todo += [child for child, (parent, _) in stats.items() if parent == pid]
            return total

        own = os.times()
        # the whole machine too (every core's busy time): what the load left idle
        cpu = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        busy = sum(cpu) - cpu[3] - cpu[4]  # user … steal (guest is in user), less idle, iowait
        return {role: tree(proc.pid) for role, proc in self.procs.items()} | {
            "bench": own.user + own.system,
            "machine": busy / tick,
        }

    def check_alive(self) -> None:
        """Raise when a child exited on its own (its log says why)."""
        for role, proc in self.procs.items():
            if proc.poll() is not None:
                raise processes.StartError(
                    f"the {role} exited (code {proc.returncode}); see {self.log(role)}"
                )

    def stop(self) -> None:
        """SIGTERM the apps, then the server (SIGKILL after their grace)."""
        apps = [p for r, p in self.procs.items() if r != "server"]
        processes.terminate(apps, grace=processes.APPS_GRACE_S)
        if "server" in self.procs:
            processes.terminate([self.procs["server"]], grace=processes.SERVER_GRACE_S)
        self.procs.clear()

    async def client(self) -> Client:
        """A client with the app's data converter (journeys by reference)."""
        from services.temporal import connect

        return await connect(self.settings)

    # ---------------------------------------------------------------- database

    def session(self) -> Session:
        """A write session (SQLite: ``BEGIN IMMEDIATE``) whose objects outlive commits."""
        return Session(writer(self.engine), expire_on_commit=False)

    def publish(self, document: dict[str, Any]) -> JourneyVersion:
        """Create ``document`` as a journey and publish it, as a marketer would."""
        from services.journeys import publish

        with self.session() as session:
            journey = crud.create_journey(
                session=session,
                journey_create=JourneyCreate(name=document["name"], draft_document=document),
                by="bench",
            )
            outcome = publish(session=session, journey_id=journey.id, by="bench")
        if outcome.version is None:
            raise RuntimeError(f"{document['name']} does not compile: {outcome.diagnostics}")
        return outcome.version


@contextlib.contextmanager
def live_stack(
    *,
    customers: int,
    database: Database = "sqlite",
    reconcile_interval: float = 10.0,
    keep: bool = False,
    apps: bool = True,
) -> Iterator[LiveStack]:
    """A migrated, seeded install with its dev server running (and, with ``apps``, the
    worker and the web app); everything stopped and removed afterwards (``keep``: the data
    dir and its logs stay, and their path is printed)."""
    workdir = Path(tempfile.mkdtemp(prefix="journeys-live-"))
    try:
        with _database(database, workdir) as url:
            stack = _prepare(workdir, url, customers, reconcile_interval)
            try:
                stack.start_server()
                if apps:
                    stack.start_worker()
                    if stack.settings.activity_worker:
                        stack.start_activities()
                    stack.start_web()
                yield stack
            finally:
                stack.stop()
                stack.engine.dispose()
    finally:
        if keep:
            print(f"# data dir and logs kept: {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _database(database: Database, workdir: Path) -> Iterator[str]:
    if database == "sqlite":
        yield f"sqlite:///{workdir / 'journeys.db'}"
        return
    from bench._pg import running_cluster

    with running_cluster() as cluster:
        yield cluster.create_database()


def _prepare(workdir: Path, url: str, customers: int, reconcile_interval: float) -> LiveStack:
    temporal_port, ui_port, web_port = free_port(), free_port(), free_port()
    queue = f"live-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        data_dir=workdir,
        database_url=url,
        temporal_address=f"127.0.0.1:{temporal_port}",
        temporal_ui_url=f"http://127.0.0.1:{ui_port}",
        task_queue=queue,
        enrollment_task_queue="",  # the journey worker serves the enrollment pages too
        web_host="127.0.0.1",
        web_port=web_port,
        demo=True,  # demo logins on a throwaway install
        secret_key=secrets.token_urlsafe(32),
        events_api_key=secrets.token_urlsafe(16),
        reconcile_interval_seconds=reconcile_interval,
    )
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "JOURNEYS_DATA_DIR": str(workdir),
        "JOURNEYS_TEMPORAL_ADDRESS": settings.temporal_address,
        "JOURNEYS_TEMPORAL_UI_URL": settings.temporal_ui_url,
        "JOURNEYS_TASK_QUEUE": queue,
        "JOURNEYS_ENROLLMENT_TASK_QUEUE": "",
        "JOURNEYS_WEB_HOST": settings.web_host,
        "JOURNEYS_WEB_PORT": str(web_port),
        "JOURNEYS_DEMO": "true",
        "JOURNEYS_SECRET_KEY": settings.secret_key,
        "JOURNEYS_EVENTS_API_KEY": settings.events_api_key,
        "JOURNEYS_RECONCILE_INTERVAL_SECONDS": str(reconcile_interval),
    }
    started = time.perf_counter()
    upgrade(url)
    engine = make_engine(url)
    seed_demo(session_or_engine=engine, customers=customers)
    seed_demo_users(session_or_engine=engine)
    print(
        f"# {customers} customers seeded in {time.perf_counter() - started:.1f}s ({url})",
        flush=True,
    )
    return LiveStack(settings=settings, engine=engine, workdir=workdir, env=env)

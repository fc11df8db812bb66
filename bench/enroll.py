"""Segment enrollment at scale vs bare workflow starts, same dev server, same run.

    python -m bench.enroll [--n 20000] [--concurrency 32] [--page-size 500]
                           [--shared-worker] [--direct]

Starts ``temporal server start-dev --headless --db-filename <tmp>`` on free ports, a
migrated SQLite database with ``n`` demo customers, and the production workers as
*subprocesses*: ``journeys.worker.build_worker`` (journey + enrollment workflows and journey
activities, plus a no-op ``BareWorkflow``) and, unless ``--shared-worker``,
``build_enrollment_worker`` (the enrollment workflow and its page activities on their own
queue, as ``journeys enrollment-worker`` runs them). Then, one after the other:

1. **enroll**: a segment matching all ``n`` customers enters a one-step journey
   (entry → exit) through one ``SegmentEnrollmentWorkflow`` (pages of ``--page-size``,
   ``--concurrency`` starts in flight); timed from its start to its result;
2. **bare**: ``n`` ``BareWorkflow`` starts from this process with the same concurrency;
3. with ``--direct``: ``n`` journey workflows started straight from this process (no
   enrollment bookkeeping), for reference.

Last lines: ``enroll_per_s``, ``bare_start_per_s``, ``ratio`` (enroll / bare),
``worker_peak_rss_mb`` (the larger VmHWM of the worker processes; compare ``--n 20000``
with ``--n 100000``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlmodel import Session
from temporalio.client import Client

from bench._bare import BareWorkflow
from db import crud, make_engine, upgrade
from db.models import JourneyCreate, SegmentCreate
from db.seed import seed_demo
from journeys.binaries import binary

JOURNEY: dict[str, Any] = {
    "name": "bench: segment entry",
    "nodes": [
        {
            "id": "entry",
            "kind": "entry",
            "config": {"trigger": {"type": "segment", "segment_id": "everyone"}},
        },
        {"id": "done", "kind": "exit"},
    ],
    "edges": [{"id": "e1", "source": "entry", "target": "done"}],
}


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(socket.socket()) as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


# --------------------------------------------------------------------------- worker process


async def _worker_main(
    role: str, address: str, url: str, queue: str, enrollment_queue: str
) -> None:
    """``--worker``: ``journeys worker`` (``build_worker``) plus the no-op BareWorkflow;
    ``--enroll-worker``: ``journeys enrollment-worker`` (``build_enrollment_worker``)."""
    from journeys.worker import build_enrollment_worker, build_worker
    from settings import Settings

    settings = Settings(
        temporal_address=address,
        database_url=url,
        task_queue=queue,
        enrollment_task_queue=enrollment_queue,
    )
    client = await Client.connect(address)
    if role == "--worker":
        worker = build_worker(client, settings, extra_workflows=[BareWorkflow])
    else:
        worker = build_enrollment_worker(client, settings)
    print("ready", flush=True)
    await worker.run()


# --------------------------------------------------------------------------- phases


def _prepare_db(url: str, n: int) -> str:
    upgrade(url)
    engine = make_engine(url)
    seed_demo(session_or_engine=engine, customers=n)
    with Session(engine, expire_on_commit=False) as session:
        crud.create_segment(
            session=session,
            segment_create=SegmentCreate(id="everyone", name="全部客户", definition={"rules": []}),
        )
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name=JOURNEY["name"], draft_document=JOURNEY),
            by="bench",
        )
        from services.journeys import publish

        outcome = publish(session=session, journey_id=journey.id, by="bench")
        assert outcome.ok, outcome.diagnostics
    engine.dispose()
    return journey.id


async def _enroll(
    client: Client, enrollment_queue: str, journey_id: str, args: argparse.Namespace
) -> float:
    """One pass, started as the journey page's "Enter now" starts it."""
    from services.segments import start_enrollment
    from workflows.enrollment import EnrollmentResult

    started = time.perf_counter()
    workflow_id = await start_enrollment(
        client=client,
        task_queue=enrollment_queue,
        journey_id=journey_id,
        page_size=args.page_size,
        concurrency=args.concurrency,
    )
    result = await client.get_workflow_handle(workflow_id, result_type=EnrollmentResult).result()
    elapsed = time.perf_counter() - started
    print(f"enroll: {result}", flush=True)
    assert result.entered == args.n, result
    return result.entered / elapsed


async def _bare(client: Client, queue: str, args: argparse.Namespace) -> float:
    gate = asyncio.Semaphore(args.concurrency)
    prefix = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        async with gate:
            await client.start_workflow(
                BareWorkflow.run, f"C{i:06d}", id=f"bare-{prefix}-{i}", task_queue=queue
            )

    started = time.perf_counter()
    # in slices, so 100k pending coroutines never sit in memory at once
    for lo in range(0, args.n, 2_000):
        await asyncio.gather(*(one(i) for i in range(lo, min(lo + 2_000, args.n))))
    return args.n / (time.perf_counter() - started)


async def _direct(
    client: Client, queue: str, url: str, journey_id: str, args: argparse.Namespace
) -> float:
    """The same journey workflows started straight from the client (no enrollment, no DB)."""
    from db.models import JourneyVersion
    from workflows import JourneyInput, JourneyWorkflow

    engine = make_engine(url)
    with Session(engine) as session:
        version = session.execute(select(JourneyVersion)).scalars().first()
        assert version is not None
        compiled = version.compiled
    engine.dispose()
    gate = asyncio.Semaphore(args.concurrency)
    prefix = uuid.uuid4().hex[:6]

    async def one(i: int) -> None:
        async with gate:
            await client.start_workflow(
                JourneyWorkflow.run,
                JourneyInput.new(journey=compiled, customer_id=f"C{i + 1:06d}"),
                id=f"direct-{prefix}-{i}",
                task_queue=queue,
            )

    started = time.perf_counter()
    for lo in range(0, args.n, 2_000):
        await asyncio.gather(*(one(i) for i in range(lo, min(lo + 2_000, args.n))))
    return args.n / (time.perf_counter() - started)


def _spawn(role: str, *argv: str) -> subprocess.Popen[str]:
    """``python -m bench.enroll <role> …`` as a child, once it says it is ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.enroll", role, *argv],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


async def _run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="journeys-enroll-") as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        t0 = time.perf_counter()
        journey_id = _prepare_db(url, args.n)
        print(f"seeded {args.n} customers in {time.perf_counter() - t0:.0f}s", flush=True)
        port = _free_port()
        server = subprocess.Popen(
            [
                binary("temporal"),
                "server",
                "start-dev",
                "--headless",
                "--db-filename",
                str(Path(tmp) / "temporal.db"),
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--http-port",
                str(_free_port()),
                "--metrics-port",
                str(_free_port()),
                "--ui-port",
                str(_free_port()),
                "--log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        worker: subprocess.Popen[str] | None = None
        enroller: subprocess.Popen[str] | None = None
        try:
            _wait_port(port)
            address = f"127.0.0.1:{port}"
            queue = f"bench-{uuid.uuid4().hex[:6]}"
            # "" = the journey worker serves the enrollment pages too (--shared-worker)
            enrollment_queue = f"{queue}-enrollment" if args.enroll_worker else ""
            worker = _spawn("--worker", address, url, queue, enrollment_queue)
            if args.enroll_worker:
                enroller = _spawn("--enroll-worker", address, url, queue, enrollment_queue)
            client = await Client.connect(address)
            enroll_rate = await _enroll(client, enrollment_queue or queue, journey_id, args)
            # No drain in between: the journey worker executes slower than the server starts,
            # so it stays saturated through both phases (the same load for both).
            bare_rate = await _bare(client, queue, args)
            direct_rate = (
                await _direct(client, queue, url, journey_id, args) if args.direct else 0.0
            )
            rss = _peak_rss_mb(worker.pid)
            enroller_rss = _peak_rss_mb(enroller.pid) if enroller is not None else 0.0
        finally:
            for proc in (enroller, worker, server):
                if proc is not None and proc.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=20)
                    except subprocess.TimeoutExpired:
                        proc.kill()
        print(
            f"n={args.n} concurrency={args.concurrency} page_size={args.page_size} "
            f"enroll_worker={'own process' if args.enroll_worker else 'shared'} "
            f"journey_worker_rss_mb={rss:.0f} enroll_worker_rss_mb={enroller_rss:.0f}"
        )
        if args.direct:
            print(f"direct_journey_start_per_s={direct_rate:.1f}")
        print(f"enroll_per_s={enroll_rate:.1f}")
        print(f"bare_start_per_s={bare_rate:.1f}")
        print(f"ratio={enroll_rate / bare_rate:.2f}")
        print(f"worker_peak_rss_mb={max(rss, enroller_rss):.0f}")


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] in ("--worker", "--enroll-worker"):
        asyncio.run(_worker_main(*sys.argv[1:6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument(
        "--shared-worker",
        dest="enroll_worker",
        action="store_false",
        help="run the enrollment activities on the journey worker (default: their own process)",
    )
    parser.add_argument(
        "--direct",
        action="store_true",
        help="also start the journey workflows straight from the client",
    )
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()

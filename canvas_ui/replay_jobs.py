"""Bulk "replay against current code" jobs of the web app: run in the background, polled.

One process-local registry (a dict); a job keeps its progress and, when done, the summary.
The CLI does not need it: it prints progress as it goes.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

from services.replay import ReplayResult, ReplaySummary, fetch_histories, replay_many

#: Finished jobs kept for the page to read (the oldest are dropped).
KEEP = 50


@dataclass
class ReplayJob:
    """Progress of one bulk replay."""

    id: str
    title: str
    total: int
    done: int = 0
    failed: list[ReplayResult] = field(default_factory=list)
    summary: ReplaySummary | None = None
    error: str | None = None
    task: asyncio.Task[None] | None = None

    @property
    def finished(self) -> bool:
        return self.summary is not None or self.error is not None


JOBS: dict[str, ReplayJob] = {}


def start_job(*, client: Any, workflow_ids: list[str], title: str) -> ReplayJob:
    """Replay ``workflow_ids``' histories in the background; returns the job at once."""
    job = ReplayJob(id=uuid.uuid4().hex[:12], title=title, total=len(workflow_ids))
    while len(JOBS) >= KEEP:
        JOBS.pop(next(iter(JOBS)))
    JOBS[job.id] = job

    async def on_progress(done: int, _total: int, result: ReplayResult) -> None:
        job.done = done
        if not result.ok:
            job.failed.append(result)

    async def run() -> None:
        errors: list[str] = []
        try:
            job.summary = await replay_many(
                fetch_histories(client, workflow_ids, errors),
                total=len(workflow_ids),
                on_progress=on_progress,
            )
            job.summary.fetch_errors.extend(errors)
        except Exception as exc:  # shown on the page instead of vanishing in a task
            job.error = str(exc)

    job.task = asyncio.get_running_loop().create_task(run())
    return job

"""Payloads between the segment enrollment workflow and its activities (stdlib only).

No ``from __future__ import annotations``: Temporal resolves these types on every payload.
"""

from dataclasses import dataclass


@dataclass
class PrepareRequest:
    """Open (or find again) the enrollment row of one enrollment workflow."""

    journey_id: str
    version: int | None  # None: the live version when the run starts (schedules)
    workflow_id: str
    first_run_id: str
    trigger: str  # "publish" | "schedule" | "manual"
    now: str  # the workflow's clock, ISO-8601


@dataclass
class PrepareResult:
    ok: bool
    reason: str = ""  # why nobody is enrolled, when not ok
    enrollment_id: int = 0
    version: int = 0
    segment_id: str = ""
    total: int = 0
    max_per_run: int | None = None
    max_per_hour: int | None = None


@dataclass
class PageRequest:
    """Enter the next page of the audience: customers with id > ``after``."""

    enrollment_id: int
    journey_id: str
    version: int
    segment_id: str
    now: str
    after: str
    page_size: int
    max_entries: int  # entries still allowed by the limits (≥ 1)
    entered_before: int
    skipped_before: int
    concurrency: int


@dataclass
class PageResult:
    considered: int
    entered: int
    skipped: int
    cursor: str
    done: bool  # the audience has no customers after ``cursor``
    stopped: str = ""  # "paused" | "replaced": the journey is no longer live at this version


@dataclass
class FinishRequest:
    enrollment_id: int
    status: str
    entered: int
    skipped: int
    cursor: str
    message: str = ""

"""Activities of the segment enrollment workflow: open the enrollment, enter one page of the
audience, close the enrollment.

Exactly-once entry, also when a page is retried after a crash half-way:

1. each customer of the page is *claimed* first with a ``journey_run`` row tagged with this
   enrollment (``enrollment_id = seg-<n>``); the partial unique index on running rows means
   a customer already in the journey cannot be claimed twice;
2. the customer workflow is started (:func:`workflows.starter.start_journey_run`, the one
   starter of the event path and the enroll API too) with the row id in its memo, and the
   Temporal run id is written back on the row;
3. a retried page finds its own rows first: a row with a run id, or one whose workflow's
   memo names it, is already entered and is not started again; only a claimed row whose
   workflow never started is started now.

Re-entry rules (never / after exit / cooldown) are :func:`reentry_block`, the same the event
path and the enroll API apply (``services.enrollment``), read in bulk: one query for the
page's latest runs instead of one per customer.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session, col, select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from activities._time import parse_instant
from activities.facts import profile_facts
from audiences import compile_segment, count, page_ids, parse_definition
from db import crud
from db.crud import priority_groups as groups
from db.crud.contact_policy import contact_recencies
from db.crud.journeys import entry_window_closed
from db.crud.points import points_balances
from db.models import Customer, JourneyRun, JourneyVersion
from db.models.segments import CustomerMetrics
from db.session import session_factory, write_session_factory
from engine.contact_policy import ContactRecency
from engine.effects import CustomerFacts
from engine.ir import CompiledJourney, ReentryPolicy, SegmentEntry
from workflows.contract import (
    ENROLLMENT_FINISH,
    ENROLLMENT_PAGE,
    ENROLLMENT_PREPARE,
    MEMO_RUN_ROW,
    FinishRequest,
    PageRequest,
    PageResult,
    PrepareRequest,
    PrepareResult,
    workflow_id_for,
)
from workflows.starter import (
    compiled_journey,
    journey_input,
    start_journey_run,
    stop_journey_run,
)

__all__ = ["MEMO_RUN_ROW", "EnrollmentActivities", "enrollment_key", "reentry_block"]


def enrollment_key(enrollment_id: int) -> str:
    """``journey_run.enrollment_id`` of the rows an enrollment claims."""
    return f"seg-{enrollment_id}"


def reentry_block(latest: JourneyRun | None, journey: CompiledJourney, now: datetime) -> str | None:
    """Why a customer whose latest run is ``latest`` may not enter now (None: may enter).

    The one re-entry rule of every way in: enrollment pages (on a prefetched row), the
    event path and the enroll API (``services.enrollment``).
    """
    if latest is None:
        return None
    if latest.status == "running":
        return "already in the journey"
    policy = journey.entry.reentry
    if policy is ReentryPolicy.NEVER:
        return "already entered once (re-entry: never)"
    if policy is ReentryPolicy.COOLDOWN:
        exited = latest.exited_at or latest.entered_at
        if exited.tzinfo is None:
            exited = exited.replace(tzinfo=UTC)
        until = exited + timedelta(days=journey.entry.cooldown_days or 0)
        if now < until:
            return f"in cooldown until {until.isoformat(timespec='minutes')}"
    return None


@dataclass
class _Plan:
    """What one page will do, decided from the database before any start."""

    cursor: str = ""
    considered: int = 0
    skipped: int = 0
    already: int = 0  # entered by an earlier attempt of this page
    claim: list[dict[str, Any]] = field(default_factory=list)
    verify: list[JourneyRun] = field(default_factory=list)  # claimed, start unknown


class EnrollmentActivities:
    """Enrollment activities bound to one database and one Temporal client."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        client: Client,
        task_queue: str,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self._reads = sessions
        self._writes = write_session_factory(sessions.kw["bind"])
        self._client = client
        self._task_queue = task_queue
        self._timezone = timezone

    @classmethod
    def from_engine(cls, engine: Engine, client: Client, task_queue: str) -> EnrollmentActivities:
        """Build from an engine (the worker's usual entry point)."""
        return cls(sessions=session_factory(engine), client=client, task_queue=task_queue)

    def all(self) -> list[Any]:
        """The activity callables to register on a worker."""
        return [self.prepare, self.enroll_page, self.finish]

    # ------------------------------------------------------------------ prepare

    @activity.defn(name=ENROLLMENT_PREPARE)
    async def prepare(self, req: PrepareRequest) -> PrepareResult:
        """Resolve the version and segment, count the audience, open the enrollment row."""
        return await asyncio.to_thread(self._prepare, req)

    def _prepare(self, req: PrepareRequest) -> PrepareResult:
        now = parse_instant(req.now)
        with self._writes() as session:
            journey = crud.get_journey(session=session, journey_id=req.journey_id)
            if journey is None:
                return PrepareResult(False, f"journey {req.journey_id} does not exist")
            if journey.status != "live" or journey.live_version is None:
                return PrepareResult(False, f"journey is {journey.status}, not live")
            version_no = req.version or journey.live_version
            if version_no != journey.live_version:
                return PrepareResult(False, f"v{version_no} is no longer the live version")
            closed = entry_window_closed(journey, now)
            if closed:
                return PrepareResult(False, closed)
            version = crud.get_version(
                session=session, journey_id=req.journey_id, version=version_no
            )
            if version is None:
                return PrepareResult(False, f"journey version {version_no} does not exist")
            trigger = self._compiled(version).entry.trigger
            if not isinstance(trigger, SegmentEntry):
                return PrepareResult(False, "the journey's entry is not a segment")
            segment = crud.get_segment(session=session, segment_id=trigger.segment_id)
            if segment is None:
                return PrepareResult(False, f"segment {trigger.segment_id} does not exist")
            compiled = compile_segment(
                parse_definition(segment.definition), now=now, timezone=self._timezone
            )
            total = count(session, compiled)
            crud.record_segment_count(session=session, segment_id=segment.id, count=total)
            row = crud.get_or_create_enrollment(
                session=session,
                journey_id=req.journey_id,
                journey_version=version_no,
                segment_id=segment.id,
                workflow_id=req.workflow_id,
                first_run_id=req.first_run_id,
                trigger=req.trigger,
                as_of=now,
                total=total,
            )
            limits = crud.get_entry_limits(session=session, journey_id=req.journey_id)
            assert row.id is not None
            return PrepareResult(
                ok=True,
                enrollment_id=row.id,
                version=version_no,
                segment_id=segment.id,
                total=row.total,
                max_per_run=limits.max_per_run if limits else None,
                max_per_hour=limits.max_per_hour if limits else None,
            )

    # ------------------------------------------------------------------ one page

    @activity.defn(name=ENROLLMENT_PAGE)
    async def enroll_page(self, req: PageRequest) -> PageResult:
        """Enter the next page of the audience with bounded concurrency (idempotent)."""
        stopped = await asyncio.to_thread(self._still_live, req)
        if stopped:
            return PageResult(0, 0, 0, req.after, False, stopped)
        version, plan, ids_len = await asyncio.to_thread(self._plan, req)
        journey = self._compiled(version)
        now = parse_instant(req.now)
        claimed, preempted = await asyncio.to_thread(self._claim, req, plan)
        to_start, entered = await self._verify(plan.verify)
        to_start += claimed
        started, failed, errors = await self._start_all(req, version, journey, to_start, now)
        await asyncio.to_thread(self._record, started, failed)
        await self._stop_preempted([p for row_id, p in preempted.items() if row_id in started])
        if errors:  # transient (Temporal unavailable…): the retry resumes with the claims
            raise errors[0]
        entered += plan.already + len(started)
        skipped = plan.skipped + len(failed) + (len(plan.claim) - len(claimed))
        result = PageResult(
            considered=plan.considered,
            entered=entered,
            skipped=skipped,
            cursor=plan.cursor,
            done=ids_len < req.page_size and plan.considered == ids_len,
        )
        await asyncio.to_thread(
            self._progress,
            req.enrollment_id,
            req.entered_before + entered,
            req.skipped_before + skipped,
            plan.cursor,
        )
        return result

    def _still_live(self, req: PageRequest) -> str:
        with self._reads() as session:
            journey = crud.get_journey(session=session, journey_id=req.journey_id)
            if journey is None or journey.status == "archived":
                return "replaced"
            if journey.status == "paused":
                return "paused"
            if journey.live_version != req.version:
                return "replaced"
            # a pass still running when the campaign closes stops at its next page
            if entry_window_closed(journey, parse_instant(req.now)):
                return "campaign ended"
            return ""

    def _plan(self, req: PageRequest) -> tuple[JourneyVersion, _Plan, int]:
        now = parse_instant(req.now)
        key = enrollment_key(req.enrollment_id)
        with self._reads() as session:
            version = crud.get_version(
                session=session, journey_id=req.journey_id, version=req.version
            )
            segment = crud.get_segment(session=session, segment_id=req.segment_id)
            if version is None or segment is None:
                raise LookupError(f"journey v{req.version} or segment {req.segment_id} is gone")
            journey = self._compiled(version)
            compiled = compile_segment(
                parse_definition(segment.definition), now=now, timezone=self._timezone
            )
            ids = page_ids(session, compiled, after=req.after, limit=req.page_size)
            mine = crud.runs_of_enrollment(session=session, enrollment_key=key, customer_ids=ids)
            wf_ids = {c: workflow_id_for(journey.journey_id, c) for c in ids if c not in mine}
            latest = crud.latest_runs(session=session, workflow_ids=list(wf_ids.values()))
        plan = _Plan(cursor=req.after)
        budget = req.max_entries
        for cid in ids:
            if budget <= 0:
                break
            plan.considered += 1
            plan.cursor = cid
            own = mine.get(cid)
            if own is not None:
                if own.status == "failed":
                    plan.skipped += 1
                elif own.status == "running" and own.run_id is None:
                    plan.verify.append(own)
                    budget -= 1
                else:
                    plan.already += 1
                    budget -= 1
                continue
            if reentry_block(latest.get(wf_ids[cid]), journey, now):
                plan.skipped += 1
                continue
            plan.claim.append(
                {
                    "workflow_id": wf_ids[cid],
                    "journey_id": journey.journey_id,
                    "journey_version": journey.version,
                    "customer_id": cid,
                    "current_node": journey.entry_node_id,
                    "entered_at": now,
                }
            )
            budget -= 1
        return version, plan, len(ids)

    def _claim(
        self, req: PageRequest, plan: _Plan
    ) -> tuple[list[JourneyRun], dict[int, groups.Preempted]]:
        """Insert the page's run rows; → them, and the lower-priority runs (by the new
        row's id) they took their group seat from."""
        key = enrollment_key(req.enrollment_id)
        with self._writes() as session:
            journey_id = req.journey_id
            if (
                not plan.claim
                or groups.get_membership(session=session, journey_id=journey_id) is None
            ):
                return crud.claim_runs(session=session, rows=plan.claim, enrollment_key=key), {}
            session.rollback()
            # a journey in a priority group: each customer's seat and run row commit together,
            # as on the event path (services.enrollment), so entries from anywhere serialise
            claimed: list[JourneyRun] = []
            preempted: dict[int, groups.Preempted] = {}
            for row in plan.claim:
                admission = groups.admit(
                    session=session,
                    journey_id=journey_id,
                    customer_id=row["customer_id"],
                    workflow_id=row["workflow_id"],
                )
                if not admission.ok:
                    session.rollback()
                    continue
                runs = crud.claim_runs(session=session, rows=[row], enrollment_key=key)
                claimed += runs
                if runs and runs[0].id is not None and admission.preempted is not None:
                    preempted[runs[0].id] = admission.preempted
            return claimed, preempted

    async def _stop_preempted(self, preempted: list[groups.Preempted]) -> None:
        """Stop the lower-priority runs whose seats new runs took (after those started)."""
        for p in preempted:
            if not await stop_journey_run(
                client=self._client, workflow_id=p.workflow_id, reason=p.reason
            ):
                await asyncio.to_thread(self._mark_stopped, p)

    def _mark_stopped(self, p: groups.Preempted) -> None:
        with self._writes() as session:
            if crud.get_running_run(session=session, workflow_id=p.workflow_id):
                crud.mark_run(
                    session=session,
                    workflow_id=p.workflow_id,
                    status="stopped",
                    exit_reason=f"{p.reason} (its workflow had already ended)",
                )

    async def _verify(self, rows: list[JourneyRun]) -> tuple[list[JourneyRun], int]:
        """Of claimed rows without a run id: which still need a start; how many had one."""
        to_start: list[JourneyRun] = []
        entered = 0
        for row in rows:
            handle = self._client.get_workflow_handle(row.workflow_id)
            try:
                desc = await handle.describe()
            except RPCError as err:
                if err.status is RPCStatusCode.NOT_FOUND:
                    to_start.append(row)
                    continue
                raise
            if await desc.memo_value(MEMO_RUN_ROW, None) == row.id:
                entered += 1  # the earlier attempt started it before it could record so
            else:
                to_start.append(row)
        return to_start, entered

    async def _start_all(
        self,
        req: PageRequest,
        version: JourneyVersion,
        journey: CompiledJourney,
        rows: list[JourneyRun],
        now: datetime,
    ) -> tuple[dict[int, str], list[int], list[BaseException]]:
        facts = await asyncio.to_thread(self._facts, [r.customer_id for r in rows], now)
        gate = asyncio.Semaphore(max(1, req.concurrency))
        started: dict[int, str] = {}
        failed: list[int] = []
        errors: list[BaseException] = []

        async def one(row: JourneyRun) -> None:
            assert row.id is not None
            async with gate:
                try:
                    started[row.id] = await start_journey_run(
                        client=self._client,
                        task_queue=self._task_queue,
                        journey=journey,
                        row_id=row.id,
                        inp=journey_input(
                            compiled=version.compiled,
                            customer_id=row.customer_id,
                            row_id=row.id,
                            facts=facts.get(row.customer_id),
                        ),
                    )
                except WorkflowAlreadyStartedError:
                    failed.append(row.id)
                    return
                except Exception as exc:  # noqa: BLE001 - collected, re-raised after recording
                    errors.append(exc)
                    return
                if len(started) % 50 == 0:
                    activity.heartbeat(len(started))

        await asyncio.gather(*(one(r) for r in rows))
        return started, failed, errors

    def _facts(self, customer_ids: list[str], now: datetime) -> dict[str, CustomerFacts]:
        """Profile snapshots for the new runs, as ``load_facts`` builds them (a branch right
        after entry reads them: metrics, points and contact recency included), in a few
        set-based queries for the whole page."""
        with self._reads() as session:
            customers: list[Customer] = crud.get_customers(
                session=session, customer_ids=customer_ids
            )
            zones = {s.id: s.timezone for s in crud.list_stores(session=session)}
            metrics = {
                m.customer_id: m
                for m in session.exec(
                    select(CustomerMetrics).where(
                        col(CustomerMetrics.customer_id).in_(customer_ids)
                    )
                )
            }
            points = points_balances(session=session, customer_ids=customer_ids, as_of=now)
            seen = contact_recencies(session=session, customer_ids=customer_ids, as_of=now)
        return {c.id: self._snapshot(c, zones, metrics, points, seen, now) for c in customers}

    @staticmethod
    def _snapshot(
        c: Customer,
        zones: dict[str, str],
        metrics: dict[str, CustomerMetrics],
        points: dict[str, int],
        seen: dict[str, ContactRecency],
        now: datetime,
    ) -> CustomerFacts:
        return profile_facts(
            c,
            store_timezone=zones.get(c.store_id or "", c.timezone),
            metrics=metrics.get(c.id),
            points=points.get(c.id, 0),
            seen=seen.get(c.id) or ContactRecency(),
            as_of=now.isoformat(),
        )

    def _record(self, started: dict[int, str], failed: list[int]) -> None:
        with self._writes() as session:
            crud.set_run_ids(session=session, run_ids=started)
            crud.fail_runs(
                session=session, row_ids=failed, reason="a run with this id already exists"
            )

    def _progress(self, enrollment_id: int, entered: int, skipped: int, cursor: str) -> None:
        with self._writes() as session:
            crud.set_enrollment_progress(
                session=session,
                enrollment_id=enrollment_id,
                entered=entered,
                skipped=skipped,
                cursor=cursor,
            )

    # ------------------------------------------------------------------ finish

    @activity.defn(name=ENROLLMENT_FINISH)
    async def finish(self, req: FinishRequest) -> None:
        """Write the final counters and status."""
        await asyncio.to_thread(self._finish, req)

    def _finish(self, req: FinishRequest) -> None:
        with self._writes() as session:
            crud.set_enrollment_progress(
                session=session,
                enrollment_id=req.enrollment_id,
                entered=req.entered,
                skipped=req.skipped,
                cursor=req.cursor,
                status=req.status,
                message=req.message,
            )

    # ------------------------------------------------------------------ plumbing

    def _compiled(self, version: JourneyVersion) -> CompiledJourney:
        return compiled_journey(version.compiled)

"""What-if backtest: a draft (or any version) against the live version on recorded customers.

"If I change the coupon to ¥30 and the wait to 5 days, how many coupons go out, how many
calls land on each guide, how many customers convert?" — :func:`prepare` checks the request
and stores a queued ``journey_backtest`` row; :func:`run_backtest` (in the background: a
thread of the web process, or the CLI) reads the customers' history in bulk
(:mod:`services.backtest_load`), runs each through both versions on the simulator in
worker processes (:mod:`services.backtest_sim`: the real interpreter, nothing re-implemented)
and stores the report: side by side and as a difference.

What a backtest cannot know is said in its notes: behaviour is what customers really did
under the live version, so conversions move only with the goal's definition; a run that
waits past the end of history is counted as waiting there.

A backtest lives in the process that runs it: its row holds a lease (:data:`LEASE`) that a
heartbeat renews while :func:`run_backtest` works. When the process stops (a restart), the
reconciler finds the lapsed lease and marks the backtest failed, :data:`INTERRUPTED`
(:func:`interrupt_orphaned`) — not restarted by itself: it is a heavy job, and one that
took its process down would do it again — and the page offers :func:`run_again`.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from db import crud
from db.crud import backtests as backtest_crud
from db.crud import contact_policy as policy_crud
from db.models import Guide, Segment, utcnow
from db.models.backtests import JourneyBacktest
from db.session import writer
from engine import ir
from engine.compiler.diagnostics import Diagnostic
from services import backtest_load
from services.backtest_load import Population
from services.backtest_report import build_report, is_zero
from services.backtest_sim import (
    ENDED,
    ChunkDone,
    CustomerCase,
    Setup,
    Tally,
    VersionSpec,
    init_process,
    run_chunk,
    run_chunk_measured,
)
from services.goals import goal_of
from services.test_runs import sandbox_coupons

log = logging.getLogger(__name__)

#: the longest period a backtest reads
MAX_DAYS = 365
#: A live backtest's lease; its job renews it every HEARTBEAT (and with its progress), so
#: one not renewed for LEASE lost its process.
LEASE = timedelta(seconds=60)
HEARTBEAT = timedelta(seconds=15)
#: the error of a backtest whose process stopped (the page words it, with "Run again")
INTERRUPTED = "interrupted by a restart; run it again"


class BacktestSettings(BaseSettings):
    """``JOURNEYS_BACKTEST_*``: worker processes (0: in the calling process) and chunk size."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_BACKTEST_")
    workers: int = 2
    chunk: int = 2000
    page: int = backtest_load.PAGE
    #: the web process has threads: never fork it; the fork server is a fresh process that
    #: imports the simulation once, then forks each worker from it
    start_method: str = "forkserver"


class BacktestInputError(ValueError):
    """A request the backtest cannot run; ``field`` names what to change."""

    def __init__(
        self, field: str, template: str, params: dict[str, Any] | None = None, *, status: int = 422
    ) -> None:
        self.params = dict(params or {})
        self.template = template  # the sentence with %(name)s slots (the UI translates it)
        self.message = template % self.params
        super().__init__(self.message)
        self.field = field
        self.status = status


class CandidateInvalidError(ValueError):
    """The draft does not compile; ``diagnostics`` say where."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__("; ".join(d.message for d in diagnostics if d.severity == "error"))
        self.diagnostics = diagnostics


@dataclass(frozen=True)
class BacktestRequest:
    """``candidate``: "draft" or a version number; ``baseline``: a version (default the live
    one); the period: ``start``/``end`` days (the chain's zone, ``end`` included) or the last
    ``since_days``; ``source``: "entered" (who entered the baseline then) or "segment"
    (``segment_id``'s members, or the journey's entry segment, entering at the start)."""

    candidate: str | int = "draft"
    baseline: int | None = None
    since_days: int = 30
    start: date | None = None
    end: date | None = None
    source: str = "entered"
    segment_id: str | None = None


# ---------------------------------------------------------------- prepare


def prepare(
    *, session: Session, journey_id: str, req: BacktestRequest, by: str, timezone: str
) -> JourneyBacktest:
    """Check ``req`` and store a queued backtest. Raises :class:`BacktestInputError` (the
    field to change; 404 for an unknown journey) or :class:`CandidateInvalidError`."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise BacktestInputError(
            "journey_id", "No journey with id %(id)s.", {"id": journey_id}, status=404
        )
    baseline = req.baseline if req.baseline is not None else journey.live_version
    if baseline is None:
        raise BacktestInputError(
            "baseline",
            "The journey has no live version to compare with: publish it first, or name a "
            "baseline version.",
            status=409,
        )
    if crud.get_version(session=session, journey_id=journey_id, version=baseline) is None:
        raise BacktestInputError(
            "baseline", "This journey has no version %(version)s.", {"version": baseline}
        )
    document: dict[str, Any] = {}
    cand_version: int | None = None
    if req.candidate == "draft":
        document = dict(journey.draft_document)
        _compile_draft(session, journey_id, document)
        label = "draft"
    else:
        try:
            cand_version = int(req.candidate)
        except ValueError as exc:
            raise BacktestInputError(
                "candidate", "Write 'draft' or a version number, e.g. 2."
            ) from exc
        if crud.get_version(session=session, journey_id=journey_id, version=cand_version) is None:
            raise BacktestInputError(
                "candidate",
                "This journey has no version %(version)s.",
                {"version": cand_version},
            )
        label = f"v{cand_version}"
    start, end = _period(req, timezone)
    pop = population(
        session=session, journey_id=journey_id, baseline=baseline, req=req, start=start, end=end
    )
    total = backtest_load.count_entries(session=session, pop=pop)
    if total == 0:
        raise BacktestInputError(
            "since_days" if req.start is None else "start",
            *_no_entries(session, journey_id, baseline, req, start, end, timezone),
        )
    return backtest_crud.create_backtest(
        session=session,
        journey_id=journey_id,
        baseline_version=baseline,
        candidate=label,
        candidate_version=cand_version,
        candidate_document=document,
        source=req.source,
        segment_id=pop_segment(session, journey_id, baseline, req),
        period_start=start,
        period_end=end,
        total=total,
        by=by,
        lease_until=utcnow() + LEASE,  # until its job starts renewing it
    )


def run_again(*, session: Session, journey_id: str, backtest_id: int, by: str) -> JourneyBacktest:
    """A new queued backtest with ``backtest_id``'s question — the same versions (a draft
    as it was then), period and customers — for one that failed or was interrupted (the
    caller commits and starts it). :class:`BacktestInputError`: no such backtest (404), or
    nobody in its period any more."""
    old = backtest_crud.get_backtest(
        session=session, journey_id=journey_id, backtest_id=backtest_id
    )
    if old is None:
        raise BacktestInputError(
            "backtest_id", "No backtest %(id)s of this journey.", {"id": backtest_id}, status=404
        )
    req = BacktestRequest(source=old.source, segment_id=old.segment_id)
    pop = population(
        session=session,
        journey_id=journey_id,
        baseline=old.baseline_version,
        req=req,
        start=old.period_start,
        end=old.period_end,
    )
    total = backtest_load.count_entries(session=session, pop=pop)
    if total == 0:
        raise BacktestInputError(
            "backtest_id",
            "Nobody is in this backtest's period any more: start a new backtest.",
            status=409,
        )
    return backtest_crud.create_backtest(
        session=session,
        journey_id=journey_id,
        baseline_version=old.baseline_version,
        candidate=old.candidate,
        candidate_version=old.candidate_version,
        candidate_document=dict(old.candidate_document),
        source=old.source,
        segment_id=old.segment_id,
        period_start=old.period_start,
        period_end=old.period_end,
        total=total,
        by=by,
        lease_until=utcnow() + LEASE,
    )


def interrupt_orphaned(*, engine: Engine, now: datetime | None = None) -> list[int]:
    """Mark the queued or running backtests whose lease lapsed (their process stopped)
    failed, :data:`INTERRUPTED`; → their ids (blocking: call it in a thread). Looks in a
    read transaction first: a round with nothing to do never queues for the write lock."""
    now = now or utcnow()
    with Session(engine) as session:
        candidates = backtest_crud.orphaned_backtests(session=session, now=now)
        session.rollback()
    if not candidates:
        return []
    with Session(writer(engine)) as session:
        ids = backtest_crud.interrupt_orphaned(
            session=session, now=now, reason=INTERRUPTED, ids=candidates
        )
        session.commit()
    return ids


def _compile_draft(
    session: Session, journey_id: str, document: dict[str, Any]
) -> ir.CompiledJourney:
    from services.journeys import validate_draft

    result = validate_draft(session=session, document=document, journey_id=journey_id)
    if result.journey is None:
        raise CandidateInvalidError(list(result.diagnostics))
    return result.journey


def _period(req: BacktestRequest, timezone: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(timezone)
    if req.start is not None or req.end is not None:
        today = datetime.now(zone).date()
        first, last = req.start or (today - timedelta(days=req.since_days - 1)), req.end or today
        if last < first:
            raise BacktestInputError("end", "The last day comes before the first.")
        if (last - first).days + 1 > MAX_DAYS:
            raise BacktestInputError(
                "start", "A backtest reads at most %(days)s days.", {"days": MAX_DAYS}
            )
        lo = datetime.combine(first, datetime.min.time(), zone)
        hi = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
        return lo.astimezone(UTC), hi.astimezone(UTC)
    if not 1 <= req.since_days <= MAX_DAYS:
        raise BacktestInputError("since_days", "Choose 1 to %(days)s days.", {"days": MAX_DAYS})
    now = datetime.now(UTC)
    return now - timedelta(days=req.since_days), now


def pop_segment(
    session: Session, journey_id: str, baseline: int, req: BacktestRequest
) -> str | None:
    """The segment a "segment" backtest reads: the one named, else the entry's."""
    if req.source != "segment":
        return None
    if req.segment_id:
        return req.segment_id
    row = crud.get_version(session=session, journey_id=journey_id, version=baseline)
    if row is None:
        return None
    journey = _journey_of(row.compiled, row.document, journey_id, baseline, session)
    trigger = getattr(journey.step(journey.entry_node_id), "trigger", None)
    return getattr(trigger, "segment_id", None)


def population(
    *,
    session: Session,
    journey_id: str,
    baseline: int,
    req: BacktestRequest,
    start: datetime,
    end: datetime,
) -> Population:
    """Who the backtest runs (see :class:`BacktestRequest`)."""
    if req.source == "entered":
        return Population(journey_id, start, end, version=baseline)
    if req.source != "segment":
        raise BacktestInputError("source", "Choose 'entered' or 'segment'.")
    segment_id = pop_segment(session, journey_id, baseline, req)
    if not segment_id:
        raise BacktestInputError(
            "segment_id", "The journey's entry is not a segment: name a saved segment."
        )
    return Population(
        journey_id, start, end, segment_select=segment_select(session, segment_id, start)
    )


def segment_select(session: Session, segment_id: str, as_of: datetime) -> Any:
    """``SELECT customer.id`` of a saved segment's members as of ``as_of``."""
    from audiences import audience_select, compile_segment, parse_definition
    from db.models import Customer

    row = session.get(Segment, segment_id)
    if row is None:
        raise BacktestInputError("segment_id", "No segment with id %(id)s.", {"id": segment_id})
    try:
        compiled = compile_segment(parse_definition(row.definition), now=as_of)
    except ValueError as exc:  # a definition saved under older rules
        raise BacktestInputError(
            "segment_id",
            "Segment %(id)s cannot be read: %(problem)s",
            {"id": segment_id, "problem": str(exc)},
        ) from exc
    return audience_select(compiled, col(Customer.id))


def _no_entries(
    session: Session,
    journey_id: str,
    baseline: int,
    req: BacktestRequest,
    start: datetime,
    end: datetime,
    timezone: str,
) -> tuple[str, dict[str, Any]]:
    """Why a period has nobody to backtest, and what to do: (sentence, its values)."""
    zone = ZoneInfo(timezone)
    params: dict[str, Any] = {
        "version": baseline,
        "first": f"{start.astimezone(zone):%Y-%m-%d}",
        "last": f"{(end - timedelta(seconds=1)).astimezone(zone):%Y-%m-%d}",
    }
    if req.source == "segment":
        return "The segment has no members, so there is nobody to backtest.", params
    first = backtest_load.first_entry(session=session, journey_id=journey_id, version=baseline)
    if first is None:
        return (
            "Nobody has entered v%(version)s yet, so there is no history to backtest on: "
            "wait for customers to enter, or backtest a segment.",
            params,
        )
    params["entered"] = f"{first.astimezone(zone):%Y-%m-%d}"
    return (
        "Nobody entered v%(version)s between %(first)s and %(last)s; its first customer "
        "entered on %(entered)s. Choose a period that includes it.",
        params,
    )


# ---------------------------------------------------------------- run


def _journey_of(
    compiled: dict[str, Any],
    document: dict[str, Any],
    journey_id: str,
    version: int,
    session: Session,
) -> ir.CompiledJourney:
    """A version's IR: the one stored at publish (what really runs), else compiled again."""
    if compiled:
        journey = ir.from_dict(compiled)
        if isinstance(journey, ir.CompiledJourney):
            return journey
    return _compile_draft(session, journey_id, document)


def setup_for(*, session: Session, row: JourneyBacktest, timezone: str, horizon: datetime) -> Setup:
    """The simulator's setup of ``row``: both versions, coupons, the contact policy."""
    base = crud.get_version(
        session=session, journey_id=row.journey_id, version=row.baseline_version
    )
    assert base is not None  # checked by prepare; versions are never deleted
    baseline = _journey_of(base.compiled, base.document, row.journey_id, base.version, session)
    if row.candidate_version is None:
        cand_doc = row.candidate_document
        candidate = _compile_draft(session, row.journey_id, cand_doc)
    else:
        cv = crud.get_version(
            session=session, journey_id=row.journey_id, version=row.candidate_version
        )
        assert cv is not None
        cand_doc = cv.document
        candidate = _journey_of(cv.compiled, cv.document, row.journey_id, cv.version, session)
    policy = policy_crud.as_policy(policy_crud.get_policy_row(session=session))
    configured = policy.quiet_hours is not None or bool(policy.caps)
    return Setup(
        versions={
            "baseline": VersionSpec(baseline.to_dict(), goal_of(base.document)),
            "candidate": VersionSpec(candidate.to_dict(), goal_of(cand_doc)),
        },
        coupons=sandbox_coupons(session=session),
        policy=policy if configured else None,
        timezone=timezone,
        horizon=horizon,
    )


def run_backtest(
    *,
    engine: Engine,
    backtest_id: int,
    timezone: str,
    settings: BacktestSettings | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Run a queued backtest to its end and store its report (or its error); → the report.

    History ends at ``now`` (default: the wall clock)."""
    settings = settings or BacktestSettings()
    horizon = now or datetime.now(UTC)
    began = time.perf_counter()
    with _Heartbeat(engine, backtest_id):
        return _run(engine, backtest_id, timezone, settings, horizon, began)


class _Heartbeat:
    """Renews a backtest's lease every :data:`HEARTBEAT` on a thread of its own while the
    job runs (loading a page or waiting on worker processes may take longer than a
    progress step); stops with the job, or when the backtest is no longer live."""

    def __init__(self, engine: Engine, backtest_id: int) -> None:
        self.engine, self.backtest_id = engine, backtest_id
        self.stop = threading.Event()
        self.thread = threading.Thread(
            target=self._beat, name=f"backtest-{backtest_id}-lease", daemon=True
        )

    def __enter__(self) -> _Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _beat(self) -> None:
        while not self.stop.wait(HEARTBEAT.total_seconds()):
            try:
                with Session(writer(self.engine)) as session:
                    live = backtest_crud.renew_lease(
                        session=session, backtest_id=self.backtest_id, until=utcnow() + LEASE
                    )
                    session.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                log.exception("backtest %s: renewing its lease failed", self.backtest_id)
                continue
            if not live:
                return


class BacktestAbandonedError(RuntimeError):
    """The backtest is no longer live (the reconciler gave up on it): stop working."""


def _run(
    engine: Engine,
    backtest_id: int,
    timezone: str,
    settings: BacktestSettings,
    horizon: datetime,
    began: float,
) -> dict[str, Any]:
    try:
        with Session(engine, expire_on_commit=False) as session:
            row = session.get(JourneyBacktest, backtest_id)
            if row is None:
                raise LookupError(f"no backtest {backtest_id}")
            setup = setup_for(session=session, row=row, timezone=timezone, horizon=horizon)
            req = BacktestRequest(source=row.source, segment_id=row.segment_id)
            pop = population(
                session=session,
                journey_id=row.journey_id,
                baseline=row.baseline_version,
                req=req,
                start=row.period_start,
                end=row.period_end,
            )
            entry_type = _entry_event_type(setup)
            caps = setup.policy.caps if setup.policy else []
            since = timedelta(days=max(c.window_days for c in caps)) if caps else None
            docs = _documents(session, row)
            reads_metrics = backtest_load.reads_stored_metrics(
                ir.from_dict(v.compiled) for v in setup.versions.values()
            )
            _progress(engine, backtest_id, "running", 0)
            loading = [0.0]

            def pages() -> Iterator[list[CustomerCase]]:
                # read page by page while the worker processes simulate the pages before
                it = backtest_load.iter_cases(
                    session=session,
                    pop=pop,
                    horizon=horizon,
                    entry_event_type=entry_type,
                    contacts_since=since,
                    page_size=settings.page,
                    with_purchases=reads_metrics,
                )
                while True:
                    t0 = time.perf_counter()
                    page = next(it, None)
                    loading[0] += time.perf_counter() - t0
                    if page is None:
                        return
                    yield page

            cost: dict[str, float] = {}
            tallies = simulate_all(
                setup,
                pages(),
                settings,
                on_progress=lambda done: _progress(engine, backtest_id, "running", done),
                cost=cost,
            )
            loaded = loading[0]
        elapsed = time.perf_counter() - began
        with Session(engine) as session:
            capacity = _capacities(session, tallies)
        result = build_report(
            tallies, docs=docs, capacity=capacity, horizon=horizon, timezone=timezone
        )
        if not setup.render_messages:
            result["notes"].append("templates")
        runs = tallies["baseline"].runs + tallies["candidate"].runs
        result["timing"] = {
            "load_s": round(loaded, 3),
            "total_s": round(elapsed, 3),
            "journeys_per_s": round(runs / elapsed, 1) if elapsed else None,
            "worker_cpu_s": round(cost["worker_cpu_s"], 3),
            "worker_peak_rss_mb": round(cost["worker_peak_rss_mb"], 1),
        }
        with Session(writer(engine)) as session:
            backtest_crud.finish_backtest(session=session, backtest_id=backtest_id, result=result)
            session.commit()
        return result
    except Exception as exc:
        with Session(writer(engine)) as session:
            backtest_crud.finish_backtest(
                session=session,
                backtest_id=backtest_id,
                result=None,
                error=f"{type(exc).__name__}: {exc}",
            )
            session.commit()
        raise


def simulate_all(
    setup: Setup,
    pages: Iterable[list[CustomerCase]],
    settings: BacktestSettings,
    *,
    on_progress: Callable[[int], None] | None = None,
    cost: dict[str, float] | None = None,
) -> dict[str, Tally]:
    """Every case through both versions, in chunks over ``settings.workers`` processes;
    ``on_progress`` hears the entries done so far; ``cost`` gets the workers' CPU seconds
    and peak memory."""
    cost = cost if cost is not None else {}
    cost.setdefault("worker_cpu_s", 0.0)
    cost.setdefault("worker_peak_rss_mb", 0.0)
    total = {name: Tally() for name in setup.versions}
    size = max(1, settings.chunk)
    done = 0

    def merge(tallies: dict[str, Tally], entries: int) -> None:
        nonlocal done
        for name, t in tallies.items():
            total[name].add(t)
        done += entries
        if on_progress:
            on_progress(done)

    if settings.workers <= 0:
        init_process(setup)
        for page in pages:
            for chunk in backtest_load.chunks(page, size):
                merge(run_chunk(chunk), _entries(chunk))
        return total
    ctx = multiprocessing.get_context(settings.start_method)
    if settings.start_method == "forkserver":
        ctx.set_forkserver_preload(["services.backtest_sim"])
    with ProcessPoolExecutor(
        max_workers=settings.workers, mp_context=ctx, initializer=init_process, initargs=(setup,)
    ) as pool:
        pending: dict[Future[ChunkDone], int] = {}

        def take(fut: Future[ChunkDone]) -> None:
            answer = fut.result()
            cost["worker_cpu_s"] += answer.cpu_s
            cost["worker_peak_rss_mb"] = max(cost["worker_peak_rss_mb"], answer.peak_rss_kb / 1024)
            merge(answer.tallies, pending.pop(fut))

        for page in pages:
            for chunk in backtest_load.chunks(page, size):
                pending[pool.submit(run_chunk_measured, chunk)] = _entries(chunk)
            for fut in [f for f in pending if f.done()]:
                take(fut)
        for fut in as_completed(list(pending)):
            take(fut)
    return total


def _entries(chunk: list[CustomerCase]) -> int:
    return sum(len(c.entries) for c in chunk)


def start_in_background(
    *, engine: Engine, backtest_id: int, timezone: str, settings: BacktestSettings | None = None
) -> threading.Thread:
    """Run the backtest on a thread of this process (its simulation in worker processes)."""

    def work() -> None:
        try:
            run_backtest(
                engine=engine, backtest_id=backtest_id, timezone=timezone, settings=settings
            )
        except Exception:  # stored on the row by run_backtest; nothing waits on this thread
            pass

    thread = threading.Thread(target=work, name=f"backtest-{backtest_id}", daemon=True)
    thread.start()
    return thread


def _progress(engine: Engine, backtest_id: int, status: str, done: int) -> None:
    with Session(writer(engine)) as session:
        live = backtest_crud.set_progress(
            session=session,
            backtest_id=backtest_id,
            status=status,
            done=done,
            lease_until=utcnow() + LEASE,
        )
        session.commit()
    if not live:
        raise BacktestAbandonedError(f"backtest {backtest_id} is no longer running")


def _entry_event_type(setup: Setup) -> str | None:
    journey = ir.from_dict(setup.versions["baseline"].compiled)
    trigger = getattr(journey.step(journey.entry_node_id), "trigger", None)
    return getattr(trigger, "event_type", None)


def _documents(session: Session, row: JourneyBacktest) -> dict[str, dict[str, Any]]:
    base = crud.get_version(
        session=session, journey_id=row.journey_id, version=row.baseline_version
    )
    if row.candidate_version is None:
        cand = row.candidate_document
    else:
        cv = crud.get_version(
            session=session, journey_id=row.journey_id, version=row.candidate_version
        )
        cand = cv.document if cv else {}
    return {"baseline": base.document if base else {}, "candidate": cand}


def _capacities(session: Session, tallies: dict[str, Tally]) -> dict[str, tuple[str, int]]:
    guides = {k.split("|", 1)[0] for t in tallies.values() for k in t.tasks}
    if not guides:
        return {}
    rows = session.exec(select(Guide).where(col(Guide.id).in_(sorted(guides)))).all()
    return {g.id: (g.name, g.daily_capacity) for g in rows}


__all__ = [
    "ENDED",
    "INTERRUPTED",
    "LEASE",
    "BacktestAbandonedError",
    "BacktestInputError",
    "BacktestRequest",
    "BacktestSettings",
    "CandidateInvalidError",
    "build_report",
    "interrupt_orphaned",
    "is_zero",
    "prepare",
    "run_again",
    "run_backtest",
    "simulate_all",
    "start_in_background",
]

"""``journeys``: run each piece alone, or everything at once.

    journeys up          # dev server + migrations + demo data + workers + web (make run)
    journeys server      # Temporal dev server with a file DB (waiting journeys survive)
    journeys worker      # the worker, against JOURNEYS_TEMPORAL_ADDRESS / _NAMESPACE / TLS
    journeys enrollment-worker   # segment enrollment passes, on their own queue and process
    journeys web         # the web app
    journeys migrate     # alembic upgrade head on DATABASE_URL (or the SQLite file)
    journeys seed        # the demo retail chain (idempotent)
    journeys enroll JOURNEY_ID C000001 C000002 …
    journeys enroll-segment JOURNEY_ID   # the journey's segment audience, with a progress bar
    journeys move-waiting JOURNEY_ID --from 1 [--map w2=m] [--apply]   # to a newer version
    journeys backtest JOURNEY_ID --draft --since 30d   # the draft vs the live version
    journeys recompute-metrics           # RFM(L) for everyone + customer metrics
    journeys create-user NAME --role admin   # a sign-in account (asks for the password)
    journeys disable-demo-logins         # switch off the demo logins before going live
    journeys check-providers   # SMS / e-mail provider settings and credentials (sends nothing)

Settings come from env vars (see settings/__init__.py), e.g. ``DATABASE_URL``,
``JOURNEYS_TEMPORAL_ADDRESS``, ``JOURNEYS_TEMPORAL_NAMESPACE``, ``JOURNEYS_TEMPORAL_TLS``.
Outside the local demo (``JOURNEYS_DEMO=true``, set by ``make run``) the web app and the
workers refuse to start with the default secrets or the demo logins (services.preflight).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer
from rich.console import Console

from journeys import processes
from journeys.processes import Role
from settings import DEMO_EVENTS_API_KEY, Settings, get_settings

if TYPE_CHECKING:
    from temporalio.worker import Worker

app = typer.Typer(help=__doc__, no_args_is_help=True, add_completion=False)
console = Console()


T = TypeVar("T")


def _refuse_unsafe(settings: Settings, *, accounts: bool = True) -> None:
    """Exit (code 2) with the reasons when :mod:`services.preflight` refuses this install
    (``accounts=False``: the secrets only, before the database exists)."""
    if settings.demo:
        return
    from db import make_engine
    from services.preflight import UnsafeStartError, check_safe_to_start

    engine = make_engine(settings.sqlalchemy_url) if accounts else None
    try:
        check_safe_to_start(settings, engine)
    except UnsafeStartError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    finally:
        if engine is not None:
            engine.dispose()


def _refuse_bad_providers() -> None:
    """Exit (code 2) naming the variables when the message providers cannot be used as
    configured (an unknown provider name, missing credentials): at start-up, not message by
    message (activities.channels.ChannelSettings)."""
    from activities.channels import ChannelSettings

    problems = ChannelSettings().problems()
    if problems:
        console.print("Message providers are not configured correctly:", style="red")
        for problem in problems:
            console.print(f"  {problem}", style="red", markup=False, highlight=False)
        raise typer.Exit(2)


def _migrate_and_seed(settings: Settings, seed: bool) -> None:
    from db import make_engine, upgrade
    from db.seed import seed_demo
    from services.accounts import seed_demo_users

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    if seed:
        engine = make_engine(settings.sqlalchemy_url)
        with console.status("Seeding the demo retail chain (first start only)…"):
            summary = seed_demo(session_or_engine=engine)
            logins = seed_demo_users(session_or_engine=engine)
        if summary.created:
            console.print(
                f"Demo chain: {summary.regions} regions, {summary.stores} stores, "
                f"{summary.guides} guides, {summary.customers} customers, "
                f"{summary.orders} orders, {summary.coupon_templates} coupon templates"
            )
        console.print(
            "Demo logins (password for all: journeys-demo): "
            + ", ".join(f"{login.username} ({login.role})" for login in logins)
        )
        _prepare_audiences(settings)


@app.command()
def migrate() -> None:
    """Bring the database schema to the latest migration."""
    from db import upgrade

    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    console.print(f"Database at head: {settings.sqlalchemy_url}")


@app.command()
def seed() -> None:
    """Load the demo retail chain (regions, stores, guides, customers, orders, coupons)."""
    _migrate_and_seed(get_settings(), seed=True)


@app.command()
def server() -> None:
    """Run the Temporal dev server (file DB in the data dir) in the foreground."""
    settings = get_settings()
    proc = _start(lambda: processes.start_dev_server(settings))
    console.print(f"Temporal: {settings.temporal_address}  UI: {settings.temporal_ui_url}")
    if proc is None:
        console.print(f"Temporal already listening on {settings.temporal_address}")
        return
    with processes.stop_signals():
        try:
            with contextlib.suppress(KeyboardInterrupt):
                proc.wait()
        finally:
            processes.ignore_stop_signals()
            processes.terminate([proc], grace=processes.SERVER_GRACE_S)


def _start(start: Callable[[], T]) -> T:
    try:
        return start()
    except processes.StartError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


async def _run_until_stopped(worker: Worker) -> None:
    """Run ``worker`` until SIGINT or SIGTERM, then shut it down (its pollers end, running
    activities are cancelled and retried elsewhere); a worker failing on its own raises."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running = asyncio.create_task(worker.run())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not running.done():
        await worker.shutdown()
    stopping.cancel()
    await running


async def _run_worker(settings: Settings, role: Role) -> None:
    from journeys.worker import build_worker, notice_sweep
    from services.temporal import connect_patiently

    client = await connect_patiently(settings)
    worker = build_worker(client, settings, role=role)
    # guide task notices still due (chases from the web app, retries) go out from the
    # process that runs the activities
    sweep = (
        asyncio.create_task(notice_sweep(settings).run(), name="guide-notice-sweep")
        if role is not Role.WORKFLOWS
        else None
    )
    try:
        await _run_until_stopped(worker)
    finally:
        if sweep is not None:
            sweep.cancel()


@app.command()
def worker(
    role: Role = typer.Option(  # noqa: B008 - typer's way
        Role.ALL,
        "--role",
        help="all: journeys and their activities; workflows / activities: one side "
        "(one process of each: `journeys up` with JOURNEYS_ACTIVITY_WORKER=true)",
    ),
) -> None:
    """Run the journey worker against the configured Temporal cluster (stops on SIGINT or
    SIGTERM)."""
    settings = get_settings()
    _refuse_bad_providers()
    _refuse_unsafe(settings)
    console.print(
        f"Worker ({role.value}) on {settings.temporal_address} queue '{settings.task_queue}'"
    )
    asyncio.run(_run_worker(settings, role))


async def _run_enrollment_worker(settings: Settings) -> None:
    from journeys.worker import build_enrollment_worker
    from services.temporal import connect_patiently

    client = await connect_patiently(settings)
    await _run_until_stopped(build_enrollment_worker(client, settings))


@app.command("enrollment-worker")
def enrollment_worker() -> None:
    """Run the segment enrollment worker (the passes and their pages; the journeys they start
    run on the journey worker's queue). Not needed when JOURNEYS_ENROLLMENT_TASK_QUEUE is
    empty."""
    settings = get_settings()
    if not settings.own_enrollment_worker:
        console.print(
            "[yellow]JOURNEYS_ENROLLMENT_TASK_QUEUE is empty: the journey worker runs the "
            "enrollment pages; nothing to do here.[/yellow]"
        )
        raise typer.Exit(0)
    _refuse_unsafe(settings)
    console.print(
        f"Enrollment worker on {settings.temporal_address} queue '{settings.enrollment_queue}'"
        f" (starts journeys on '{settings.task_queue}')"
    )
    asyncio.run(_run_enrollment_worker(settings))


@app.command()
def web(
    log_level: str = typer.Option("info", help="uvicorn's log level (warning: no access log)."),
) -> None:
    """Run the web app (canvas, API, OpenAPI docs at /docs); stops on SIGINT or SIGTERM."""
    from canvas_ui.app import create_app
    from canvas_ui.serving import serve
    from services.preflight import UnsafeStartError

    settings = get_settings()
    try:
        web_app = create_app(settings)
    except UnsafeStartError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from exc
    serve(settings, web_app, log_level=log_level)


@app.command()
def up(
    seed: bool | None = typer.Option(
        None,
        "--seed/--no-seed",
        help="Demo data (chain, logins, journeys) on first start. Default: under JOURNEYS_DEMO.",
    ),
) -> None:
    """Everything on one machine: dev server, migrations, demo data, and the journey worker,
    the enrollment worker and the web app, each in its own process. Ctrl-C or SIGTERM stops
    them all within 10 s. ``make run`` runs it as the local demo (JOURNEYS_DEMO=true)."""
    settings = get_settings()
    if seed is None:
        seed = settings.demo
    if seed and not settings.demo:
        console.print(
            "[red]Demo data comes with demo logins (password journeys-demo): only for the "
            "local demo. Set JOURNEYS_DEMO=true, or start with --no-seed.[/red]"
        )
        raise typer.Exit(2)
    if settings.demo and not settings.events_api_key:
        # a known key for the local demo; production sets JOURNEYS_EVENTS_API_KEY
        settings = settings.model_copy(update={"events_api_key": DEMO_EVENTS_API_KEY})
    env = {**os.environ, "JOURNEYS_EVENTS_API_KEY": settings.events_api_key}
    children = processes.Children()
    with processes.stop_signals():
        try:
            _up(settings, seed, env, children)
        except KeyboardInterrupt:
            console.print("Stopping…")
        finally:
            processes.ignore_stop_signals()
            children.stop()
    console.print("Stopped.")


def _up(settings: Settings, seed: bool, env: dict[str, str], children: processes.Children) -> None:
    """Start everything, then watch: returns never (Ctrl-C / SIGTERM), exits when a child
    dies."""
    if not settings.demo:
        _refuse_unsafe(settings, accounts=False)  # before starting anything
    _refuse_bad_providers()
    server = _start(lambda: processes.start_dev_server(settings))
    if server is None:
        console.print(f"Temporal already listening on {settings.temporal_address}")
    else:
        children.server = processes.Child("Temporal dev server", server)
    _migrate_and_seed(settings, seed)
    _refuse_unsafe(settings)  # demo logins too, now that the database is there
    logs = settings.data_dir
    role = Role.WORKFLOWS if settings.activity_worker else Role.ALL
    worker_ = children.add(
        processes.Child(
            "journey worker",
            processes.spawn(["worker", "--role", role.value], env=env, log=logs / "worker.log"),
        )
    )
    activity_worker = None
    if settings.activity_worker:
        log = logs / "activity-worker.log"
        activity_worker = children.add(
            processes.Child(
                "activity worker",
                processes.spawn(["worker", "--role", Role.ACTIVITIES.value], env=env, log=log),
                log,
            )
        )
    enroller = None
    if settings.own_enrollment_worker:
        log = logs / "enrollment-worker.log"
        enroller = children.add(
            processes.Child(
                "enrollment worker", processes.spawn(["enrollment-worker"], env=env, log=log), log
            )
        )
    web_ = children.add(
        processes.Child("web app", processes.spawn(["web", "--log-level", "warning"], env=env))
    )
    _start(lambda: processes.wait_web(settings, web_.proc))
    if seed:
        asyncio.run(_demo_journeys(settings))
    url = f"http://{settings.web_host}:{settings.web_port}"
    console.rule("[bold green]Journey Canvas is up")
    console.print(f"  App:         {url}/")
    console.print(f"  API docs:    {url}/docs")
    console.print(f"  Temporal UI: {settings.temporal_ui_url}")
    console.print(
        f"  Workers:     journeys on '{settings.task_queue}' (pid {worker_.proc.pid}, log "
        f"{logs / 'worker.log'}{'; workflows' if activity_worker else ''})"
    )
    if activity_worker is not None:
        console.print(
            f"               activities on '{settings.task_queue}' "
            f"(pid {activity_worker.proc.pid}, log {activity_worker.log})"
        )
    if enroller is not None:
        console.print(
            f"               enrollment on '{settings.enrollment_queue}' "
            f"(pid {enroller.proc.pid}, log {enroller.log})"
        )
    if settings.events_api_key:
        console.print(
            f"  Events API:  POST {url}/api/events  (X-API-Key: {settings.events_api_key})"
        )
    console.print("  Stop with Ctrl-C (waiting journeys survive a restart).")
    while True:
        dead = children.exited()
        if dead is not None:
            where = f"; see {dead.log}" if dead.log else ""
            console.print(
                f"[red]The {dead.name} exited (code {dead.proc.returncode}){where}: "
                "stopping everything.[/red]"
            )
            raise typer.Exit(1)
        time.sleep(0.5)


async def _demo_journeys(settings: Settings) -> None:
    from sqlmodel import Session

    from db import make_engine, writer
    from services.demo import ensure_demo_journeys
    from services.temporal import TemporalGateway

    gateway = TemporalGateway(settings)
    with Session(writer(make_engine(settings.sqlalchemy_url)), expire_on_commit=False) as session:
        demo = await ensure_demo_journeys(session=session, temporal=gateway)
    if demo.created:
        console.print(
            f"Demo journeys: {', '.join(demo.created)}; "
            f"{demo.enrolled} customers enrolled in the live VIP invitation"
        )


@app.command()
def enroll(journey_id: str, customer_ids: list[str]) -> None:
    """Enter customers into a live journey."""
    from sqlmodel import Session

    from db import make_engine, writer
    from services.journeys import enroll_customers
    from services.temporal import TemporalGateway

    settings = get_settings()

    async def go() -> None:
        with Session(writer(make_engine(settings.sqlalchemy_url))) as session:
            result = await enroll_customers(
                session=session,
                temporal=TemporalGateway(settings),
                journey_id=journey_id,
                customer_ids=customer_ids,
            )
        console.print(result.to_dict())

    asyncio.run(go())


def _prepare_audiences(settings: Settings) -> None:
    """Customer metrics and the built-in segments of the demo chain (idempotent)."""
    from sqlmodel import Session

    from audiences.builtin import prepare_demo
    from db import make_engine, writer

    with Session(writer(make_engine(settings.sqlalchemy_url))) as session:
        console.print(f"Audiences: {prepare_demo(session=session)}")


@app.command("recompute-metrics")
def recompute_metrics(
    period_days: int = typer.Option(365, min=1, max=3650, help="F/M period in days."),
) -> None:
    """Re-score RFM(L) for everyone (new medians) and rebuild customer metrics."""
    from sqlmodel import Session

    from audiences.metrics import recompute
    from db import make_engine, writer
    from db.models import utcnow
    from services.lifecycle import announce

    settings = get_settings()
    with (
        Session(writer(make_engine(settings.sqlalchemy_url))) as session,
        console.status("Scoring…"),
    ):
        summary = recompute(session=session, now=utcnow(), period_days=period_days)
        # stage changes become lifecycle_stage_changed events; the web app's reconciler
        # delivers them (journeys entered by that event start then)
        announced = announce(session=session, changes=summary.stage_changes)
    console.print(summary)
    console.print(f"lifecycle_stage_changed events stored: {len(announced)}")


@app.command()
def reconcile(
    closed_since_days: float = typer.Option(
        1.0, min=0, help="Also close rows of workflows that closed in the last N days."
    ),
) -> None:
    """One reconciler round now: deliver pending events, tell owed task outcomes, settle runs
    whose start was never confirmed or whose workflow ended without saying so. (The web app
    runs this every few seconds by itself.)"""
    from datetime import timedelta

    from db import make_engine
    from db.models import utcnow
    from services.reconcile import reconcile_once
    from services.temporal import connect

    settings = get_settings()

    async def main() -> None:
        engine = make_engine(settings.sqlalchemy_url)
        client = await connect(settings)
        result = await reconcile_once(
            engine=engine,
            client=client,
            task_queue=settings.task_queue,
            closed_since=utcnow() - timedelta(days=closed_since_days),
        )
        console.print(result)

    asyncio.run(main())


@app.command("create-user")
def create_user(
    username: str = typer.Argument(help="Login name: lower-case letters, digits, . _ -"),
    role: str = typer.Option(..., help="admin | hq | store_manager | guide"),
    guide_id: str = typer.Option("", help="The guide row of a guide or store manager."),
    display_name: str = typer.Option("", help="Shown in the top bar and on tasks."),
    password: str = typer.Option(
        ...,
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="JOURNEYS_NEW_PASSWORD",
        help="Asked for when not given (or set JOURNEYS_NEW_PASSWORD).",
    ),
) -> None:
    """Create a sign-in account, e.g. the first admin of a new install (then add the others
    on the web app's Accounts page)."""
    from sqlmodel import Session

    from db import make_engine, writer
    from services.accounts import AccountExistsError, AccountInputError, add_account

    settings = get_settings()
    with Session(writer(make_engine(settings.sqlalchemy_url))) as session:
        try:
            account = add_account(
                session=session,
                username=username,
                password=password,
                role=role,
                display_name=display_name,
                guide_id=guide_id,
            )
        except (AccountInputError, AccountExistsError) as exc:
            console.print(f"[red]Not created:[/red] {exc}")
            raise typer.Exit(2) from exc
        console.print(f"Created {account.username} ({account.role}).")


@app.command("disable-demo-logins")
def disable_demo_logins() -> None:
    """Switch off the demo logins (admin, hq, manager, guide, guide2) that still sign in with
    the demo password, so the install may start outside the local demo."""
    from sqlmodel import Session

    from db import make_engine, writer
    from services.accounts import disable_demo_accounts

    settings = get_settings()
    with Session(writer(make_engine(settings.sqlalchemy_url))) as session:
        found = disable_demo_accounts(session=session)
    if found:
        console.print(f"Switched off: {', '.join(found)}")
    else:
        console.print("No demo login opens with the demo password.")


@app.command("enroll-segment")
def enroll_segment(
    journey_id: str,
    wait: bool = typer.Option(True, help="Show a progress bar until the pass ends."),
    concurrency: int = typer.Option(32, min=1, max=512, help="Workflow starts in flight."),
) -> None:
    """Enter a live journey's segment audience now, with a progress bar."""
    from services.segments import start_enrollment
    from services.temporal import connect

    settings = get_settings()

    async def go() -> None:
        client = await connect(settings)
        workflow_id = await start_enrollment(
            client=client,
            task_queue=settings.enrollment_queue,
            journey_id=journey_id,
            concurrency=concurrency,
        )
        console.print(f"Enrollment started: {workflow_id}")
        if wait:
            await _follow_enrollment(settings, journey_id, workflow_id)

    asyncio.run(go())


async def _follow_enrollment(settings: Settings, journey_id: str, workflow_id: str) -> None:
    """A rich progress bar over the enrollment's row (entered + skipped of total)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
    from sqlmodel import Session

    from db import crud, make_engine

    engine = make_engine(settings.sqlalchemy_url)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("Entering", total=None)
        while True:
            with Session(engine) as session:
                rows = crud.list_enrollments(session=session, journey_id=journey_id)
            row = next((r for r in rows if r.workflow_id == workflow_id), None)
            if row is not None:
                progress.update(
                    task,
                    total=row.total,
                    completed=row.entered + row.skipped,
                    description=f"Entered {row.entered}, skipped {row.skipped}",
                )
                if row.status != "running":
                    console.print(
                        f"Enrollment {row.status}: {row.entered} entered, {row.skipped} skipped"
                        + (f" ({row.message})" if row.message else "")
                    )
                    return
            await asyncio.sleep(0.5)


# ------------------------------------------------------------------ replay (services.replay)


def _replay_ids(
    workflow_id: str | None, journey: str | None, version: int | None, limit: int
) -> list[str]:
    if workflow_id:
        return [workflow_id]
    if not journey:
        console.print("[red]Give --workflow-id, --journey or --dir.[/red]")
        raise typer.Exit(2)
    from sqlmodel import Session

    from db import make_engine
    from services.replay import workflow_ids_for_journey

    with Session(make_engine(get_settings().sqlalchemy_url)) as session:
        return workflow_ids_for_journey(
            session=session, journey_id=journey, version=version, limit=limit
        )


@app.command()
def replay(
    workflow_id: str | None = typer.Option(None, "--workflow-id", help="One run."),
    journey: str | None = typer.Option(None, "--journey", help="Every run of a journey."),
    version: int | None = typer.Option(None, "--version", help="Only this version's runs."),
    limit: int = typer.Option(1000, "--limit", help="At most this many runs."),
    directory: Path | None = typer.Option(None, "--dir", help="Exported JSON histories."),
) -> None:
    """Replay recorded histories against the current workflow code (exit 1 if any diverges)."""
    import logging

    from services.replay import ReplayResult, fetch_histories, load_dir, replay_many

    # the SDK logs every failed activation with a traceback; the verdicts below say it all
    logging.getLogger("temporalio").setLevel(logging.CRITICAL)

    def progress(done: int, total: int, r: ReplayResult) -> None:
        mark = "[green]ok[/green]" if r.ok else "[red]DIVERGES[/red]"
        console.print(f"{done}/{total or '?'} {r.workflow_id} {mark}")
        div = r.divergence
        if div is not None:
            console.print(
                f"    at event {div.event_id} ({div.event_detail}), node {div.node_id};"
                f" last matching command {div.last_matched}"
            )

    async def go() -> bool:
        if directory is not None:
            histories = load_dir(directory)
            summary = await replay_many(histories, total=len(histories), on_progress=progress)
        else:
            from services.temporal import connect

            ids = _replay_ids(workflow_id, journey, version, limit)
            client = await connect(get_settings())
            errors: list[str] = []
            summary = await replay_many(
                fetch_histories(client, ids, errors), total=len(ids), on_progress=progress
            )
            summary.fetch_errors.extend(errors)
        for err in summary.fetch_errors:
            console.print(f"[yellow]not fetched: {err}[/yellow]")
        failed = len(summary.failed)
        console.print(
            f"replayed={len(summary.results)} failed={failed} "
            f"not_fetched={len(summary.fetch_errors)}"
        )
        return summary.ok

    if not asyncio.run(go()):
        raise typer.Exit(1)


@app.command("export-history")
def export_history(
    out: Path = typer.Option(..., "--out", help="Directory to write <workflow id>.json into."),
    workflow_id: str | None = typer.Option(None, "--workflow-id"),
    journey: str | None = typer.Option(None, "--journey"),
    version: int | None = typer.Option(None, "--version"),
    limit: int = typer.Option(1000, "--limit"),
) -> None:
    """Write workflow histories as JSON files (for `journeys replay --dir` or a test corpus)."""
    from services import replay as rp
    from services.temporal import connect

    ids = _replay_ids(workflow_id, journey, version, limit)

    async def go() -> int:
        client = await connect(get_settings())
        errors: list[str] = []
        n = 0
        async for history in rp.fetch_histories(client, ids, errors):
            console.print(str(rp.export_history(history, out)))
            n += 1
        for err in errors:
            console.print(f"[yellow]not fetched: {err}[/yellow]")
        return n

    console.print(f"exported={asyncio.run(go())}")


@app.command("check-providers")
def check_providers(
    timeout: float = typer.Option(10.0, min=0.1, help="Seconds to wait for each provider."),
) -> None:
    """Check the message providers: the configuration (JOURNEYS_SMS_PROVIDER,
    JOURNEYS_EMAIL_PROVIDER and each chosen provider's variables), then the credentials with
    one signed read call per real provider. Nothing is sent. Exit 2 naming the variable to
    fix when something is wrong."""
    import httpx

    from activities.channels import (
        CHANNELS,
        ChannelSettings,
        ProviderCheckError,
        ProviderConfigError,
        configured_providers,
    )

    channels = ChannelSettings()
    failed = False
    with httpx.Client(timeout=timeout) as http:
        try:
            providers = configured_providers(channels, http)
        except ProviderConfigError as exc:
            console.print("Message providers are not configured correctly:", style="red")
            for problem in exc.problems:
                console.print(f"  {problem}", style="red", markup=False, highlight=False)
            raise typer.Exit(2) from exc
        for channel in CHANNELS:
            provider = providers.get(channel)
            if provider is None:
                kept = "signed webhook" if channel == "webhook" else "outbox (nothing sent)"
                console.print(f"{channel}: {kept}", markup=False, highlight=False)
                continue
            try:
                said = provider.check()
            except ProviderCheckError as exc:
                console.print(f"{channel}: {exc}", style="red", markup=False, highlight=False)
                failed = True
            else:
                console.print(f"{channel}: ok — {said}", markup=False, highlight=False)
    if failed:
        raise typer.Exit(2)


# ------------------------------------------------------------------ move waiting customers


def _parse_map(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old:
            console.print(f"[red]--map {pair!r}: write OLD_NODE=NEW_NODE (or OLD_NODE=stay)[/red]")
            raise typer.Exit(2)
        mapping[old] = "" if new in ("", "stay") else new
    return mapping


@app.command("move-waiting")
def move_waiting(
    journey_id: str,
    from_version: int = typer.Option(..., "--from", min=1, help="The version they wait in."),
    to_version: int | None = typer.Option(None, "--to", min=1, help="Default: the next one."),
    map_: list[str] = typer.Option(
        [], "--map", help="OLD_NODE=NEW_NODE, or OLD_NODE=stay (repeatable)."
    ),
    apply: bool = typer.Option(False, "--apply", help="Move them (default: the dry run)."),
    resume: int | None = typer.Option(None, "--resume", help="Go on with pass ID."),
) -> None:
    """Move the customers waiting in a version to a newer one: the dry run, or --apply it
    (a pass with a progress bar; --resume ID goes on with one that was cut off)."""
    from sqlmodel import Session

    from db import make_engine
    from db.session import writer
    from services import version_moves as moves
    from services.temporal import connect

    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    try:
        with Session(writer(engine)) as session:
            if resume is not None:
                row = moves.resume_move(session=session, move_id=resume)
            else:
                plan = moves.plan_move(
                    session=session,
                    journey_id=journey_id,
                    from_version=from_version,
                    to_version=to_version,
                    mapping=_parse_map(map_),
                )
                _print_plan(plan)
                if not apply:
                    return
                row = moves.start_move(
                    session=session,
                    journey_id=journey_id,
                    from_version=from_version,
                    to_version=to_version,
                    mapping=_parse_map(map_),
                    by="cli",
                )
            session.commit()
            move_id = row.id or 0
    except moves.MoveInputError as exc:
        console.print(f"[red]{exc.field}: {exc.message}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    except moves.MoveRefusedError as exc:
        console.print(f"[red]Refused: {exc.message}[/red]", highlight=False)
        raise typer.Exit(1) from exc

    async def go() -> None:
        client = await connect(settings)
        await _follow_move(
            engine, move_id, moves.run_move(engine=engine, client=client, move_id=move_id)
        )

    asyncio.run(go())


def _print_plan(plan: Any) -> None:
    from rich.table import Table

    table = Table(title=f"v{plan.from_version} → v{plan.to_version}")
    for col in ("waiting at", "customers", "lands at", "not done again", "done again", "problem"):
        table.add_column(col)
    for r in plan.rows:
        table.add_row(
            f"{r.node.label} ({r.node.node_id})",
            str(r.waiting),
            f"{r.target.node_id}" + (" (same place)" if r.same_place else "")
            if r.target
            else f"stays on v{plan.from_version}",
            ", ".join(k.node_id for k in r.kept),
            ", ".join(a.node_id for a in r.again),
            r.problem or "",
        )
    console.print(table)
    console.print(f"{plan.moving} move, {plan.staying} stay" + ("" if plan.ok else " — refused"))


async def _follow_move(engine: Any, move_id: int, work: Any) -> None:
    """Run the pass with a progress bar over its row."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress
    from sqlmodel import Session

    from db.crud import version_moves as moves_crud

    task = asyncio.create_task(work)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("Moving", total=None)
        while True:
            with Session(engine) as session:
                row = moves_crud.get_move(session=session, move_id=move_id)
            if row is not None:
                progress.update(bar, total=row.total, completed=row.moved + row.skipped)
            if task.done():
                break
            await asyncio.sleep(0.5)
    row = await task
    console.print(f"Move {move_id} {row.status}: {row.moved} moved, {row.skipped} had ended")


# ------------------------------------------------------------------ backtest (services.backtest)


def _days(text: str) -> int:
    """``30d`` / ``30`` → 30."""
    raw = text.strip().lower().removesuffix("d")
    if not raw.isdigit():
        raise typer.BadParameter(
            f"{text!r}: write a number of days, e.g. 30d", param_hint="--since"
        )
    return int(raw)


@app.command()
def backtest(
    journey_id: str,
    draft: bool = typer.Option(True, "--draft/--no-draft", help="Backtest the draft."),
    version: int = typer.Option(0, min=0, help="Backtest this version instead of the draft."),
    since: str = typer.Option(
        "30d", help="Customers who entered the live version since, e.g. 30d."
    ),
    baseline: int = typer.Option(
        0, min=0, help="Compare with this version (default: the live one)."
    ),
    workers: int = typer.Option(2, min=0, max=64, help="Worker processes (0: this process)."),
) -> None:
    """What-if backtest: the draft (or --version) against the live version on the customers
    who entered it, with a progress bar; prints the report side by side."""
    import threading

    from rich.progress import BarColumn, MofNCompleteColumn, Progress
    from rich.table import Table
    from sqlmodel import Session

    from db import make_engine
    from db.crud import backtests as backtest_crud
    from db.session import writer
    from services import backtest as service

    settings = get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    req = service.BacktestRequest(
        candidate=version if version or not draft else "draft",
        baseline=baseline or None,
        since_days=_days(since),
    )
    with Session(writer(engine)) as session:
        try:
            row = service.prepare(
                session=session,
                journey_id=journey_id,
                req=req,
                by="cli",
                timezone=settings.timezone,
            )
        except service.BacktestInputError as exc:
            console.print(f"[red]{exc.field}: {exc.message}[/red]")
            raise typer.Exit(2) from exc
        except service.CandidateInvalidError as exc:
            console.print(f"[red]The draft has errors: {exc}[/red]")
            raise typer.Exit(2) from exc
        session.commit()
        assert row.id is not None
        backtest_id, total = row.id, row.total
    results: dict[str, Any] = {}

    def work() -> None:
        with contextlib.suppress(Exception):  # stored on the row; read below
            results.update(
                service.run_backtest(
                    engine=engine,
                    backtest_id=backtest_id,
                    timezone=settings.timezone,
                    settings=service.BacktestSettings(workers=workers),
                )
            )

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    ) as progress:
        bar = progress.add_task("Backtesting", total=total)
        while thread.is_alive():
            with Session(engine) as session:
                current = backtest_crud.get_backtest(
                    session=session, journey_id=journey_id, backtest_id=backtest_id
                )
            if current is not None:
                progress.update(bar, completed=current.done)
            thread.join(0.5)
    with Session(engine) as session:
        done = backtest_crud.get_backtest(
            session=session, journey_id=journey_id, backtest_id=backtest_id
        )
    if done is None or done.status != "done":
        console.print(f"[red]Backtest failed: {done.error if done else '?'}[/red]")
        raise typer.Exit(1)
    r = done.result
    b, c = r["baseline"], r["candidate"]
    table = Table(title=f"Backtest {backtest_id}: {done.candidate} vs v{done.baseline_version}")
    for col in ("", f"v{done.baseline_version}", done.candidate, "difference"):
        table.add_column(col, justify="right")
    rows = [
        ("customers", r["customers"], r["customers"]),
        ("coupons", b["coupons"], c["coupons"]),
        ("coupon value", b["coupon_value"], c["coupon_value"]),
        ("messages", sum(b["messages"].values()), sum(c["messages"].values())),
        ("guide tasks", sum(b["tasks"].values()), sum(c["tasks"].values())),
        (
            "guide-days over capacity",
            r["over_capacity"]["baseline"],
            r["over_capacity"]["candidate"],
        ),
        ("conversions", b["conversions"], c["conversions"]),
        ("revenue", b["revenue"], c["revenue"]),
        ("waiting past history", b["beyond_history"], c["beyond_history"]),
    ]
    for name, bv, cv in rows:
        table.add_row(name, f"{bv:,}", f"{cv:,}", f"{cv - bv:+,}")
    console.print(table)
    ports = Table(title="customers per step and port")
    for col in ("step", "port", f"v{done.baseline_version}", done.candidate, "difference"):
        ports.add_column(col)
    for n in r["nodes"]:
        ports.add_row(
            n["label"],
            n["port"],
            str(n["baseline"]),
            str(n["candidate"]),
            f"{n['candidate'] - n['baseline']:+}",
        )
    console.print(ports)
    console.print(f"Page: /journeys/{journey_id}/backtest/{backtest_id}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

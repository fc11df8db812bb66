"""Web load: 50 simulated users and a stream of customer events against a live install.

    python -m bench.web_load [--seconds 60] [--users 50] [--events-per-s 20] [--calibrate-s 10]
                             [--customers 2000] [--database sqlite|postgresql] [--keep]

Starts the whole stack as real processes on free loopback ports (:mod:`bench._live`: the
Temporal dev server with a file DB, the journey worker, the web app under uvicorn; a
migrated temp database with a small demo chain), publishes two journeys and enters
customers into them:

* **wait**: manual entry → ``wait_for_event`` (purchase, 3 days) → matched: a WeCom thank-you
  (``send_message``) → exit;
* **tasks**: manual entry → a guide task (call; interested / not_reached / declined) →
  a coupon, a WeCom message or the exit; ``--tasks-per-guide`` (25) of each bench guide's
  customers enter, so every guide has a workbench to work through.

Then, for ``--seconds``, every user signs in once (its own session, as its own account) and
loops with a think time of 0.5–1.5 s between requests:

* guides (half the users): the workbench, a task now and then, a customer card, and the
  outcome of a call on one of their tasks (which moves the customer's journey on);
* store managers (a fifth): the task dashboard, 一键催办 of their store, the open-task list;
* marketers (the rest): the journey list, their own draft (open, save, validate; every
  third round publish it, a manual-entry journey), the editor page.

Beside them ``--events-per-s`` purchase events are posted to ``/api/events`` (the events
key), one new event per customer waiting in **wait**, a tenth of them sent again with the
same ``event_id``. After the run the bench waits (up to 120 s) for the thank-you messages.

Last lines (``key=value``): ``requests`` (user requests), ``errors_5xx`` (user requests and
event posts, target 0; ``errors_503`` of them: Temporal unavailable or timing out),
``errors_4xx``, ``errors_transport`` (timeouts, refused connections), ``p50_ms`` /
``p99_ms`` (user requests, target p99 < 1000), the p99 of each user kind, ``events``
(posts), ``event_post_p99_ms``, ``event_missing`` (new events to a waiting customer whose
thank-you never came), ``duplicates`` (customers thanked twice) and ``event_p99_ms``: event
POST → the ``matched`` branch's message row (its ``created_at`` in the outbox, i.e. the
activity ran), target < 500, and ``machine_cpu_share``: the machine's CPU time while the users
ran over what its cores could give (near 1: saturated, the latencies are mostly waiting for
a core). Lines starting with ``#`` say what happened (failures by kind).

Before the users start, ``--calibrate-s`` (10) seconds of the same event stream alone (new
events only) measure what one event costs the install:

* ``event_cpu_ms``: CPU of the Temporal server, the worker and the web app per thanked event,
  from the POST to its thank-you, less what they use idle (a PostgreSQL cluster's own
  processes are not counted);
* ``event_core_share``: the share of the machine's cores ``--events-per-s`` of them take
  before any user request (near 1: the events alone saturate it, and no user latency target
  can hold);
* ``events_alone_p99_ms``: their POST → thank-you p99 with no user on the install.

Their posts count in the error and ``event_missing`` figures like the load's. ``--events-per-s
0`` runs the users alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import math
import os
import random
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import Session, col, select

from bench._documents import wait_for_purchase
from bench._live import LiveStack, live_stack
from db import crud
from db.models import Customer, GuideTask, JourneyRun, JourneyVersion, OutboxMessage
from services.accounts import DEMO_PASSWORD, create_user
from services.enrollment import enter

WAIT = wait_for_purchase()
OUTCOMES = ("interested", "not_reached", "declined")
TASKS: dict[str, Any] = {
    "name": "bench: guide call",
    "nodes": [
        {"id": "entry", "kind": "entry"},
        {
            "id": "call",
            "kind": "assign_guide_task",
            "config": {
                "task_type": "call",
                "title": "邀约到店看新品",
                "instructions": "{{ customer.name }}：请电话邀请本周到店看新品。",
                "due_in": {"amount": 24, "unit": "hours"},
                "outcomes": list(OUTCOMES),
            },
        },
        {"id": "gift", "kind": "send_coupon", "config": {"coupon_template_id": "MEMBERDAY15"}},
        {
            "id": "wecom",
            "kind": "send_message",
            "config": {"channel": "wecom", "content": "{{ customer.name }}您好，新品已到店！"},
        },
        {"id": "done", "kind": "exit"},
    ],
    "edges": [
        {"id": "e1", "source": "entry", "target": "call"},
        {"id": "e2", "source": "call", "source_port": "interested", "target": "gift"},
        {"id": "e3", "source": "call", "source_port": "not_reached", "target": "wecom"},
        {"id": "e4", "source": "call", "source_port": "declined", "target": "done"},
        {"id": "e5", "source": "call", "source_port": "expired", "target": "done"},
        {"id": "e6", "source": "gift", "target": "done"},
        {"id": "e7", "source": "wecom", "target": "done"},
    ],
}
#: a marketer's own draft: entry → message → exit; each save changes the message
DRAFT: dict[str, Any] = {
    "schema_version": 1,
    "name": "bench draft",
    "nodes": [
        {"id": "entry", "kind": "entry", "position": {"x": 40, "y": 100}},
        {
            "id": "hello",
            "kind": "send_message",
            "config": {"channel": "sms", "content": "{{ customer.name }}您好"},
            "position": {"x": 300, "y": 100},
        },
        {"id": "bye", "kind": "exit", "position": {"x": 560, "y": 100}},
    ],
    "edges": [
        {"id": "e1", "source": "entry", "target": "hello"},
        {"id": "e2", "source": "hello", "target": "bye"},
    ],
}
THINK_S = (0.5, 1.5)
CORES = os.cpu_count() or 1
REPEAT_SHARE = 0.1
#: longer than two of SQLite's 30 s busy waits: a request the app answers late (a 500 after
#: waiting on the database) is counted as the 5xx it is, not as a timeout
TIMEOUT_S = 65.0
DRAIN_S = 120.0
SETUP_TIMEOUT_S = 600.0
#: ids and numbers that make two reports of one failure look different
VARYING = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|\b[A-Z]?\d{3,}\b")
TASK_LINK = re.compile(r"/workbench/tasks/([A-Za-z0-9_.-]+)/contact")
CUSTOMER_LINK = re.compile(r"/workbench/customers/([A-Za-z0-9_-]+)")


# ----------------------------------------------------------------------------- recording


@dataclass
class Sample:
    kind: str
    status: int  # 0: no response (timeout, refused)
    ms: float


@dataclass
class Recorder:
    samples: list[Sample] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)

    async def call(self, kind: str, request: Awaitable[httpx.Response]) -> httpx.Response | None:
        """Time one request (it starts when awaited here); a 4xx, a 5xx or no response is
        remembered by kind."""
        started = time.perf_counter()
        try:
            response = await request
        except httpx.TransportError as exc:
            self.samples.append(Sample(kind, 0, (time.perf_counter() - started) * 1000))
            self.failures[f"{kind}: {type(exc).__name__}"] += 1
            return None
        self.samples.append(
            Sample(kind, response.status_code, (time.perf_counter() - started) * 1000)
        )
        if response.status_code >= 400:
            text = VARYING.sub("…", response.text)[:200]
            self.failures[f"{kind}: {response.status_code} {text!r}"] += 1
        elif kind == "event" and response.status_code < 300:
            # stored, but its delivery failed: the reconciler delivers it later (back-off)
            answer = response.json()
            if isinstance(answer, dict) and answer.get("pending"):
                why = VARYING.sub("…", str(answer.get("error", "")))[:160]
                self.failures[f"event: delivered later ({why})"] += 1
        return response


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


# ----------------------------------------------------------------------------- setup


@dataclass
class Account:
    username: str
    role: str  # guide | store_manager | hq
    guide_id: str | None = None
    store_id: str | None = None


@dataclass
class Plan:
    accounts: list[Account]  # one per simulated user (an account may serve several)
    task_customers: list[str]
    wait_customers: list[str]


def plan_users(stack: LiveStack, users: int, tasks_per_guide: int, waiting: int) -> Plan:
    """Bench accounts in the database (demo password): half guides, a fifth managers, the
    rest HQ marketers; the guides' customers for the task journey, others for the wait."""
    n_guides = users // 2
    n_managers = users // 5
    n_marketers = users - n_guides - n_managers
    accounts: list[Account] = []
    with stack.session() as session:
        guides = [
            g for g in crud.list_guides(session=session, active_only=True) if g.role == "guide"
        ]
        stores = crud.list_stores(session=session)
        managers = [crud.get_store_manager(session=session, store_id=s.id) for s in stores]
        guide_accounts = [
            _account(session, f"bench-{g.id.lower()}", "guide", g.id, g.store_id)
            for g in guides[: max(1, n_guides)]
        ]
        manager_accounts = [
            _account(session, f"bench-{m.id.lower()}", "store_manager", m.id, m.store_id)
            for m in managers[: max(1, n_managers)]
            if m is not None
        ]
        marketer_accounts = [
            _account(session, f"bench-hq{i}", "hq", None, None) for i in range(n_marketers)
        ]
        accounts += [guide_accounts[i % len(guide_accounts)] for i in range(n_guides)]
        accounts += [manager_accounts[i % len(manager_accounts)] for i in range(n_managers)]
        accounts += marketer_accounts
        task_customers: list[str] = []
        for account in guide_accounts:
            mine = session.exec(
                select(Customer.id)
                .where(Customer.guide_id == account.guide_id)
                .order_by(col(Customer.id))
                .limit(tasks_per_guide)
            ).all()
            task_customers += mine
        taken = set(task_customers)
        # the thank-you goes out on WeCom: not to those who opted out of it
        others = [
            c.id
            for c in session.exec(select(Customer).order_by(col(Customer.id)))
            if c.id not in taken and "wecom" not in c.opted_out_channels
        ]
    random.Random(7).shuffle(others)
    return Plan(accounts, task_customers, others[:waiting])


def _account(
    session: Session, username: str, role: str, guide_id: str | None, store_id: str | None
) -> Account:
    create_user(
        session=session,
        username=username,
        password=DEMO_PASSWORD,
        role=role,
        display_name=username,
        guide_id=guide_id,
        store_id=store_id,
    )
    return Account(username, role, guide_id, store_id)


async def enroll(stack: LiveStack, version: JourneyVersion, customers: list[str]) -> None:
    """Enter ``customers`` (16 starts in flight), as the enroll API does."""
    client = await stack.client()
    gate = asyncio.Semaphore(16)

    async def one(customer_id: str) -> None:
        async with gate:
            with stack.session() as session:  # a writer: it reads, then claims the run
                outcome = await enter(
                    session=session,
                    client=client,
                    task_queue=stack.settings.task_queue,
                    version=version,
                    customer_id=customer_id,
                )
            if not outcome.started:
                raise RuntimeError(f"{customer_id} did not enter: {outcome.reason}")

    await asyncio.gather(*(one(c) for c in customers))


async def wait_for(
    stack: LiveStack, what: str, count: Callable[[Session], int], want: int, timeout: float
) -> None:
    """Poll the database until ``count`` reaches ``want`` (workers are checked alive)."""
    deadline = time.monotonic() + timeout
    while True:
        with Session(stack.engine) as session:
            have = count(session)
        if have >= want:
            return
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: {have} of {want} after {timeout:.0f}s")
        await asyncio.sleep(0.5)


def parked(journey_id: str, node: str) -> Callable[[Session], int]:
    def count(session: Session) -> int:
        stmt = select(func.count()).where(
            JourneyRun.journey_id == journey_id,
            JourneyRun.status == "running",
            JourneyRun.current_node == node,
        )
        return int(session.exec(stmt).one())

    return count


def tasks_created(journey_id: str) -> Callable[[Session], int]:
    def count(session: Session) -> int:
        stmt = select(func.count()).where(GuideTask.journey_id == journey_id)
        return int(session.exec(stmt).one())

    return count


# ----------------------------------------------------------------------------- users


async def login(http: httpx.AsyncClient, username: str) -> None:
    """Sign in through the form (CSRF cookie first); later writes send the CSRF header."""
    await http.get("/login")
    csrf = http.cookies.get("journeys_csrf")
    if not csrf:
        raise RuntimeError("no CSRF cookie from /login")
    http.headers["X-CSRF-Token"] = csrf
    response = await http.post(
        "/login",
        data={"username": username, "password": DEMO_PASSWORD},
        headers={"Accept": "application/json"},
    )
    if response.status_code != 303:
        raise RuntimeError(f"login of {username}: {response.status_code} {response.text[:200]}")


async def think(rng: random.Random) -> None:
    await asyncio.sleep(rng.uniform(*THINK_S))


HX = {"HX-Request": "true"}


async def guide(http: httpx.AsyncClient, rec: Recorder, end: float, rng: random.Random) -> None:
    while time.monotonic() < end:
        page = await rec.call("guide.workbench", http.get("/workbench"))
        await think(rng)
        ids = TASK_LINK.findall(page.text) if page is not None else []
        if page is None or not ids:
            continue
        task_id = rng.choice(ids[:5])
        if rng.random() < 0.3:
            await rec.call("guide.task", http.get(f"/workbench/tasks/{task_id}"))
            await think(rng)
        if rng.random() < 0.2:
            customers = CUSTOMER_LINK.findall(page.text)
            if customers:
                cid = rng.choice(customers)
                await rec.call("guide.customer", http.get(f"/workbench/customers/{cid}"))
                await think(rng)
        result = rng.choices(OUTCOMES, weights=(2, 1, 1))[0]
        await rec.call(
            "guide.outcome",
            http.post(
                f"/workbench/tasks/{task_id}/contact",
                data={"result": result, "channel": "call", "note": "bench"},
                headers=HX,
            ),
        )
        await think(rng)


async def manager(
    http: httpx.AsyncClient, rec: Recorder, end: float, rng: random.Random, account: Account
) -> None:
    while time.monotonic() < end:
        await rec.call("manager.dashboard", http.get("/tasks"))
        await think(rng)
        if rng.random() < 0.4 and account.store_id:
            store = account.store_id
            await rec.call(
                "manager.chase",
                http.post("/tasks/chase", data={"scope": "store", "scope_id": store}, headers=HX),
            )
            await think(rng)
        if rng.random() < 0.5:
            await rec.call("manager.tasks", http.get("/api/tasks", params={"status": "open"}))
            await think(rng)


async def marketer(
    http: httpx.AsyncClient, rec: Recorder, end: float, rng: random.Random, n: int
) -> None:
    document = copy.deepcopy(DRAFT)
    document["name"] = f"bench draft {n}"
    created = await rec.call(
        "marketer.create",
        http.post("/api/journeys", json={"name": document["name"], "document": document}),
    )
    if created is None or created.status_code != 201:
        return
    journey_id = created.json()["id"]
    round_ = 0
    while time.monotonic() < end:
        round_ += 1
        if rng.random() < 0.3:
            await rec.call("marketer.list", http.get("/journeys"))
            await think(rng)
        if rng.random() < 0.2:
            await rec.call("marketer.editor", http.get(f"/journeys/{journey_id}/edit"))
            await think(rng)
        await rec.call("marketer.open", http.get(f"/api/journeys/{journey_id}"))
        await think(rng)
        document["nodes"][1]["config"]["content"] = f"{{{{ customer.name }}}}您好 · 第{round_}版"
        await rec.call("marketer.save", http.put(f"/api/journeys/{journey_id}", json=document))
        await think(rng)
        await rec.call("marketer.validate", http.post(f"/api/journeys/{journey_id}/validate"))
        await think(rng)
        if round_ % 3 == 0:
            await rec.call("marketer.publish", http.post(f"/api/journeys/{journey_id}/publish"))
            await think(rng)


# ----------------------------------------------------------------------------- events


@dataclass
class EventStream:
    pool: list[str]
    posted_at: dict[str, datetime] = field(default_factory=dict)  # customer → first POST
    sent: list[dict[str, Any]] = field(default_factory=list)
    repeats: int = 0


async def events(
    http: httpx.AsyncClient,
    rec: Recorder,
    end: float,
    rate: float,
    stream: EventStream,
    *,
    repeat: float = REPEAT_SHARE,
) -> None:
    """``rate`` posts a second on a fixed schedule (not waiting on answers); a ``repeat``
    share of them sends an event already sent, again, and so do all once the pool of
    waiting customers is used up (with ``repeat`` 0 the stream then stops)."""
    if rate <= 0:
        return
    rng = random.Random(11)
    in_flight: set[asyncio.Task[Any]] = set()
    started = time.monotonic()
    i = 0
    while True:
        due = started + i / rate
        if due >= end:
            break
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        i += 1
        if stream.sent and (rng.random() < repeat or (not stream.pool and repeat > 0)):
            body = rng.choice(stream.sent)
            stream.repeats += 1
        elif stream.pool:
            customer = stream.pool.pop()
            body = {
                "event_id": f"web-load-{uuid.uuid4()}",
                "customer_id": customer,
                "type": "purchase",
                "properties": {"amount": 299, "store_id": "S01"},
                "occurred_at": datetime.now(UTC).isoformat(),
            }
            stream.sent.append(body)
            stream.posted_at[customer] = datetime.now(UTC)
        else:
            continue
        task = asyncio.create_task(rec.call("event", http.post("/api/events", json=body)))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.gather(*in_flight)


def thanked(session: Session, journey_id: str) -> list[tuple[str, datetime]]:
    """(customer, created_at) of every thank-you message of the wait journey."""
    stmt = select(OutboxMessage.customer_id, OutboxMessage.created_at).where(
        OutboxMessage.journey_id == journey_id, OutboxMessage.node_id == "thanks"
    )
    return [(c, at if at.tzinfo else at.replace(tzinfo=UTC)) for c, at in session.exec(stmt)]


# ----------------------------------------------------------------------------- calibration

#: the processes of the install an event goes through (not the bench, not the whole machine;
#: not a PostgreSQL cluster's either: on ``--database postgresql`` its share is left out)
INSTALL = ("server", "worker", "activities", "web")
SETTLE_S = 3.0
IDLE_S = 5.0


def calibration_size(args: argparse.Namespace) -> int:
    """Waiting customers the calibration's events take (one new event each)."""
    return max(0, math.ceil(args.events_per_s * args.calibrate_s)) if args.calibrate_s > 0 else 0


@dataclass
class Calibration:
    """The event stream alone: its events (their thank-yous are checked with the load's),
    its posts' answers, and the figures it printed."""

    stream: EventStream
    rec: Recorder
    figures: dict[str, Any]

    def count_in(self, figures: dict[str, Any], thanked_customers: set[str]) -> None:
        """Add its posts' errors and missing thank-yous to the load's ``figures``, and its
        own figures."""
        posts = self.rec.samples
        figures["errors_5xx"] += sum(1 for p in posts if p.status >= 500)
        figures["errors_503"] += sum(1 for p in posts if p.status == 503)
        figures["errors_transport"] += sum(1 for p in posts if p.status == 0)
        figures["event_errors_4xx"] += sum(1 for p in posts if 400 <= p.status < 500)
        figures["event_missing"] += len(set(self.stream.posted_at) - thanked_customers)
        figures |= self.figures


async def calibrate(
    stack: LiveStack,
    http: httpx.AsyncClient,
    journey_id: str,
    args: argparse.Namespace,
    customers: list[str],
) -> Calibration:
    """The event stream alone for ``args.calibrate_s``: each process's CPU per thanked
    event, from its POST to its thank-you, less what the process uses idle (measured first,
    after the setup's work has settled)."""
    await asyncio.sleep(SETTLE_S)
    before = stack.cpu_seconds()
    await asyncio.sleep(IDLE_S)
    after = stack.cpu_seconds()
    idle = {k: (after[k] - before.get(k, 0.0)) / IDLE_S for k in after}
    # new events only, each to its own waiting customer: one event's whole path each
    stream = EventStream(pool=list(customers))
    rec = Recorder()
    before = stack.cpu_seconds()
    started = time.monotonic()
    await events(http, rec, started + args.calibrate_s, args.events_per_s, stream, repeat=0.0)
    deadline = time.monotonic() + DRAIN_S
    while True:
        with Session(stack.engine) as session:
            done = first_thanks(thanked(session, journey_id), stream.posted_at)
        if len(done) == len(stream.posted_at) or time.monotonic() > deadline:
            break
        stack.check_alive()
        await asyncio.sleep(0.2)
    elapsed = time.monotonic() - started
    after = stack.cpu_seconds()
    n = max(1, len(done))
    per_event = {
        k: (after[k] - before.get(k, 0.0) - idle.get(k, 0.0) * elapsed) * 1000 / n
        for k in INSTALL
        if k in after
    }
    total = sum(per_event.values())
    print(
        f"# the event stream alone ({len(stream.posted_at)} events at {args.events_per_s:g}/s, "
        f"{len(done)} thanked): CPU ms per event "
        + ", ".join(f"{k} {v:.1f}" for k, v in per_event.items())
        + " (idle: "
        + ", ".join(f"{k} {idle.get(k, 0.0) * 1000:.0f}" for k in per_event)
        + f" ms/s); {args.events_per_s:g} events/s take {total * args.events_per_s / 1000:.2f} "
        f"of the machine's {CORES} cores before any user request",
        flush=True,
    )
    for failure, count in rec.failures.most_common(5):
        print(f"# calibration: {count} × {failure}")
    latencies = [(at - stream.posted_at[c]).total_seconds() * 1000 for c, at in done.items()]
    figures = {
        "event_cpu_ms": round(total, 1),
        "event_core_share": round(total * args.events_per_s / 1000 / CORES, 2),
        # the same events' latency with no user on the install
        "events_alone_p99_ms": round(percentile(latencies, 0.99)),
    }
    return Calibration(stream, rec, figures)


def first_thanks(
    rows: list[tuple[str, datetime]], posted_at: dict[str, datetime]
) -> dict[str, datetime]:
    """The first thank-you of each customer in ``posted_at``."""
    first: dict[str, datetime] = {}
    for customer, at in rows:
        if customer in posted_at:
            first[customer] = min(at, first.get(customer, at))
    return first


# ----------------------------------------------------------------------------- main


async def run(args: argparse.Namespace) -> dict[str, Any]:
    calibrating = calibration_size(args)
    wanted_events = (
        math.ceil(args.events_per_s * args.seconds * (1 - REPEAT_SHARE)) + 20 + calibrating
    )
    with live_stack(customers=args.customers, database=args.database, keep=args.keep) as stack:
        plan = plan_users(stack, args.users, args.tasks_per_guide, wanted_events)
        wait_version = stack.publish(WAIT)
        task_version = stack.publish(TASKS)
        t0 = time.perf_counter()
        await enroll(stack, task_version, plan.task_customers)
        await enroll(stack, wait_version, plan.wait_customers)
        await wait_for(
            stack,
            "guide tasks created",
            tasks_created(task_version.journey_id),
            len(plan.task_customers),
            SETUP_TIMEOUT_S,
        )
        await wait_for(
            stack,
            "customers waiting for a purchase",
            parked(wait_version.journey_id, "wfe"),
            len(plan.wait_customers),
            SETUP_TIMEOUT_S,
        )
        print(
            f"# {len(plan.task_customers)} guide tasks, {len(plan.wait_customers)} customers "
            f"waiting, after {time.perf_counter() - t0:.0f}s",
            flush=True,
        )
        rec = Recorder()
        logins = Recorder()
        clients = [
            httpx.AsyncClient(base_url=stack.base_url, timeout=TIMEOUT_S, follow_redirects=False)
            for _ in plan.accounts
        ]
        machine = httpx.AsyncClient(
            base_url=stack.base_url,
            timeout=TIMEOUT_S,
            headers={"X-API-Key": stack.events_key},
            # the producers do not wait on each other: a connection for every post in flight
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=50),
        )
        try:
            # a few sign-ins at a time: a burst from one address would look like guessing
            gate = asyncio.Semaphore(4)

            async def sign_in(http: httpx.AsyncClient, account: Account) -> None:
                async with gate:
                    started = time.perf_counter()
                    await login(http, account.username)
                    logins.samples.append(
                        Sample("login", 303, (time.perf_counter() - started) * 1000)
                    )

            await asyncio.gather(
                *(sign_in(h, a) for h, a in zip(clients, plan.accounts, strict=True))
            )
            pool = list(plan.wait_customers)
            calibration = None
            if calibrating > 0:
                calibration = await calibrate(
                    stack, machine, wait_version.journey_id, args, pool[:calibrating]
                )
                del pool[:calibrating]
            stream = EventStream(pool=pool)
            end = time.monotonic() + args.seconds
            loops: list[Awaitable[None]] = [events(machine, rec, end, args.events_per_s, stream)]
            marketers = 0
            for i, (http, account) in enumerate(zip(clients, plan.accounts, strict=True)):
                rng = random.Random(i)
                if account.role == "guide":
                    loops.append(guide(http, rec, end, rng))
                elif account.role == "store_manager":
                    loops.append(manager(http, rec, end, rng, account))
                else:
                    marketers += 1
                    loops.append(marketer(http, rec, end, rng, marketers))
            cpu_before = stack.cpu_seconds()
            load_started = time.monotonic()
            await asyncio.gather(*loops)
            load_s = time.monotonic() - load_started
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in stack.cpu_seconds().items()}
            stack.check_alive()
        finally:
            for http in [*clients, machine]:
                await http.aclose()
        # the last events are still on their way: wait for their messages
        expected = set(stream.posted_at)
        if calibration is not None:
            expected |= set(calibration.stream.posted_at)
        deadline = time.monotonic() + DRAIN_S
        while True:
            with Session(stack.engine) as session:
                rows = thanked(session, wait_version.journey_id)
            if {c for c, _ in rows} >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    print(
        f"# CPU seconds during the {args.seconds:.0f} s of load: "
        + ", ".join(f"{role} {seconds:.1f}" for role, seconds in sorted(cpu.items()))
    )
    figures = _figures(rec, logins, stream, rows)
    # how busy the machine was while the users ran (1.0: every core all the time): near 1
    # the latencies are queueing for a CPU, and small changes in its speed move them a lot
    figures["machine_cpu_share"] = round(cpu.get("machine", 0.0) / (load_s * CORES), 2)
    if calibration is not None:
        # its events count as the load's do: one thank-you each, no error
        calibration.count_in(figures, {c for c, _ in rows})
    return figures


def _figures(
    rec: Recorder, logins: Recorder, stream: EventStream, rows: list[tuple[str, datetime]]
) -> dict[str, Any]:
    users = [s for s in rec.samples if s.kind != "event"]
    posts = [s for s in rec.samples if s.kind == "event"]
    first = first_thanks(rows, stream.posted_at)
    per_customer = Counter(customer for customer, _ in rows)
    latencies = [(at - stream.posted_at[c]).total_seconds() * 1000 for c, at in first.items()]
    figures: dict[str, Any] = {
        "users_signed_in": len(logins.samples),
        "login_p99_ms": round(percentile([s.ms for s in logins.samples], 0.99)),
        "requests": len(users),
        "errors_5xx": sum(1 for s in rec.samples if s.status >= 500),
        "errors_503": sum(1 for s in rec.samples if s.status == 503),
        "errors_4xx": sum(1 for s in users if 400 <= s.status < 500),
        "errors_transport": sum(1 for s in rec.samples if s.status == 0),
        "p50_ms": round(percentile([s.ms for s in users], 0.5)),
    }
    for kind in sorted({s.kind.split(".")[0] for s in users}):
        figures[f"p99_ms_{kind}"] = round(
            percentile([s.ms for s in users if s.kind.startswith(kind + ".")], 0.99)
        )
    figures["p99_ms"] = round(percentile([s.ms for s in users], 0.99))
    figures |= {
        "events": len(posts),
        "events_repeated": stream.repeats,
        "event_errors_4xx": sum(1 for s in posts if 400 <= s.status < 500),
        "event_post_p99_ms": round(percentile([s.ms for s in posts], 0.99)),
        "event_missing": len(set(stream.posted_at) - set(first)),
        "duplicates": sum(n - 1 for n in per_customer.values() if n > 1),
        "event_p50_ms": round(percentile(latencies, 0.5)),
        "event_p99_ms": round(percentile(latencies, 0.99)),
    }
    kinds = Counter(s.kind for s in rec.samples)
    print("# requests by kind: " + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))
    print(
        "# p50 / p99 ms by kind: "
        + ", ".join(
            f"{k} {percentile(ms, 0.5):.0f} / {percentile(ms, 0.99):.0f}"
            for k in sorted(kinds)
            for ms in [[s.ms for s in rec.samples if s.kind == k]]
        )
    )
    if rec.failures:
        for failure, n in rec.failures.most_common(15):
            print(f"# {n} × {failure}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--events-per-s", type=float, default=20)
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--tasks-per-guide", type=int, default=25)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--calibrate-s",
        type=float,
        default=10,
        help="seconds of the event stream alone first, to measure an event's CPU (0: skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and logs")
    args = parser.parse_args()
    started = time.perf_counter()
    figures = asyncio.run(run(args))
    figures["elapsed_s"] = round(time.perf_counter() - started)
    for key, value in figures.items():
        print(f"{key}={value}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

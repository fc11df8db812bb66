"""Faults: crash every process of a live install under load; count what got lost or doubled.

    python -m bench.faults [--customers 1000] [--waiting 100] [--worker-kills 4]
                           [--web-kills 2] [--server-kills 1] [--producers 8]
                           [--database sqlite|postgresql] [--keep]

A live install (:mod:`bench._live`: dev server with a file DB, journey worker, web app, each
its own process; the reconciler every 2 s) runs two journeys, both entered by events posted
over HTTP to ``/api/events`` by ``--producers`` concurrent producers that retry on
connection errors and 5xx and, on a 503, wait what ``Retry-After`` says (up to
``--retry-after-cap`` seconds) before sending the same event again:

* **chain**: ``member_signup`` → ``send_coupon`` (SEASON40) → ``send_message`` → exit, for
  ``--customers`` customers;
* **wait**: ``store_visit`` → ``wait_for_event`` (purchase, 3 days) → matched: a message →
  exit, for ``--waiting`` customers.

The order of events:

1. the waiting customers enter **wait** and park at the wait;
2. the chain's signups are posted; meanwhile the worker is SIGKILLed ``--worker-kills``
   times (spread over the coupons issued) and the web app ``--web-kills`` times (spread over
   the signups answered, with requests in flight), each started again a second later;
3. with the waiting customers still waiting, the Temporal dev server is SIGKILLed
   ``--server-kills`` times; during each outage half of their purchases are posted (503
   while Temporal is away: stored, and sent again after Retry-After), then the server is
   started again on the same DB file and the other purchases follow;
4. the bench waits (up to ``--settle-s``) until the database says everyone is through and
   nothing is pending, then counts.

Counted from the database at the end: ``lost`` = customers with something missing: an
event delivery still pending, a run not finished (no run, or still running), or the coupon /
message they should have (target 0); ``duplicates`` = coupons or messages beyond one per
customer, journey and node, plus runs beyond one per customer and journey (re-entry is
"never"; target 0); ``stock_drift`` = the template's issued count minus its coupons. Also:
``worker_kills``, ``web_kills``, ``server_kills``, ``in_flight_at_web_kill``,
``unplanned_exits`` (children that exited on their own and were started again, as a
supervisor would: a worker started while Temporal is down gives up), the producers'
``posts``, ``retries``, ``responses_503``, ``errors_5xx`` (other 5xx), ``rejected`` (4xx),
``elapsed_s``.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from sqlalchemy import func
from sqlmodel import Session, col, select

from bench._documents import wait_for_purchase
from bench._live import Database, LiveStack, Role, live_stack
from db.models import (
    CouponTemplate,
    Customer,
    EventDelivery,
    IssuedCoupon,
    JourneyRun,
    OutboxMessage,
)

T = TypeVar("T")

TEMPLATE = "SEASON40"
CHAIN: dict[str, Any] = {
    "name": "faults: signup coupon chain",
    "nodes": [
        {
            "id": "entry",
            "kind": "entry",
            "config": {"trigger": {"type": "event", "event_type": "member_signup"}},
        },
        {"id": "coupon", "kind": "send_coupon", "config": {"coupon_template_id": TEMPLATE}},
        {
            "id": "welcome",
            "kind": "send_message",
            "config": {"channel": "sms", "content": "{{ customer.name }}，欢迎入会！券已到账。"},
        },
        {"id": "done", "kind": "exit"},
    ],
    "edges": [
        {"id": "e1", "source": "entry", "target": "coupon"},
        {"id": "e2", "source": "coupon", "target": "welcome"},
        {"id": "e3", "source": "welcome", "target": "done"},
    ],
}
WAIT = wait_for_purchase(name="faults: visit then purchase", entry_event="store_visit")
#: the chain's node and the wait's node whose side effects each customer must have once
EFFECTS = {"chain": ("coupon", "welcome"), "wait": ("thanks",)}
#: the channels of the journeys' messages
CHANNELS = {"sms", "wecom"}
RESTART_AFTER_S = 1.0
STARTS: dict[Role, Callable[[LiveStack], None]] = {
    "server": LiveStack.start_server,
    "worker": LiveStack.start_worker,
    "web": LiveStack.start_web,
}
POLL_S = 0.2
REQUEST_TIMEOUT_S = 30.0


@dataclass
class Options:
    customers: int = 1000
    waiting: int = 100
    worker_kills: int = 4
    web_kills: int = 2
    server_kills: int = 1
    producers: int = 8
    #: longest wait on a Retry-After (the app says 30 s)
    retry_after_cap: float = 30.0
    #: seconds the server stays down in each outage (longer than the app's 10 s RPC timeout,
    #: so events posted meanwhile are answered 503 and stay pending)
    outage_s: float = 15.0
    settle_s: float = 300.0
    database: Database = "sqlite"
    keep: bool = False


# ----------------------------------------------------------------------------- producers


@dataclass
class Producers:
    """Post events over HTTP until each is accepted, as a POS or CDP would."""

    http: httpx.AsyncClient
    retry_after_cap: float
    posts: int = 0
    retries: int = 0
    responses_503: int = 0
    errors_5xx: int = 0
    rejected: int = 0
    answered: int = 0  # events accepted (2xx) so far
    in_flight: int = 0
    problems: Counter[str] = field(default_factory=Counter)

    async def send(self, event: dict[str, Any]) -> None:
        while True:
            self.posts += 1
            self.in_flight += 1
            try:
                response = await self.http.post("/api/events", json=event)
            except httpx.TransportError as exc:  # refused, reset, cut off mid-answer
                self.problems[type(exc).__name__] += 1
                self.retries += 1
                await asyncio.sleep(0.3)
                continue
            finally:
                self.in_flight -= 1
            if response.status_code < 300:
                self.answered += 1
                return
            if response.status_code == 503:  # stored; Temporal away: send again later
                self.responses_503 += 1
                self.retries += 1
                wait = float(response.headers.get("Retry-After", "1"))
                await asyncio.sleep(min(wait, self.retry_after_cap))
                continue
            self.problems[f"{response.status_code} {response.text[:200]}"] += 1
            if response.status_code >= 500:
                self.errors_5xx += 1
                self.retries += 1
                await asyncio.sleep(0.5)
                continue
            self.rejected += 1
            return

    async def send_all(self, events: list[dict[str, Any]], concurrency: int) -> None:
        queue = list(reversed(events))

        async def producer() -> None:
            while queue:
                await self.send(queue.pop())

        await asyncio.gather(*(producer() for _ in range(concurrency)))


def event(event_type: str, customer_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "event_id": f"faults-{event_type}-{uuid.uuid4()}",
        "customer_id": customer_id,
        "type": event_type,
        "properties": properties,
        "occurred_at": datetime.now(UTC).isoformat(),
    }


# ----------------------------------------------------------------------------- chaos


_T0 = time.monotonic()


def note(message: str) -> None:
    """A progress line (a comment, not a figure), with the seconds since the start."""
    print(f"# {time.monotonic() - _T0:6.1f}s {message}", flush=True)


async def blocking(fn: Callable[..., T], *args: Any) -> T:
    """Process and database calls off the loop the producers run on."""
    return await asyncio.to_thread(fn, *args)


async def restart(stack: LiveStack, role: Role) -> None:
    """SIGKILL ``role``, and start it again a second later."""
    await blocking(stack.kill, role)
    note(f"{role} killed")
    await asyncio.sleep(RESTART_AFTER_S)
    await blocking(STARTS[role], stack)
    note(f"{role} started again")


def count(stack: LiveStack, stmt: Any) -> int:
    with Session(stack.engine) as session:
        return int(session.exec(stmt).one())


async def kill_along(
    stack: LiveStack,
    role: Role,
    kills: int,
    total: int,
    progress: Callable[[], Awaitable[int]],
    timeout: float,
    on_kill: Callable[[], None] = lambda: None,
) -> None:
    """Kill ``role`` ``kills`` times, at even steps of ``progress()`` towards ``total``;
    gives up on the kills left when ``progress()`` stalls for ``timeout`` seconds."""
    for i in range(1, kills + 1):
        mark = total * i // (kills + 1)
        deadline = time.monotonic() + timeout
        while await progress() < mark:
            if time.monotonic() > deadline:
                note(f"no progress towards {mark}/{total}: {kills - i + 1} {role} kills skipped")
                return
            await asyncio.sleep(POLL_S)
        on_kill()
        await restart(stack, role)


# ----------------------------------------------------------------------------- counting


def _coupons_issued(stack: LiveStack, journey_id: str) -> Callable[[], Awaitable[int]]:
    stmt = select(func.count()).where(IssuedCoupon.journey_id == journey_id)
    return lambda: blocking(count, stack, stmt)


def _parked(stack: LiveStack, journey_id: str, node: str) -> int:
    stmt = select(func.count()).where(
        JourneyRun.journey_id == journey_id,
        JourneyRun.status == "running",
        JourneyRun.current_node == node,
    )
    return count(stack, stmt)


@dataclass
class Tally:
    pending_left: int = 0
    runs_unfinished: int = 0
    effects_missing: int = 0
    lost: int = 0
    duplicates: int = 0
    duplicate_runs: int = 0
    stock_drift: int = 0


def tally(stack: LiveStack, expected: dict[str, tuple[str, list[str], str]]) -> Tally:
    """Count from the database. ``expected``: journey role → (journey id, its customers,
    the node its finished runs end at)."""
    out = Tally()
    bad: set[tuple[str, str]] = set()
    with Session(stack.engine) as session:
        pending = set(session.exec(select(EventDelivery.customer_id).distinct()))
        out.pending_left = int(session.exec(select(func.count()).select_from(EventDelivery)).one())
        for role, (journey_id, customers, end_node) in expected.items():
            runs: dict[str, list[JourneyRun]] = {}
            for run in session.exec(select(JourneyRun).where(JourneyRun.journey_id == journey_id)):
                runs.setdefault(run.customer_id, []).append(run)
            effects: Counter[tuple[str, str]] = Counter()
            coupons = select(IssuedCoupon.customer_id, IssuedCoupon.node_id).where(
                IssuedCoupon.journey_id == journey_id
            )
            messages = select(OutboxMessage.customer_id, OutboxMessage.node_id).where(
                OutboxMessage.journey_id == journey_id
            )
            effects.update((c, n or "") for c, n in session.exec(coupons))
            effects.update((c, n or "") for c, n in session.exec(messages))
            for customer in customers:
                mine = runs.get(customer, [])
                finished = any(r.status == "exited" and r.current_node == end_node for r in mine)
                if not finished:
                    out.runs_unfinished += 1
                missing = [n for n in EFFECTS[role] if effects[(customer, n)] == 0]
                out.effects_missing += len(missing)
                if customer in pending or not finished or missing:
                    bad.add((role, customer))
                out.duplicate_runs += max(0, len(mine) - 1)
            out.duplicates += sum(n - 1 for n in effects.values() if n > 1)
        out.duplicates += out.duplicate_runs
        out.lost = len(bad) + len(pending - {c for _, c in bad})
        template = session.get(CouponTemplate, TEMPLATE)
        issued = session.exec(
            select(func.count()).where(IssuedCoupon.template_id == TEMPLATE)
        ).one()
        out.stock_drift = (template.issued_count if template else 0) - int(issued)
    return out


def settled(stack: LiveStack, expected: dict[str, tuple[str, list[str], str]]) -> bool:
    """Everyone through, nothing pending (cheap counts, polled)."""
    stmts = [select(func.count()).select_from(EventDelivery)]
    with Session(stack.engine) as session:
        if int(session.exec(stmts[0]).one()):
            return False
        for journey_id, customers, end_node in expected.values():
            done = session.exec(
                select(func.count()).where(
                    JourneyRun.journey_id == journey_id,
                    JourneyRun.status == "exited",
                    JourneyRun.current_node == end_node,
                )
            ).one()
            if int(done) < len(customers):
                return False
    return True


# ----------------------------------------------------------------------------- scenario


async def run(options: Options) -> dict[str, Any]:
    """The whole scenario (see the module docstring); → the figures."""
    global _T0
    _T0 = started = time.monotonic()
    exits: Counter[str] = Counter()
    with live_stack(
        # a few customers opted out of a channel: seed enough who did not
        customers=(options.customers + options.waiting) * 11 // 10 + 10,
        database=options.database,
        reconcile_interval=2.0,
        keep=options.keep,
    ) as stack:
        with stack.session() as session:
            template = session.get(CouponTemplate, TEMPLATE)
            assert template is not None
            template.stock = max(template.stock or 0, 2 * options.customers)
            session.add(template)
            session.commit()
            # customers who opted out of a channel rightly get no message on it: not them
            ids = [
                c.id
                for c in session.exec(select(Customer).order_by(col(Customer.id)))
                if not CHANNELS & set(c.opted_out_channels)
            ]
        if len(ids) < options.customers + options.waiting:
            raise RuntimeError(f"only {len(ids)} customers take sms and wecom messages")
        chain = stack.publish(CHAIN)
        wait = stack.publish(WAIT)
        signups = ids[: options.customers]
        waiters = ids[options.customers : options.customers + options.waiting]
        expected = {
            "chain": (chain.journey_id, signups, "done"),
            "wait": (wait.journey_id, waiters, "x"),
        }
        async with httpx.AsyncClient(
            base_url=stack.base_url,
            timeout=REQUEST_TIMEOUT_S,
            headers={"X-API-Key": stack.events_key},
        ) as http:
            producers = Producers(http, options.retry_after_cap)
            # 1. the waiting customers park at the wait
            await producers.send_all([event("store_visit", c) for c in waiters], options.producers)
            await _until(
                stack,
                lambda: _parked(stack, wait.journey_id, "wfe") >= len(waiters),
                "customers parked at the wait",
                options.settle_s,
                exits,
            )
            note(f"{len(waiters)} customers waiting")
            # 2. the chain, with the worker and the web app killed along the way
            in_flight_at_kill: list[int] = []
            posting = asyncio.create_task(
                producers.send_all([event("member_signup", c) for c in signups], options.producers)
            )
            answered_before = producers.answered

            async def answered() -> int:
                return producers.answered - answered_before

            chaos = [
                kill_along(
                    stack,
                    "web",
                    options.web_kills,
                    len(signups),
                    answered,
                    options.settle_s,
                    on_kill=lambda: in_flight_at_kill.append(producers.in_flight),
                ),
                kill_along(
                    stack,
                    "worker",
                    options.worker_kills,
                    len(signups),
                    _coupons_issued(stack, chain.journey_id),
                    options.settle_s,
                ),
            ]
            await asyncio.gather(posting, *chaos)
            note(f"signups posted; kills so far: {stack.kills}")
            # 3. Temporal down with everyone still waiting; purchases during and after
            purchases = [event("purchase", c, amount=399) for c in waiters]
            per_outage = len(purchases) // (2 * max(1, options.server_kills))
            for _ in range(options.server_kills):
                await blocking(stack.kill, "server")
                note("server killed")
                during, purchases = purchases[:per_outage], purchases[per_outage:]
                sending = asyncio.create_task(producers.send_all(during, options.producers))
                await asyncio.sleep(options.outage_s)
                await blocking(stack.start_server)
                note("server started again")
                await sending
            await producers.send_all(purchases, options.producers)
            note(f"purchases posted; kills: {stack.kills}")
        # 4. let the reconciler and the workers finish, then count
        try:
            await _until(
                stack,
                lambda: settled(stack, expected),
                "everything settled",
                options.settle_s,
                exits,
            )
            note("everything settled")
        except TimeoutError as exc:
            note(str(exc))
        result = await blocking(tally, stack, expected)
        kills = dict(stack.kills)
    if producers.problems:
        for problem, n in producers.problems.most_common(10):
            print(f"# producers saw {n} × {problem}")
    return {
        "customers": options.customers,
        "waiting": options.waiting,
        "worker_kills": kills["worker"],
        "web_kills": kills["web"],
        "server_kills": kills["server"],
        "in_flight_at_web_kill": sum(in_flight_at_kill),
        "unplanned_exits": sum(exits.values()),
        "posts": producers.posts,
        "retries": producers.retries,
        "responses_503": producers.responses_503,
        "errors_5xx": producers.errors_5xx,
        "rejected": producers.rejected,
        "pending_left": result.pending_left,
        "runs_unfinished": result.runs_unfinished,
        "effects_missing": result.effects_missing,
        "duplicate_runs": result.duplicate_runs,
        "stock_drift": result.stock_drift,
        "lost": result.lost,
        "duplicates": result.duplicates,
        "elapsed_s": round(time.monotonic() - started),
    }


async def _until(
    stack: LiveStack, check: Callable[[], bool], what: str, timeout: float, exits: Counter[str]
) -> None:
    """Poll ``check`` (off the loop) until true. A child that exited on its own (not one of
    the bench's SIGKILLs) is counted in ``exits`` and started again, as a supervisor
    would."""
    deadline = time.monotonic() + timeout
    while not await blocking(check):
        for role, proc in list(stack.procs.items()):
            if proc.poll() is not None:
                note(f"the {role} exited on its own (code {proc.returncode}): restarted")
                exits[role] += 1
                stack.procs.pop(role)
                await blocking(STARTS[role], stack)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f}s")
        await asyncio.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    defaults = Options()
    for name, value in vars(defaults).items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            parser.add_argument(flag, action="store_true")
        elif name == "database":
            parser.add_argument(flag, choices=("sqlite", "postgresql"), default=value)
        else:
            parser.add_argument(flag, type=type(value), default=value)
    figures = asyncio.run(run(Options(**vars(parser.parse_args()))))
    for key, value in figures.items():
        print(f"{key}={value}")


if __name__ == "__main__":
    main()

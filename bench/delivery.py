"""SMS delivery at a configured rate: 10,000 messages through a fake Aliyun SMS server.

    python -m bench.delivery [--messages 10000] [--rate 200] [--workers 2] [--threads 32]

A throwaway SQLite database with the real schema (Alembic) and one customer per message;
the fake Aliyun SMS server (``activities.channels.fake_servers``, checking the RPC
signature) runs under uvicorn in a process of its own on loopback; every message goes through the
``send_message`` activity's work (``activities.messaging.send_message``: outbox row, the
provider from ``activities.channels.build_providers`` with its rate bucket, the signed HTTP
call, the answer stored) from ``--workers`` worker processes with ``--threads`` threads
each, as the activity slots of several workers would: they share the one bucket.

Last lines: ``sent=``, ``sent_per_s=`` (target ≥ 180 at 200/s) and ``over_rate_bursts=``:
how many sends arrived at the provider with more than ``rate`` others in the second before
them (must be 0).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from activities import messaging
from activities.channels import ChannelSettings, build_providers
from activities.channels.fake_servers import FakeAliyunSms, aliyun_asgi
from db import make_engine, upgrade
from db.models import OutboxMessage
from db.session import write_session_factory
from engine.effects import EffectContext, SendMessageRequest, idempotency_key

KEY_ID, SECRET = "LTAI-bench", "bench-secret"


def _serve(conn: Connection) -> None:
    """The fake provider's process (uvicorn, one event loop): serve until told to stop,
    then send the arrival times."""
    import asyncio
    import socket

    import uvicorn

    fake = FakeAliyunSms(KEY_ID, SECRET)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(aliyun_asgi(fake), log_level="warning", access_log=False)
    server = uvicorn.Server(config)

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        conn.send(f"http://127.0.0.1:{sock.getsockname()[1]}")
        await asyncio.to_thread(conn.recv)  # "stop"
        server.should_exit = True
        await serving

    asyncio.run(run())
    conn.send([a.at for a in fake.accepted])


def _customers(path: Path, n: int) -> None:
    con = sqlite3.connect(path)
    con.execute("INSERT INTO region (id, name) VALUES ('R1', '华东')")
    con.execute(
        "INSERT INTO store (id, region_id, name, city, timezone) "
        "VALUES ('S1', 'R1', '上海店', '上海', 'Asia/Shanghai')"
    )
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    con.executemany(
        "INSERT INTO customer (id, name, phone, gender, member_level, store_id, timezone, tags, "
        "attributes, opted_out_channels, created_at, f_count, m_amount) VALUES "
        "(?, ?, ?, '', 'regular', 'S1', 'Asia/Shanghai', '[]', '{}', '[]', ?, 0, 0)",
        [(f"C{i:06d}", f"顾客{i}", f"138{i:08d}", now) for i in range(n)],
    )
    con.commit()
    con.close()


def _request(i: int) -> SendMessageRequest:
    wf = f"journey-bench-C{i:06d}"
    ctx = EffectContext(
        idempotency_key=idempotency_key(wf, "e1", "sms", 1),
        workflow_id=wf,
        journey_id="bench",
        journey_version=1,
        node_id="sms",
        visit=1,
        customer_id=f"C{i:06d}",
    )
    return SendMessageRequest(ctx=ctx, channel="sms", content="{{ customer.name }}，会员日见")


def over_rate(arrivals: list[float], rate: float) -> int:
    """Sends with more than ``rate`` sends (themselves included) in the second ending at
    them, as the provider would count them."""
    times = sorted(arrivals)
    over, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        if end - start + 1 > rate:
            over += 1
    return over


def _channels(url: str, rate: float) -> ChannelSettings:
    return ChannelSettings(
        _env_file=None,  # type: ignore[call-arg]
        sms_provider="aliyun",
        aliyun_sms_access_key_id=KEY_ID,
        aliyun_sms_access_key_secret=SECRET,  # type: ignore[arg-type]
        aliyun_sms_endpoint=url,
        aliyun_sms_sign_name=FakeAliyunSms.sign_name,
        aliyun_sms_template_code="SMS_0001",
        aliyun_sms_rate_per_second=rate,
    )


def _worker(
    db_url: str, url: str, rate: float, ids: range, threads: int, go: Any, conn: Connection
) -> None:
    """One worker process: ``threads`` activity slots sending messages ``ids``."""
    engine = make_engine(db_url, pool_size=threads, max_overflow=8)
    sessions = write_session_factory(engine)
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    with httpx.Client(timeout=10.0, limits=limits) as http:
        provider = build_providers(
            webhook_secret="bench", http=http, sessions=sessions, channels=_channels(url, rate)
        )["sms"]
        # the moment each call leaves (after its slot, signing done): what the limiter
        # controls, as against what the provider sees a little later
        leaving: list[float] = []
        post = http.post

        def timed_post(*args: Any, **kwargs: Any) -> httpx.Response:
            leaving.append(time.time())
            return post(*args, **kwargs)

        http.post = timed_post  # type: ignore[method-assign]

        def now() -> datetime:
            return datetime.now(UTC)

        def send(i: int) -> str:
            return messaging.send_message(sessions, provider, _request(i), now).status

        conn.send("ready")
        go.wait()
        with ThreadPoolExecutor(threads) as pool:
            statuses = list(pool.map(send, ids))
    engine.dispose()
    conn.send((statuses.count("sent"), leaving))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--threads", type=int, default=32, help="activity slots per worker")
    args = parser.parse_args()

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(child,), daemon=True)
    server.start()
    url = parent.recv()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "delivery.db"
        db_url = f"sqlite:///{path}"
        upgrade(db_url)
        _customers(path, args.messages)
        go = ctx.Event()
        workers = []
        for w in range(args.workers):
            mine, theirs = ctx.Pipe()
            ids = range(w, args.messages, args.workers)
            proc = ctx.Process(
                target=_worker,
                args=(db_url, url, args.rate, ids, args.threads, go, theirs),
                daemon=True,
            )
            proc.start()
            workers.append((proc, mine))
        for _, conn in workers:
            conn.recv()  # ready
        print(
            f"# {args.messages} messages, rate {args.rate:g}/s, {args.workers} workers x "
            f"{args.threads} slots",
            flush=True,
        )
        started = time.perf_counter()
        go.set()
        answers = [conn.recv() for _, conn in workers]
        elapsed = time.perf_counter() - started
        sent = sum(n for n, _ in answers)
        left = [t for _, times in answers for t in times]
        for proc, _ in workers:
            proc.join(timeout=10)
        parent.send("stop")
        arrivals: list[float] = parent.recv()
        server.join(timeout=10)
        engine = make_engine(db_url)
        with write_session_factory(engine)() as s:
            stored = len(
                s.exec(select(OutboxMessage.id).where(OutboxMessage.status == "sent")).all()
            )
        engine.dispose()
    span = max(arrivals) - min(arrivals) if len(arrivals) > 1 else 0.0
    print(f"stored_sent={stored} provider_took={len(arrivals)} provider_span_s={span:.1f}")
    print(f"elapsed_s={elapsed:.1f}")
    print(f"over_rate_bursts_leaving={over_rate(left, args.rate)}")
    print(f"sent={sent}")
    print(f"sent_per_s={sent / elapsed:.1f}")
    print(f"over_rate_bursts={over_rate(arrivals, args.rate)}")


if __name__ == "__main__":
    main()

"""The web app's idle connections (``Settings.web_keep_alive_seconds``): uvicorn keeps them
open that long, so a client or proxy that reuses a connection within its own (shorter) idle
time never sends a request onto a connection the app is closing."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from journeys.cli import web_config
from settings import Settings

REQUEST = b"GET / HTTP/1.1\r\nHost: canvas\r\n\r\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def _serving(keep_alive: int) -> AsyncIterator[int]:
    app = Starlette(routes=[Route("/", lambda _request: PlainTextResponse("ok"))])
    port = _free_port()
    settings = Settings(web_port=port, web_keep_alive_seconds=keep_alive)
    server = uvicorn.Server(web_config(settings, app, log_level="warning"))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    return await asyncio.wait_for(reader.readexactly(length), 5)


def test_the_default_outlasts_the_proxies_and_clients_in_front() -> None:
    # nginx's and cloud load balancers' idle timeouts are 60 s; HTTP libraries pool 5 s
    assert Settings().web_keep_alive_seconds > 60
    assert web_config(Settings(), Starlette()).timeout_keep_alive == 75  # type: ignore[arg-type]


async def test_an_idle_connection_stays_open_for_the_setting_then_closes() -> None:
    async with _serving(keep_alive=2) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _ask(reader, writer) == b"ok"
        await asyncio.sleep(1.0)  # idle, within the setting: the same connection answers
        assert await _ask(reader, writer) == b"ok"
        # idle past it: the app closes the connection (end of stream, nothing sent)
        assert await asyncio.wait_for(reader.read(), 5) == b""
        writer.close()

"""The web app's idle connections (``Settings.web_keep_alive_seconds``): uvicorn keeps them
open that long, so a client or proxy that reuses a connection within its own (shorter) idle
time never sends a request onto a connection the app is closing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from canvas_ui.serving import web_config
from settings import Settings

REQUEST = b"GET / HTTP/1.1\r\nHost: canvas\r\n\r\n"


@contextlib.asynccontextmanager
async def _serving(keep_alive: int) -> AsyncIterator[int]:
    """A real uvicorn server configured by ``web_config``, on a port the OS picks."""
    app = Starlette(routes=[Route("/", lambda _request: PlainTextResponse("ok"))])
    settings = Settings(_env_file=None, web_port=0, web_keep_alive_seconds=keep_alive)
    server = uvicorn.Server(web_config(settings, app, log_level="warning"))  # type: ignore[arg-type]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                if task.done():
                    task.result()  # it failed to start: its error, not a spin
                await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task


async def _ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = next(
        int(h.split(b":")[1])
        for h in head.split(b"\r\n")
        if h.lower().startswith(b"content-length")
    )
    return await asyncio.wait_for(reader.readexactly(length), 5)


def test_the_default_outlasts_the_proxies_in_front(monkeypatch: pytest.MonkeyPatch) -> None:
    # nginx's upstream keep-alive and an AWS ALB idle 60 s; httpx pools 5 s
    monkeypatch.delenv("JOURNEYS_WEB_KEEP_ALIVE_SECONDS", raising=False)
    settings = Settings(_env_file=None)
    assert settings.web_keep_alive_seconds == 75
    assert web_config(settings, Starlette()).timeout_keep_alive == 75  # type: ignore[arg-type]


async def test_an_idle_connection_stays_open_for_the_setting_then_closes() -> None:
    async with _serving(keep_alive=2) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            assert await _ask(reader, writer) == b"ok"
            await asyncio.sleep(0.5)  # idle, well within the setting: the same connection
            assert await _ask(reader, writer) == b"ok"
            # idle past it: the app closes the connection (end of stream, nothing sent),
            # after the setting's 2 s — not at once, and not at uvicorn's own 5 s
            loop = asyncio.get_running_loop()
            idle_from = loop.time()
            assert await asyncio.wait_for(reader.read(), 6) == b""
            assert 1.5 <= loop.time() - idle_from < 4
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

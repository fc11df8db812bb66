"""Real-Chromium fixtures: the app served by uvicorn in a thread, Debian's Chromium.

Never Playwright's own browser download: the browser is ``/usr/bin/chromium`` (installed by the
Makefile's setup). Tests wait on page state, never on the wall clock.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, Page

from tests.canvas_ui.harness import *  # noqa: F403 - fixtures

CHROMIUM = os.environ.get("JOURNEYS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = pytest.mark.ui


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        ready = threading.Event()

        def poll() -> None:
            while not self.server.started and self.thread.is_alive():
                ready.wait(0.02)
            ready.set()

        poll()
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(canvas_app: FastAPI) -> Iterator[LiveServer]:
    """The app on a free port for this test."""
    with LiveServer(canvas_app) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session (skips when it is not installed)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (the Makefile's setup installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, live_server: LiveServer, canvas_app: FastAPI) -> Iterator[Page]:
    """A fresh, signed-in browser context in Chinese, with page errors collected."""
    context = browser.new_context(
        base_url=live_server.url,
        viewport={"width": 1440, "height": 900},
        locale="zh-CN",
    )
    if canvas_app.state.test_login:
        name, value = canvas_app.state.test_login
        context.add_cookies([{"name": name, "value": value, "url": live_server.url}])
    page = context.new_page()
    errors: list[str] = []
    page.errors = errors  # type: ignore[attr-defined]  # read by the tests at the end
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def client_for(live_server: LiveServer, canvas_app: FastAPI) -> Iterator[httpx.Client]:
    """A signed-in HTTP client on the live server (with the CSRF header), to set up data."""

    with httpx.Client(base_url=live_server.url) as c:
        if canvas_app.state.test_login:
            c.cookies.set(*canvas_app.state.test_login)
        c.get("/api/schema/journey.json")
        c.headers["X-CSRF-Token"] = c.cookies["journeys_csrf"]
        yield c

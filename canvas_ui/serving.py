"""How the web app is served: uvicorn's configuration and its processes, the same for
``journeys web`` and ``python -m canvas_ui``."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from settings import Settings

#: The app factory each process of a multi-process web app imports (``create_app()`` reads
#: the settings from the same environment as the parent).
APP_FACTORY = "canvas_ui.app:create_app"
#: Seconds a web process may take to answer its supervisor's health check before it is
#: killed as hung (uvicorn's default, 5 s, is shorter than a fresh process's imports on a
#: saturated 2-core machine)
HEALTHCHECK_TIMEOUT_S = 30


def web_config(
    settings: Settings, web_app: FastAPI | str, *, log_level: str = "info"
) -> uvicorn.Config:
    """uvicorn's configuration of ``journeys web``: ``web_app`` is the app, or the import
    string of its factory (:data:`APP_FACTORY`) for ``JOURNEYS_WEB_PROCESSES`` processes.

    X-Forwarded-For / X-Forwarded-Proto are believed only from the proxies in
    ``JOURNEYS_FORWARDED_ALLOW_IPS`` (uvicorn would trust 127.0.0.1 by default): behind them
    the request's scheme (Secure cookies) and client address (login throttling) come from
    those headers; without a proxy a client cannot claim another address or https. Idle
    connections stay open ``JOURNEYS_WEB_KEEP_ALIVE_SECONDS`` (see the setting).
    """
    proxies = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        web_app,
        factory=isinstance(web_app, str),
        workers=settings.web_processes,
        timeout_worker_healthcheck=HEALTHCHECK_TIMEOUT_S,
        host=settings.web_host,
        port=settings.web_port,
        log_level=log_level,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        timeout_keep_alive=settings.web_keep_alive_seconds,
        timeout_graceful_shutdown=3,  # open connections must not hold up a stop
    )


def serve(settings: Settings, web_app: FastAPI, *, log_level: str = "info") -> None:
    """Serve until SIGINT or SIGTERM: ``web_app`` in this process, or, with
    ``JOURNEYS_WEB_PROCESSES`` above 1, that many processes sharing the port (uvicorn's
    supervisor binds it here and restarts a process that dies). ``web_app`` was built here
    either way: a refusal to start (``services.preflight``) comes before any process."""
    if settings.web_processes == 1:
        uvicorn.Server(web_config(settings, web_app, log_level=log_level)).run()
        return
    web_app.state.engine.dispose()  # the preflight's connection: the processes open their own
    config = web_config(settings, APP_FACTORY, log_level=log_level)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    supervisor.run()
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        sys.exit(STARTUP_FAILURE)  # as one process exits when its app cannot start

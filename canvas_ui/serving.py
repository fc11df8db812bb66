"""How the web app is served: uvicorn's configuration, the same for ``journeys web`` and
``python -m canvas_ui``."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI

from settings import Settings


def web_config(settings: Settings, web_app: FastAPI, *, log_level: str = "info") -> uvicorn.Config:
    """uvicorn's configuration of ``journeys web``.

    X-Forwarded-For / X-Forwarded-Proto are believed only from the proxies in
    ``JOURNEYS_FORWARDED_ALLOW_IPS`` (uvicorn would trust 127.0.0.1 by default): behind them
    the request's scheme (Secure cookies) and client address (login throttling) come from
    those headers; without a proxy a client cannot claim another address or https. Idle
    connections stay open ``JOURNEYS_WEB_KEEP_ALIVE_SECONDS`` (see the setting).
    """
    proxies = settings.forwarded_allow_ips.strip()
    return uvicorn.Config(
        web_app,
        host=settings.web_host,
        port=settings.web_port,
        log_level=log_level,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        timeout_keep_alive=settings.web_keep_alive_seconds,
        timeout_graceful_shutdown=3,  # open connections must not hold up a stop
    )

"""Runtime settings, from environment variables (prefix ``JOURNEYS_``) or a ``.env`` file.

A leaf package (stdlib and pydantic only), so every layer may import it: db/, activities/,
services/, canvas_ui/ and the ``journeys`` CLI. Injected, never imported as a global:
FastAPI routes take ``SettingsDep``; the CLI, worker and tests call :func:`get_settings`
(cached) or build ``Settings(...)`` themselves.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
#: The events API key ``journeys up`` gives the local demo when none is set.
DEMO_EVENTS_API_KEY = "dev-events-key"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOURNEYS_", env_file=".env", extra="ignore")

    data_dir: Path = ROOT / ".data"
    #: SQLAlchemy URL; ``DATABASE_URL`` (unprefixed) also works. SQLite file by default.
    database_url: str = Field(
        default="",
        validation_alias="DATABASE_URL",
        description="e.g. postgresql+psycopg://user:pw@host/db; empty = SQLite in data_dir",
    )
    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: str | None = None
    temporal_ui_url: str = "http://127.0.0.1:8233"
    task_queue: str = "journeys"
    #: Queue of segment enrollment passes (workflow and page activities), served by
    #: ``journeys enrollment-worker`` (its own process, so a big pass never takes the journey
    #: worker's CPU from running journeys). None = ``<task_queue>-enrollment``; "" = the
    #: journey worker's own queue (one process, for small installs).
    enrollment_task_queue: str | None = None
    #: Run the journey activities (messages with their contact check, guide tasks and
    #: notices …) in a worker process of their own (``journeys worker --role activities``)
    #: beside the one running journey workflows and their local activities (``--role
    #: workflows``): each side gets a core's worth of CPU and its own GIL. Measured on this
    #: 2-core machine, SQLite, each pair in one sitting — bench.contact_policy (no other
    #: load): a check's p99 42.9 ms in one process, 19.7 ms split, journeys 30 → 35 /s;
    #: bench.web_load (50 users, 20 events/s): user p99 10.1 s in one process, 17.6 s split
    #: (a third process writing to SQLite's single write lock, on a saturated CPU). So
    #: ``journeys up`` runs one worker process unless this is set (an install on
    #: PostgreSQL with cores to spare).
    activity_worker: bool = False
    #: Threads of the web app for plain ``def`` routes and its database work
    #: (``db.session.in_thread``). Python runs one of them at a time (the GIL): more than a
    #: few per core only share the CPU among more requests at once and stretch each SQLite
    #: write transaction while its thread waits for a turn (measured in docs/architecture.md,
    #: "A few threads, not hundreds"). Default: two a core, at least 4.
    web_threads: int = Field(default_factory=lambda: max(4, 2 * (os.cpu_count() or 1)), ge=1)
    #: Processes of the web app sharing its port (uvicorn's workers), each with its own
    #: GIL and ``web_threads``. One process runs about a core's worth of requests: 50 users
    #: alone kept it at 0.84 of a core (bench.web_load --events-per-s 0); two answered them
    #: faster (p99 948 → 785 ms) on this 2-core machine, but not with the events on top (no
    #: core to spare). Give one a core the other processes leave free: docs/architecture.md,
    #: "One web process by default".
    web_processes: int = Field(default=1, ge=1)
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    #: This install is the local demo (``make run`` sets ``JOURNEYS_DEMO=true``): it may run
    #: with the default secrets and the demo logins. Anywhere else the web app and the workers
    #: refuse to start with them (see :func:`unsafe_defaults` and ``services.preflight``).
    demo: bool = False
    #: Secret for sessions, CSRF tokens and webhook signatures. Set it in production.
    secret_key: str = "dev-insecure-change-me"
    webhook_secret: str = "dev-webhook-secret"
    #: Machines posting to /api/events send it as ``X-API-Key``; empty = sessions only.
    events_api_key: str = ""
    #: Login throttling: after this many failed sign-ins within ``login_window_seconds`` an
    #: account, or a client address, is refused (429) until the oldest of them ages out.
    #: A client's limit is higher: a store's guides share one address.
    login_account_limit: int = Field(default=5, ge=1)
    login_client_limit: int = Field(default=30, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    #: Addresses of reverse proxies trusted to set X-Forwarded-For / X-Forwarded-Proto
    #: (comma-separated, or ``*``), as uvicorn's ``--forwarded-allow-ips``: behind them the
    #: client address (login throttling) and https (Secure cookies) come from those headers.
    #: Empty = no proxy: the headers are ignored.
    forwarded_allow_ips: str = ""
    #: Seconds the web app keeps an idle HTTP connection open (uvicorn's
    #: ``--timeout-keep-alive``; its own default, 5 s, is httpx's pool expiry too). Set it
    #: longer than the idle time of whatever reuses connections to the app — nginx's
    #: upstream keep-alive and an AWS ALB: 60 s; a Google Cloud load balancer: 600 s, fixed,
    #: so 620 there. The side that closes first must be the client, or a request sent on a
    #: connection the app is closing at that moment fails (a proxy's 502; bench.web_load saw
    #: "Server disconnected without sending a response" on a guide's first request after
    #: signing in, with uvicorn's 5 s).
    web_keep_alive_seconds: int = Field(default=75, ge=1)
    #: Seconds between two rounds of the web app's reconciler (pending event deliveries,
    #: runs whose start was never confirmed); 0 switches it off.
    reconcile_interval_seconds: float = Field(default=10.0, ge=0)
    #: HQ's time zone (IANA name): the web pages show times in it. A guide's workbench
    #: shows its store's own zone instead.
    timezone: str = "Asia/Shanghai"
    #: The chain's attribution rule (services.attribution). Default, the field rule
    #: (DOMAIN.md): in-store sales belong to the store they were made in, online sales to
    #: the guide the customer was bound to at order time (and so to that guide's store).
    #: "bound_guide" for in-store sales credits the bound guide instead of the store;
    #: "store" for online sales credits the store the order names instead of the guide.
    attribution_in_store: Literal["store", "bound_guide"] = "store"
    attribution_online: Literal["bound_guide", "store"] = "bound_guide"
    #: Which journey wins an order several journeys claim: the latest touch or the earliest.
    attribution_touch: Literal["last", "first"] = "last"
    #: Conversion window of a journey whose goal sets none (DOMAIN.md: "purchase within 14
    #: days of entry"); also the window after a completed guide task.
    attribution_window_days: int = Field(default=14, ge=1, le=180)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
        return value

    @property
    def enrollment_queue(self) -> str:
        """Where enrollment page activities run (see ``enrollment_task_queue``)."""
        if self.enrollment_task_queue is None:
            return f"{self.task_queue}-enrollment"
        return self.enrollment_task_queue or self.task_queue

    @property
    def own_enrollment_worker(self) -> bool:
        """Whether enrollment needs ``journeys enrollment-worker`` (its queue is not the
        journey worker's)."""
        return self.enrollment_queue != self.task_queue

    def unsafe_defaults(self) -> list[str]:
        """The environment variables still at their public demo values (empty = none).

        An empty secret key or webhook secret counts too: it signs as badly as a known one.
        """
        unsafe = []
        if self.secret_key in ("", _default("secret_key")):
            unsafe.append("JOURNEYS_SECRET_KEY")
        if self.webhook_secret in ("", _default("webhook_secret")):
            unsafe.append("JOURNEYS_WEBHOOK_SECRET")
        if self.events_api_key == DEMO_EVENTS_API_KEY:
            unsafe.append("JOURNEYS_EVENTS_API_KEY")
        return unsafe

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'journeys.db'}"


def _default(field: str) -> object:
    return Settings.model_fields[field].default


@lru_cache
def get_settings() -> Settings:
    return Settings()

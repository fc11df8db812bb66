"""The Temporal client, connected lazily from settings and shared per process."""

from __future__ import annotations

import asyncio

from temporalio.client import Client, TLSConfig

from journeys.settings import Settings


class TemporalUnavailableError(Exception):
    """Temporal could not be reached; the message says where we tried."""


async def connect(settings: Settings) -> Client:
    tls: TLSConfig | bool = False
    if settings.temporal_tls:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes()
            if settings.temporal_tls_cert
            else None,
            client_private_key=settings.temporal_tls_key.read_bytes()
            if settings.temporal_tls_key
            else None,
        )
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        tls=tls,
        api_key=settings.temporal_api_key,
    )


class TemporalGateway:
    """Holds one client; connects on first use and reconnects after a failed attempt."""

    def __init__(self, settings: Settings, client: Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                try:
                    self._client = await asyncio.wait_for(connect(self.settings), timeout=5)
                except Exception as exc:
                    raise TemporalUnavailableError(
                        f"Temporal is not reachable at {self.settings.temporal_address} "
                        f"(namespace {self.settings.temporal_namespace}): {exc}"
                    ) from exc
        return self._client

    @property
    def task_queue(self) -> str:
        return self.settings.task_queue

    @property
    def enrollment_queue(self) -> str:
        return self.settings.enrollment_queue

"""The Temporal client, connected lazily from settings and shared per process, and the data
converter every client and worker of this app uses (:class:`workflows.codec.JourneyCodec`:
zlib for big payloads, compiled journeys loaded from the database by reference)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.client import Client, TLSConfig
from temporalio.converter import DataConverter

from db import crud, make_engine
from settings import Settings, get_settings
from workflows.codec import JourneyCodec, JourneyLoader
from workflows.journey_cache import JourneyRef


class TemporalUnavailableError(Exception):
    """Temporal could not be reached; the message says where we tried."""


log = logging.getLogger(__name__)


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
        data_converter=data_converter(settings),
    )


async def connect_patiently(
    settings: Settings, *, first_wait: float = 1.0, longest_wait: float = 15.0
) -> Client:
    """:func:`connect`, retried with back-off until Temporal answers: a worker (re)started
    while the cluster is away waits for it instead of exiting (SIGTERM still stops it)."""
    wait = first_wait
    while True:
        try:
            return await connect(settings)
        except RuntimeError as exc:  # the SDK's "Failed client connect: …"
            log.warning(
                "Temporal not reachable at %s (%s); trying again in %.0f s",
                settings.temporal_address,
                exc,
                wait,
            )
        await asyncio.sleep(wait)
        wait = min(wait * 2, longest_wait)


def data_converter(settings: Settings) -> DataConverter:
    """The default converter with :class:`JourneyCodec`, loading journeys from
    ``settings``' database. Clients, workers and replayers of journey histories use it."""
    return dataclasses.replace(
        DataConverter.default,
        payload_codec=JourneyCodec(load_journey=journey_loader(settings.sqlalchemy_url)),
    )


@lru_cache(maxsize=1)
def app_data_converter() -> DataConverter:
    """:func:`data_converter` for the configured settings, one per process: for code that
    reads journey histories without a client (``services.replay``'s replayers)."""
    return data_converter(get_settings())


def journey_loader(database: Engine | str) -> JourneyLoader:
    """Loads published versions (``journey_version.compiled``) by reference; the engine of a
    URL is made on first use (most processes never miss their cache)."""
    engine = database if isinstance(database, Engine) else None
    lock = threading.Lock()

    def read(ref: JourneyRef) -> dict[str, Any] | None:
        nonlocal engine
        with lock:
            if engine is None:
                assert isinstance(database, str)
                engine = make_engine(database)
        with Session(engine) as session:
            row = crud.get_version(session=session, journey_id=ref.journey_id, version=ref.version)
        if row is None or row.content_hash != ref.content_hash:
            return None
        return row.compiled

    async def load(ref: JourneyRef) -> dict[str, Any] | None:
        return await asyncio.to_thread(read, ref)

    return load


def with_journey_loader(client: Client, load_journey: JourneyLoader) -> Client:
    """``client``, or a client on the same connection, whose codec loads journeys.

    A client already built by :func:`connect` is returned as it is. One with no codec gets
    a :class:`JourneyCodec` that loads journeys and expands compressed payloads but does
    not compress: whatever reads this worker's payloads without the codec still can.
    """
    codec = client.data_converter.payload_codec
    if isinstance(codec, JourneyCodec) and codec.load_journey is not None:
        return client
    if codec is None:
        codec = JourneyCodec(compress_over=None, load_journey=load_journey)
    elif isinstance(codec, JourneyCodec):
        codec = JourneyCodec(compress_over=codec.compress_over, load_journey=load_journey)
    else:
        raise TypeError(
            f"the client's payload codec {type(codec).__name__} is not a JourneyCodec: "
            "connect with services.temporal.connect (or data_converter)"
        )
    config = client.config()
    config["data_converter"] = dataclasses.replace(client.data_converter, payload_codec=codec)
    return Client(**config)


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

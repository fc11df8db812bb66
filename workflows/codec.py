"""The payload codec of every client and worker: zlib for big payloads, and compiled journeys
loaded before a run's workflow code needs them.

Two jobs, both on the async side of the SDK, outside the workflow sandbox (so I/O is fine):

- **Compression.** ``encode`` compresses a payload of at least ``compress_over`` bytes
  (a continue-as-new state, a long message, a big facts snapshot) into
  ``binary/zlib`` (the whole original payload, metadata included, zlib-compressed), when
  that is smaller. ``decode`` expands only payloads of that encoding; every other payload
  (histories recorded before this codec, small payloads) passes through untouched, so a
  reader with the codec reads old and new histories alike.
- **Journey references.** A run's input names its published version
  (``JourneyInput.journey_ref``) instead of carrying it. ``decode`` sees the input before
  the workflow does; when the worker's cache (``workflows.journey_cache``) lacks the
  version, the codec loads it (``load_journey``: the database, ``services.temporal``) once
  per version, checks it against the reference and keeps it. The payload itself is not
  changed: what the workflow reads is a pure function of the recorded reference.

The Temporal Web UI decodes through the same codec (a "codec endpoint",
``services.codec_endpoint``; start the dev server with ``--ui-codec-endpoint``).
"""

from __future__ import annotations

import asyncio
import json
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from google.protobuf.message import DecodeError
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from workflows import journey_cache
from workflows.journey_cache import JourneyRef

#: The encoding of a compressed payload (its data: the zlib'd serialized original payload).
ZLIB_ENCODING = b"binary/zlib"
#: Below this a payload is sent as it is: the envelope and the CPU would outweigh the bytes.
COMPRESS_OVER = 1024
#: A compressed payload never expands past this (Temporal refuses payloads of a few MB; a
#: bigger result is not ours: a zip bomb sent to the codec endpoint, say).
MAX_EXPANDED = 16 * 1024 * 1024
#: Cheap pre-filter for payloads that may carry a journey reference (a JourneyInput).
_REF_KEY = b'"journey_ref"'

#: Loads the compiled journey (``CompiledJourney.to_dict()``) of a reference; None = unknown.
JourneyLoader = Callable[[JourneyRef], Awaitable[dict[str, Any] | None]]


class JourneyLoadError(RuntimeError):
    """A run names a journey version that could not be loaded (decoding its input fails:
    the workflow task is retried, and the message says which version)."""


class JourneyCodec(PayloadCodec):
    """zlib for payloads of ``compress_over`` bytes and more (None: never compress, still
    expand), and journey references loaded through ``load_journey`` (None: only what this
    process already holds)."""

    def __init__(
        self,
        *,
        compress_over: int | None = COMPRESS_OVER,
        load_journey: JourneyLoader | None = None,
    ) -> None:
        self.compress_over = compress_over
        self.load_journey = load_journey
        self._loading: dict[JourneyRef, asyncio.Future[None]] = {}

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self._compress(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out = []
        for p in payloads:
            p = expand(p)
            if self.load_journey is not None and _REF_KEY in p.data:
                ref = _journey_ref(p)
                if ref is not None and journey_cache.lookup(ref) is None:
                    await self._load(ref)
            out.append(p)
        return out

    def _compress(self, p: Payload) -> Payload:
        if self.compress_over is None or len(p.data) < self.compress_over:
            return p
        packed = zlib.compress(p.SerializeToString())
        if len(packed) >= p.ByteSize():
            return p
        return Payload(metadata={"encoding": ZLIB_ENCODING}, data=packed)

    async def _load(self, ref: JourneyRef) -> None:
        """Load ``ref`` once however many runs of it start at the same time."""
        pending = self._loading.get(ref)
        if pending is None:
            pending = asyncio.ensure_future(self._fetch(ref))
            self._loading[ref] = pending
            pending.add_done_callback(lambda _: self._loading.pop(ref, None))
        await asyncio.shield(pending)

    async def _fetch(self, ref: JourneyRef) -> None:
        load = self.load_journey
        compiled = await load(ref) if load is not None else None
        if compiled is None:
            raise JourneyLoadError(f"compiled journey {ref} is not published here")
        try:
            journey_cache.remember(compiled, ref)
        except (ValueError, TypeError, KeyError) as exc:
            raise JourneyLoadError(f"compiled journey {ref} could not be loaded: {exc}") from exc


def expand(p: Payload) -> Payload:
    """``p`` as it was before compression (any other payload as it is). Synchronous: for
    code that peeks into recorded payloads (``services.replay``)."""
    if p.metadata.get("encoding") != ZLIB_ENCODING:
        return p
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(p.data, MAX_EXPANDED)
    except zlib.error as exc:
        raise ValueError(f"a binary/zlib payload is damaged: {exc}") from exc
    if inflater.unconsumed_tail:
        raise ValueError(f"a binary/zlib payload expands past {MAX_EXPANDED} bytes")
    if not inflater.eof:
        raise ValueError("a binary/zlib payload is cut short")
    try:
        return Payload.FromString(out)
    except DecodeError as exc:
        raise ValueError(f"a binary/zlib payload holds no payload: {exc}") from exc


def _journey_ref(p: Payload) -> JourneyRef | None:
    """The ``journey_ref`` of a JSON JourneyInput payload, else None."""
    if p.metadata.get("encoding") != b"json/plain":
        return None
    try:
        data = json.loads(p.data)
        raw = data.get("journey_ref") if isinstance(data, dict) else None
        if not isinstance(raw, dict):
            return None
        return JourneyRef(raw["journey_id"], raw["version"], raw["content_hash"])
    except (ValueError, KeyError, TypeError):
        return None

"""The payload codec: big payloads round-trip through zlib, everything else (histories
recorded before the codec, small payloads, other encodings) passes through as it is, and a
run's journey reference is loaded once before the workflow reads it."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import zlib
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from temporalio.api.common.v1 import Payload

from services.codec_endpoint import codec_router
from services.temporal import data_converter
from settings import Settings
from tests.workflows.harness import ENTRY, EXIT, compile_ok, doc
from workflows import JourneyInput, journey_cache
from workflows import codec as codec_module
from workflows.codec import ZLIB_ENCODING, JourneyCodec, JourneyLoadError
from workflows.journey_cache import JourneyRef

JOURNEY = compile_ok(
    doc([ENTRY, EXIT], [("entry", "next", "done")]), journey_id="j-codec"
).to_dict()


def _json(value: Any, encoding: bytes = b"json/plain") -> Payload:
    return Payload(metadata={"encoding": encoding}, data=json.dumps(value).encode())


BIG = _json({"trace": [{"node_id": f"n{i}", "summary": "券 sent · 重要挽留"} for i in range(200)]})
SMALL = _json({"customer_id": "C1"})


async def test_big_payload_round_trips_compressed() -> None:
    codec = JourneyCodec()
    [packed] = await codec.encode([BIG])
    assert packed.metadata["encoding"] == ZLIB_ENCODING
    assert packed.ByteSize() < BIG.ByteSize() / 4
    [back] = await codec.decode([packed])
    assert back == BIG  # data and metadata, byte for byte


async def test_uncompressed_payloads_pass_through_as_they_are() -> None:
    """What histories recorded before the codec hold, and payloads of other encodings."""
    codec = JourneyCodec()
    plain = [
        BIG,
        SMALL,
        Payload(metadata={"encoding": b"binary/null"}),
        Payload(metadata={"encoding": b"binary/encrypted"}, data=os.urandom(2000)),
    ]
    assert await codec.decode(plain) == plain


async def test_small_and_incompressible_payloads_are_sent_as_they_are() -> None:
    codec = JourneyCodec()
    noise = Payload(metadata={"encoding": b"binary/plain"}, data=os.urandom(4096))
    assert await codec.encode([SMALL, noise]) == [SMALL, noise]
    never = JourneyCodec(compress_over=None)
    assert await never.encode([BIG]) == [BIG]
    # a codec that does not compress still reads what one that does wrote
    assert await never.decode(await codec.encode([BIG])) == [BIG]


async def test_damaged_or_oversized_zlib_payloads_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    codec = JourneyCodec()
    [packed] = await codec.encode([BIG])
    cut = Payload(metadata=packed.metadata, data=packed.data[:-10])
    with pytest.raises(ValueError, match="cut short"):
        await codec.decode([cut])
    monkeypatch.setattr(codec_module, "MAX_EXPANDED", 1000)
    with pytest.raises(ValueError, match="expands past 1000"):
        await codec.decode([packed])


async def test_app_data_converter_round_trips_a_journey_input() -> None:
    converter = data_converter(Settings(database_url="sqlite:///:memory:"))
    inp = JourneyInput.new(journey=JOURNEY, customer_id="C1")
    [payload] = await converter.encode([inp])
    assert b"steps" not in payload.data and b'"journey_ref"' in payload.data
    [back] = await converter.decode([payload], [JourneyInput])
    assert back == inp


async def test_a_referenced_journey_is_loaded_once_before_the_workflow_reads_it() -> None:
    ref = JourneyRef.of(JOURNEY)
    payload = _json({"customer_id": "C1", "journey": {}, "journey_ref": ref.__dict__})
    calls: list[JourneyRef] = []

    async def load(r: JourneyRef) -> dict[str, Any] | None:
        calls.append(r)
        await asyncio.sleep(0.01)  # many runs of one version decode at the same time
        return JOURNEY

    journey_cache.forget_all()
    codec = JourneyCodec(load_journey=load)
    decoded = await asyncio.gather(*(codec.decode([payload]) for _ in range(20)))
    assert all(d == [payload] for d in decoded)  # the payload itself is not changed
    assert calls == [ref]
    journey = journey_cache.require(ref)
    assert journey.journey_id == "j-codec" and journey.content_hash == ref.content_hash
    await codec.decode([payload])
    assert calls == [ref]  # kept: not loaded again


@pytest.mark.parametrize(
    ("loaded", "message"),
    [(None, "not published"), ({**JOURNEY, "content_hash": "f" * 16}, "does not match")],
)
async def test_a_reference_that_cannot_be_loaded_fails_naming_the_version(
    loaded: dict[str, Any] | None, message: str
) -> None:
    ref = JourneyRef.of(JOURNEY)

    async def load(r: JourneyRef) -> dict[str, Any] | None:
        return loaded

    journey_cache.forget_all()
    codec = JourneyCodec(load_journey=load)
    payload = _json({"journey": {}, "journey_ref": ref.__dict__})
    with pytest.raises(JourneyLoadError, match=rf"j-codec v1.*{message}"):
        await codec.decode([payload])
    assert journey_cache.lookup(ref) is None


def _body(*payloads: Payload) -> dict[str, Any]:
    return {
        "payloads": [
            {
                "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
                "data": base64.b64encode(p.data).decode(),
            }
            for p in payloads
        ]
    }


async def test_codec_endpoint_decodes_for_the_web_ui() -> None:
    app = FastAPI()
    app.include_router(codec_router(ui_origin="http://localhost:8233"))
    [packed] = await JourneyCodec().encode([BIG])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://codec") as http:
        decoded = await http.post("/codec/decode", json=_body(packed, SMALL))
        encoded = await http.post("/codec/encode", json=_body(BIG))
        preflight = await http.options("/codec/decode")
        bad = await http.post("/codec/decode", content=b"not json")
        damaged = await http.post(
            "/codec/decode",
            json=_body(Payload(metadata={"encoding": ZLIB_ENCODING}, data=b"xx")),
        )

    assert decoded.status_code == 200
    assert decoded.headers["access-control-allow-origin"] == "http://localhost:8233"
    out = decoded.json()["payloads"]
    assert base64.b64decode(out[0]["data"]) == BIG.data
    assert base64.b64decode(out[0]["metadata"]["encoding"]) == b"json/plain"
    assert base64.b64decode(out[1]["data"]) == SMALL.data
    enc = encoded.json()["payloads"][0]
    assert base64.b64decode(enc["metadata"]["encoding"]) == ZLIB_ENCODING
    assert zlib.decompress(base64.b64decode(enc["data"]))  # what the app's clients would send
    assert preflight.status_code == 204
    assert "X-Namespace" in preflight.headers["access-control-allow-headers"]
    assert bad.status_code == 400 and damaged.status_code == 400


def test_expand_reads_recorded_payloads_for_replay_diagnostics() -> None:
    """services.replay peeks into recorded activity inputs to name the diverging node."""
    packed = asyncio.run(JourneyCodec().encode([BIG]))[0]
    assert codec_module.expand(packed) == BIG
    assert codec_module.expand(SMALL) is SMALL
    with pytest.raises(ValueError, match="damaged"):
        codec_module.expand(Payload(metadata={"encoding": ZLIB_ENCODING}, data=b"xx"))

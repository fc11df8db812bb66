"""The remote codec endpoint: the Temporal Web UI shows this app's payloads decoded.

The UI (and ``temporal`` CLI) do not know :class:`workflows.codec.JourneyCodec`; given a
codec endpoint they POST ``{"payloads": [...]}`` (protobuf JSON) to ``<endpoint>/decode``
(and ``/encode`` for input typed into the UI) and show what comes back. Decoding only
expands this codec's own ``binary/zlib`` payloads: zlib hides nothing, so the endpoint needs
no secret and no sign-in. The browser calls it from the UI's origin, hence CORS.

Run it beside a dev server::

    python -m services.codec_endpoint --port 8089 --ui-origin http://localhost:8233
    temporal server start-dev --ui-codec-endpoint http://127.0.0.1:8089/codec

or mount :func:`codec_router` in the web app (``app.include_router(codec_router(...))``)
and point ``--ui-codec-endpoint`` at ``<web app>/codec``.
"""

from __future__ import annotations

import argparse

from fastapi import APIRouter, FastAPI, Request, Response
from google.protobuf import json_format
from temporalio.api.common.v1 import Payloads

from workflows.codec import JourneyCodec

PREFIX = "/codec"


async def decode_body(body: bytes, codec: JourneyCodec) -> str:
    """A codec-server request body (``{"payloads": [...]}``), decoded, as JSON text."""
    payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    decoded = Payloads(payloads=await codec.decode(payloads.payloads))
    return json_format.MessageToJson(decoded)


async def encode_body(body: bytes, codec: JourneyCodec) -> str:
    """A codec-server request body, encoded as this app's clients encode, as JSON text."""
    payloads = json_format.Parse(body, Payloads(), ignore_unknown_fields=True)
    encoded = Payloads(payloads=await codec.encode(payloads.payloads))
    return json_format.MessageToJson(encoded)


def codec_router(*, ui_origin: str | None = None, codec: JourneyCodec | None = None) -> APIRouter:
    """``POST /codec/decode`` and ``/codec/encode`` (+ CORS preflight for ``ui_origin``)."""
    codec = codec or JourneyCodec()  # no journey loading: the UI is shown payloads as stored
    router = APIRouter(prefix=PREFIX, tags=["codec"])
    cors = (
        {
            "Access-Control-Allow-Origin": ui_origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, X-Namespace",
            "Access-Control-Allow-Credentials": "true",
        }
        if ui_origin
        else {}
    )

    async def answer(request: Request, work: str) -> Response:
        body = await request.body()
        try:
            text = await (decode_body if work == "decode" else encode_body)(body, codec)
        except (json_format.ParseError, ValueError) as exc:
            return Response(
                f'{{"detail": "not a payloads body: {type(exc).__name__}"}}',
                status_code=400,
                media_type="application/json",
                headers=cors,
            )
        return Response(text, media_type="application/json", headers=cors)

    @router.post("/decode")
    async def decode(request: Request) -> Response:
        return await answer(request, "decode")

    @router.post("/encode")
    async def encode(request: Request) -> Response:
        return await answer(request, "encode")

    @router.options("/decode")
    @router.options("/encode")
    async def preflight() -> Response:
        return Response(status_code=204, headers=cors)

    return router


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8089)
    parser.add_argument("--ui-origin", default="http://localhost:8233")
    args = parser.parse_args()
    app = FastAPI(title="Journey Canvas payload codec")
    app.include_router(codec_router(ui_origin=args.ui_origin))
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()

"""Limits at the door: request bodies are bounded and JSON nesting is shallow, before any
route (or the login check) reads a byte of them.

Pure ASGI, outermost: an anonymous 50 MB upload is refused with 413 from its
``Content-Length`` without being read; a body without one is counted while it streams and
refused as soon as it passes the limit. JSON bodies nested deeper than
:data:`MAX_JSON_DEPTH` get 400 (Python's parser and pydantic recurse per level).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: bytes a request body may have, by path prefix (longest match first); else the default
DEFAULT_BODY_LIMIT = 1024 * 1024
BODY_LIMITS: Mapping[str, int] = {
    "/api/events": 10 * 1024 * 1024,  # 500 events of up to 16 KB properties each
    "/api/journeys/import": 3 * 1024 * 1024,  # a 2 MB file in a multipart form
}
MAX_JSON_DEPTH = 64

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def body_limit(path: str) -> int:
    """The body limit of ``path``."""
    for prefix in sorted(BODY_LIMITS, key=len, reverse=True):
        if path.startswith(prefix):
            return BODY_LIMITS[prefix]
    return DEFAULT_BODY_LIMIT


def json_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in ``raw`` (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_STRINGS.sub(b"", raw)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _human(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n} bytes"


class BodyLimitMiddleware:
    """413 for a body over its path's limit, 400 for JSON nested too deep."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = body_limit(path)
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length")
        too_large = f"The request body is larger than the limit of {_human(limit)} for {path}."
        if declared is not None:
            try:
                length = int(declared)
            except ValueError:
                await _answer(send, 400, "Content-Length is not a number.")
                return
            if length > limit:
                await _answer(send, 413, too_large)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _answer(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"") and json_depth(body) > MAX_JSON_DEPTH:
            await _answer(send, 400, f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


async def _answer(send: Send, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

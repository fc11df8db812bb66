"""A fake WeCom + WeChat API server on loopback, following the documented formats.

``GET /cgi-bin/gettoken?corpid=&corpsecret=`` (WeCom) and ``POST /cgi-bin/stable_token``
(WeChat) hand out tokens; every other call needs a valid ``?access_token=`` (else errcode
42001) and answers from a script of the path (a status code → that HTTP status; a dict →
that JSON), then the path's default success answer. :meth:`FakeWx.expire_tokens` makes
every token handed out so far expire.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID = "ww-test-corp"
CORP_SECRET = "corp-secret-value-xyz"
APP_ID = "wx-test-app"
APP_SECRET = "app-secret-value-xyz"

DEFAULTS: dict[str, dict[str, Any]] = {
    "/cgi-bin/externalcontact/add_msg_template": {
        "errcode": 0,
        "errmsg": "ok",
        "fail_list": [],
        "msgid": "msgGCAAAXtWyuj",
    },
    "/cgi-bin/message/send": {
        "errcode": 0,
        "errmsg": "ok",
        "invaliduser": "",
        "msgid": "app-msg-1",
    },
    "/cgi-bin/message/template/send": {"errcode": 0, "errmsg": "ok", "msgid": 200228332},
}


@dataclass
class Call:
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class FakeWx:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    scripts: dict[str, list[int | dict[str, Any]]] = field(default_factory=dict)
    valid_tokens: set[str] = field(default_factory=set)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, path: str, *answers: int | dict[str, Any]) -> None:
        self.scripts.setdefault(path, []).extend(answers)

    def expire_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def answer(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        data = json.loads(body) if body else {}
        with self.lock:
            self.calls.append(Call(parts.path, query, data))
            if parts.path == "/cgi-bin/gettoken":
                if query.get("corpid") != CORP_ID or query.get("corpsecret") != CORP_SECRET:
                    return 200, {"errcode": 40001, "errmsg": "invalid credential"}
                return 200, self._token()
            if parts.path == "/cgi-bin/stable_token":
                if data.get("appid") != APP_ID:
                    return 200, {"errcode": 40013, "errmsg": "invalid appid"}
                if data.get("secret") != APP_SECRET:
                    return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}
                return 200, self._token()
            if query.get("access_token") not in self.valid_tokens:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}
            script = self.scripts.get(parts.path)
            if script:
                step = script.pop(0)
                return (step, {}) if isinstance(step, int) else (200, step)
            return 200, DEFAULTS.get(parts.path, {"errcode": 0, "errmsg": "ok"})

    def _token(self) -> dict[str, Any]:
        self.issued += 1
        token = f"tok-{self.issued}"
        self.valid_tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}


@contextmanager
def running_fake() -> Iterator[FakeWx]:
    fake = FakeWx()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload = fake.answer(self.command, self.path, self.rfile.read(length))
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

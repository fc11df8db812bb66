"""A fake WeCom + WeChat API server on loopback, following the documented formats.

``GET /cgi-bin/gettoken?corpid=&corpsecret=`` (WeCom) and ``POST /cgi-bin/stable_token``
(WeChat) hand out tokens; every other call needs a valid ``?access_token=`` (else errcode
42001) and answers from a script of the path (a status code → that HTTP status; a dict →
that JSON; ``"timeout"`` → do the call, then hold the answer back ``stall_seconds``;
``"drop"`` → do the call, then close the connection unanswered), then the path's default
answer. :meth:`FakeWx.expire_tokens` makes every token handed out so far expire.

WeCom's group messages to customers are kept as WeCom keeps them: ``add_msg_template``
creates a :class:`Template` (an API-created one: ``create_type`` 0, no ``creator``), and
``get_groupmsg_list_v2`` (time window, ``filter_type``, ``creator``, ``limit``/``cursor``
paging), ``get_groupmsg_task`` and ``get_groupmsg_send_result`` answer from them.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CORP_ID = "ww-test-corp"
CORP_SECRET = "corp-secret-value-xyz"
APP_ID = "wx-test-app"
APP_SECRET = "app-secret-value-xyz"

ADD_TEMPLATE = "/cgi-bin/externalcontact/add_msg_template"
LIST_TEMPLATES = "/cgi-bin/externalcontact/get_groupmsg_list_v2"
TEMPLATE_TASKS = "/cgi-bin/externalcontact/get_groupmsg_task"
SEND_RESULTS = "/cgi-bin/externalcontact/get_groupmsg_send_result"
#: WeCom's "invalid parameter"
INVALID_PARAM = 40058
MONTH_S = 31 * 24 * 3600

DEFAULTS: dict[str, dict[str, Any]] = {
    "/cgi-bin/message/send": {
        "errcode": 0,
        "errmsg": "ok",
        "invaliduser": "",
        "msgid": "app-msg-1",
    },
    "/cgi-bin/message/template/send": {"errcode": 0, "errmsg": "ok", "msgid": 200228332},
    # subscribe messages: bizsend answers no msgid (the receipt event carries it)
    "/cgi-bin/message/subscribe/bizsend": {"errcode": 0, "errmsg": "ok"},
}


@dataclass
class Call:
    path: str
    query: dict[str, str]
    body: dict[str, Any]


@dataclass
class Template:
    """A group-message template to customers, as WeCom keeps it."""

    msgid: str
    sender: str
    content: str
    create_time: int
    #: external_userid → send status (0 not sent yet, 1 sent, 2 not a contact, 3 had
    #: another group message)
    customers: dict[str, int]
    #: 0 the enterprise or the API, 1 a member's own
    create_type: int = 0
    #: WeCom names no creator for a template created through the API
    creator: str = ""


Answer = int | dict[str, Any] | str


@dataclass
class FakeWx:
    base_url: str = ""
    calls: list[Call] = field(default_factory=list)
    scripts: dict[str, list[Answer]] = field(default_factory=dict)
    valid_tokens: set[str] = field(default_factory=set)
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    templates: list[Template] = field(default_factory=list)
    #: seconds a ``"timeout"`` answer is held back (longer than the client's timeout)
    stall_seconds: float = 1.5
    clock: Callable[[], float] = time.time
    _msgids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def script(self, path: str, *answers: Answer) -> None:
        self.scripts.setdefault(path, []).extend(answers)

    def add_template(
        self,
        *,
        sender: str,
        external_userids: list[str],
        content: str,
        create_time: int | None = None,
        create_type: int = 0,
        creator: str = "",
    ) -> Template:
        """A template as if created (by the API, or by ``creator`` for a member's own)."""
        with self.lock:
            return self._new_template(
                sender, external_userids, content, create_time, create_type, creator
            )

    def guide_sends(self, msgid: str) -> None:
        """The guide confirms template ``msgid``: every customer of it gets it."""
        with self.lock:
            for template in self.templates:
                if template.msgid == msgid:
                    template.customers = dict.fromkeys(template.customers, 1)

    def _new_template(
        self,
        sender: str,
        external_userids: list[str],
        content: str,
        create_time: int | None = None,
        create_type: int = 0,
        creator: str = "",
    ) -> Template:
        template = Template(
            msgid=f"msgGCAAAXtWyuj{next(self._msgids):04d}",
            sender=sender,
            content=content,
            create_time=int(self.clock()) if create_time is None else create_time,
            customers=dict.fromkeys(external_userids, 0),
            create_type=create_type,
            creator=creator,
        )
        self.templates.append(template)
        return template

    def expire_tokens(self) -> None:
        with self.lock:
            self.valid_tokens.clear()

    def to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def answer(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON of a call (scripted ``"timeout"``/``"drop"`` answered
        at once: :meth:`serve` holds them back)."""
        status, payload, _late = self.serve(method, raw_path, body)
        return status, payload

    def serve(self, method: str, raw_path: str, body: bytes) -> tuple[int, dict[str, Any], str]:
        """The answer to a call and how it goes back: ``""`` at once, ``"timeout"`` after
        ``stall_seconds``, ``"drop"`` never (the connection is closed)."""
        parts = urlsplit(raw_path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        data = json.loads(body) if body else {}
        with self.lock:
            self.calls.append(Call(parts.path, query, data))
            if parts.path == "/cgi-bin/gettoken":
                if query.get("corpid") != CORP_ID or query.get("corpsecret") != CORP_SECRET:
                    return 200, {"errcode": 40001, "errmsg": "invalid credential"}, ""
                return 200, self._token(), ""
            if parts.path == "/cgi-bin/stable_token":
                if data.get("appid") != APP_ID:
                    return 200, {"errcode": 40013, "errmsg": "invalid appid"}, ""
                if data.get("secret") != APP_SECRET:
                    return 200, {"errcode": 40125, "errmsg": "invalid appsecret"}, ""
                return 200, self._token(), ""
            if query.get("access_token") not in self.valid_tokens:
                return 200, {"errcode": 42001, "errmsg": "access_token expired"}, ""
            script = self.scripts.get(parts.path)
            late = ""
            if script:
                step = script.pop(0)
                if isinstance(step, int):
                    return step, {}, ""
                if isinstance(step, dict):
                    return 200, step, ""
                late = step  # "timeout" / "drop": the call takes effect, its answer is lost
            return 200, self._default(parts.path, data), late

    def _default(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        if path == ADD_TEMPLATE:
            return self._add_template(data)
        if path == LIST_TEMPLATES:
            return self._list_templates(data)
        if path == TEMPLATE_TASKS:
            return self._tasks(data)
        if path == SEND_RESULTS:
            return self._send_results(data)
        return DEFAULTS.get(path, {"errcode": 0, "errmsg": "ok"})

    def _add_template(self, data: dict[str, Any]) -> dict[str, Any]:
        content = (data.get("text") or {}).get("content", "")
        if data.get("chat_type", "single") != "single" or not data.get("sender"):
            return {"errcode": INVALID_PARAM, "errmsg": "invalid chat_type or sender"}
        template = self._new_template(
            str(data["sender"]), list(data.get("external_userid") or []), content
        )
        return {"errcode": 0, "errmsg": "ok", "fail_list": [], "msgid": template.msgid}

    def _list_templates(self, data: dict[str, Any]) -> dict[str, Any]:
        start, end = data.get("start_time"), data.get("end_time")
        if not isinstance(start, int) or not isinstance(end, int) or end < start:
            return {"errcode": INVALID_PARAM, "errmsg": "invalid start_time / end_time"}
        if end - start > MONTH_S:
            return {"errcode": INVALID_PARAM, "errmsg": "time range over one month"}
        if data.get("chat_type", "single") != "single":
            found: list[Template] = []  # no customer-group templates here
        else:
            kinds = {0: (0,), 1: (1,)}.get(data.get("filter_type", 2), (0, 1))
            creator = data.get("creator")
            found = [
                t
                for t in self.templates
                if start <= t.create_time <= end
                and t.create_type in kinds
                and (not creator or t.creator == creator)
            ]
        page, cursor = _page(found, data, default=50, most=100)
        items = []
        for t in page:
            item: dict[str, Any] = {
                "msgid": t.msgid,
                "create_time": t.create_time,
                "create_type": t.create_type,
                "text": {"content": t.content},
                "attachments": [],
            }
            if t.creator:  # not returned for templates the API created
                item["creator"] = t.creator
            items.append(item)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "group_msg_list": items}

    def _tasks(self, data: dict[str, Any]) -> dict[str, Any]:
        tasks = [
            {"userid": t.sender, "status": 2 if 1 in t.customers.values() else 0}
            for t in self.templates
            if t.msgid == data.get("msgid")
        ]
        page, cursor = _page(tasks, data, default=500, most=1000)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "task_list": page}

    def _send_results(self, data: dict[str, Any]) -> dict[str, Any]:
        rows: list[dict[str, Any]] = [
            {"external_userid": ext, "userid": t.sender, "status": status}
            | ({"send_time": t.create_time} if status == 1 else {})
            for t in self.templates
            if t.msgid == data.get("msgid") and t.sender == data.get("userid")
            for ext, status in t.customers.items()
        ]
        page, cursor = _page(rows, data, default=500, most=1000)
        return {"errcode": 0, "errmsg": "ok", "next_cursor": cursor, "send_list": page}

    def _token(self) -> dict[str, Any]:
        self.issued += 1
        token = f"tok-{self.issued}"
        self.valid_tokens.add(token)
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}


def _page(
    items: list[Any], data: dict[str, Any], *, default: int, most: int
) -> tuple[list[Any], str]:
    """One page of ``items`` by the request's ``limit`` (over ``most``: ``default``) and
    ``cursor``; → the page and the next cursor (``""``: no more)."""
    limit = data.get("limit")
    size = limit if isinstance(limit, int) and 0 < limit <= most else default
    start = int(data.get("cursor") or 0)
    page = items[start : start + size]
    more = start + size < len(items)
    return page, str(start + size) if more else ""


@contextmanager
def running_fake() -> Iterator[FakeWx]:
    fake = FakeWx()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            status, payload, late = fake.serve(self.command, self.path, self.rfile.read(length))
            if late == "drop":
                self.close_connection = True
                return
            if late == "timeout":
                time.sleep(fake.stall_seconds)
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

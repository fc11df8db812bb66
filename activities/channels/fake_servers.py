"""Local stand-ins of the SMS and SMTP providers, on loopback, for tests, the delivery bench
and trying the channels out without an account.

They follow the providers' documented formats: :class:`FakeAliyunSms` checks the RPC
signature (HMAC-SHA1, signature version 1.0) and answers ``SendSms``, ``QuerySendDetails``
and ``QuerySmsSign`` as dysmsapi 2017-05-25 does; :class:`FakeTencentSms` checks the
TC3-HMAC-SHA256 ``Authorization`` and answers ``SendSms``,
``PullSmsSendStatusByPhoneNumber`` and ``DescribeSmsTemplateList`` as SMS API 2021-01-11
does; :class:`FakeSmtp` speaks enough SMTP for ``smtplib`` (EHLO, AUTH PLAIN, MAIL, RCPT,
DATA, NOOP, QUIT). Each can be scripted (``script``: the next answers to ``SendSms`` /
``MAIL``: ``ok``, ``throttle``, ``5xx``, ``timeout`` — take the message, answer too late)
and keeps what it accepted, with the moment it did. Like Tencent, :class:`FakeTencentSms`
can list a message in ``PullSmsSendStatusByPhoneNumber`` only once the carrier reported it
(``hold_reports``; :meth:`FakeTencentSms.report` is the carrier's report).
"""

from __future__ import annotations

import base64
import itertools
import json
import socketserver
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

from activities.channels.aliyun_sms import signature as aliyun_signature
from activities.channels.tencent_sms import tc3_authorization

BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Accepted:
    """A message a fake provider took."""

    provider_message_id: str
    phone: str
    correlation: str  # Aliyun OutId / Tencent SessionContext / SMTP Message-ID
    text: str
    at: float  # time.time() when taken


@dataclass
class _Fake:
    key_id: str
    secret: str
    script: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    #: seconds a ``timeout`` answer is held back (longer than the client's timeout)
    stall_seconds: float = 3.0
    url: str = ""
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: when the request being handled arrived (set first thing, before parsing and the
    #: signature check, so a busy fake does not blur the moments it counts)
    arrival: threading.local = field(default_factory=threading.local)

    def next_outcome(self) -> str:
        with self._lock:
            return self.script.pop(0) if self.script else "ok"

    def take(self, phone: str, correlation: str, text: str) -> Accepted:
        with self._lock:
            at = getattr(self.arrival, "at", None) or time.time()
            item = Accepted(f"{next(self._ids):012d}", phone, correlation, text, at)
            self.accepted.append(item)
            return item


class _Handler(BaseHTTPRequestHandler):
    fake: Any
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


# ---------------------------------------------------------------------- Aliyun


@dataclass
class FakeAliyunSms(_Fake):
    sign_name: str = "测试签名"

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        given = params.pop("Signature", "")
        if params.get("AccessKeyId") != self.key_id:
            return 404, {
                "Code": "InvalidAccessKeyId.NotFound",
                "Message": "Specified access key is not found.",
            }
        if given != aliyun_signature(params, self.secret):
            return 400, {
                "Code": "SignatureDoesNotMatch",
                "Message": "Specified signature is not matched with our calculation.",
            }
        action = params.get("Action", "")
        self.calls.append(action)
        if action == "SendSms":
            return self._send(params)
        if action == "QuerySendDetails":
            return 200, self._details(params)
        if action == "QuerySmsSign":
            if params.get("SignName") != self.sign_name:
                return 200, {"Code": "isv.SMS_SIGN_ILLEGAL", "Message": "签名不合法"}
            return 200, {
                "Code": "OK",
                "Message": "OK",
                "SignName": self.sign_name,
                "SignStatus": 1,
                "RequestId": "fake",
            }
        return 400, {"Code": "InvalidAction.NotFound", "Message": action}

    def _send(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        outcome = self.next_outcome()
        if outcome == "throttle":
            return 200, {
                "Code": "isv.BUSINESS_LIMIT_CONTROL",
                "Message": "触发分钟级流控Permits:1",
                "RequestId": "fake",
            }
        if outcome == "5xx":
            return 503, {
                "Code": "ServiceUnavailable",
                "Message": "The request has failed due to a temporary failure of the server.",
                "RequestId": "fake",
            }
        if not params.get("PhoneNumbers", "").isdigit():
            return 200, {
                "Code": "isv.MOBILE_NUMBER_ILLEGAL",
                "Message": "非法手机号",
                "RequestId": "fake",
            }
        text = json.loads(params.get("TemplateParam") or "{}")
        item = self.take(
            params["PhoneNumbers"], params.get("OutId", ""), json.dumps(text, ensure_ascii=False)
        )
        if outcome == "timeout":
            time.sleep(self.stall_seconds)
        return 200, {
            "Code": "OK",
            "Message": "OK",
            "BizId": item.provider_message_id,
            "RequestId": "fake",
        }

    def _details(self, params: dict[str, str]) -> dict[str, Any]:
        rows = [
            {
                "PhoneNum": a.phone,
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "OutId": a.correlation,
                "SendDate": datetime.fromtimestamp(a.at, BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                "Content": a.text,
            }
            for a in self.accepted
            if a.phone == params.get("PhoneNumber")
            and datetime.fromtimestamp(a.at, BEIJING).strftime("%Y%m%d") == params.get("SendDate")
        ]
        return {
            "Code": "OK",
            "Message": "OK",
            "TotalCount": len(rows),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": rows},
        }

    def receipt(
        self, item: Accepted, *, success: bool = True, at: float | None = None
    ) -> dict[str, Any]:
        """An SmsReport of the HTTP batch push for ``item``."""
        when = datetime.fromtimestamp(at or time.time(), BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return {
            "phone_number": item.phone,
            "send_time": when,
            "report_time": when,
            "success": success,
            "err_code": "DELIVERED" if success else "MK:0001",
            "err_msg": "用户接收成功" if success else "用户拒收",
            "sms_size": "1",
            "biz_id": item.provider_message_id,
            "out_id": item.correlation,
        }


# ---------------------------------------------------------------------- Tencent


@dataclass
class FakeTencentSms(_Fake):
    #: list a message in PullSmsSendStatusByPhoneNumber only once :meth:`report` was called
    #: for it, as Tencent does (False: at once, as if the carrier reported instantly)
    hold_reports: bool = False
    reported: set[str] = field(default_factory=set)

    def report(self, item: Accepted) -> None:
        """The carrier reported ``item``: Tencent lists it from now on."""
        with self._lock:
            self.reported.add(item.correlation)

    def handle(self, headers: Any, payload: bytes) -> tuple[int, dict[str, Any]]:
        auth = headers.get("Authorization", "")
        action = headers.get("X-TC-Action", "")
        try:
            timestamp = int(headers.get("X-TC-Timestamp", "0"))
        except ValueError:
            timestamp = 0
        if f"Credential={self.key_id}/" not in auth:
            return 200, _tencent_error("AuthFailure.SecretIdNotFound", "The SecretId is not found")
        expected = tc3_authorization(
            secret_id=self.key_id,
            secret_key=self.secret,
            host=headers.get("Host", ""),
            payload=payload,
            timestamp=timestamp,
        )
        if auth != expected:
            return 200, _tencent_error(
                "AuthFailure.SignatureFailure", "The provided credentials could not be validated."
            )
        self.calls.append(action)
        params = json.loads(payload or b"{}")
        if action == "SendSms":
            return self._send(params)
        if action == "PullSmsSendStatusByPhoneNumber":
            found = [
                {
                    "SerialNo": a.provider_message_id,
                    "PhoneNumber": a.phone,
                    "ReportStatus": "SUCCESS",
                    "Description": "DELIVRD",
                    "UserReceiveTime": int(a.at),
                    "SessionContext": a.correlation,
                }
                for a in self.accepted
                if a.phone == params.get("PhoneNumber")
                and (not self.hold_reports or a.correlation in self.reported)
            ]
            return 200, {"Response": {"PullSmsSendStatusSet": found, "RequestId": "fake"}}
        if action == "DescribeSmsTemplateList":
            return 200, {"Response": {"DescribeTemplateStatusSet": [], "RequestId": "fake"}}
        return 200, _tencent_error("InvalidAction", action)

    def _send(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        outcome = self.next_outcome()
        if outcome == "5xx":
            return 502, {"message": "bad gateway"}
        phone = (params.get("PhoneNumberSet") or [""])[0]
        if outcome == "throttle":
            status = {
                "SerialNo": "",
                "PhoneNumber": phone,
                "Fee": 0,
                "SessionContext": params.get("SessionContext", ""),
                "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                "Message": "too many messages to this number within 30 seconds",
                "IsoCode": "CN",
            }
            return 200, {"Response": {"SendStatusSet": [status], "RequestId": "fake"}}
        item = self.take(
            phone, params.get("SessionContext", ""), " ".join(params.get("TemplateParamSet") or [])
        )
        if outcome == "timeout":
            time.sleep(self.stall_seconds)
        status = {
            "SerialNo": f"2019:{item.provider_message_id}",
            "PhoneNumber": phone,
            "Fee": 1,
            "SessionContext": item.correlation,
            "Code": "Ok",
            "Message": "send success",
            "IsoCode": "CN",
        }
        item.provider_message_id = status["SerialNo"]
        return 200, {"Response": {"SendStatusSet": [status], "RequestId": "fake"}}

    @staticmethod
    def receipt(item: Accepted, *, success: bool = True, at: float | None = None) -> dict[str, Any]:
        """A status callback entry for ``item``."""
        when = datetime.fromtimestamp(at or time.time(), BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        return {
            "user_receive_time": when,
            "nationcode": "86",
            "mobile": item.phone.removeprefix("+86"),
            "report_status": "SUCCESS" if success else "FAIL",
            "errmsg": "DELIVRD" if success else "UNDELIV",
            "description": "用户短信送达成功" if success else "用户短信未送达",
            "sid": item.provider_message_id,
        }


def _tencent_error(code: str, message: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": "fake"}}


@contextmanager
def serve_aliyun(fake: FakeAliyunSms) -> Iterator[FakeAliyunSms]:
    """Run ``fake`` on a free loopback port (``fake.url``) for the block."""

    class Handler(_Handler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            fake.arrival.at = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            status, answer = fake.handle(dict(parse_qsl(body, keep_blank_values=True)))
            self._answer(status, answer)

    with _serving(Handler) as url:
        fake.url = url
        yield fake


@contextmanager
def serve_tencent(fake: FakeTencentSms) -> Iterator[FakeTencentSms]:
    """Run ``fake`` on a free loopback port (``fake.url``) for the block."""

    class Handler(_Handler):
        def do_POST(self) -> None:  # noqa: N802
            fake.arrival.at = time.time()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, answer = fake.handle(self.headers, body)
            self._answer(status, answer)

    with _serving(Handler) as url:
        fake.url = url
        yield fake


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a worker's activity slots connect at once


@contextmanager
def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def aliyun_asgi(fake: FakeAliyunSms) -> Any:
    """``fake`` as an ASGI app (one event loop instead of a thread per connection: what
    ``bench.delivery`` serves with uvicorn, so the fake's own scheduling blurs the arrival
    moments it counts as little as possible)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        fake.arrival.at = time.time()
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        status, answer = fake.handle(dict(parse_qsl(body.decode(), keep_blank_values=True)))
        data = json.dumps(answer, ensure_ascii=False).encode()
        headers = [(b"content-type", b"application/json; charset=utf-8")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})

    return app


# ---------------------------------------------------------------------- SMTP


@dataclass
class FakeSmtp:
    username: str
    password: str
    script: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    port: int = 0


@contextmanager
def serve_smtp(fake: FakeSmtp) -> Iterator[FakeSmtp]:
    """A plain (no TLS) SMTP server on loopback for ``smtplib``; ``fake.port``."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            def say(line: str) -> None:
                self.wfile.write((line + "\r\n").encode())

            say("220 fake ESMTP")
            authed = not fake.username
            rcpt = ""
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                line = raw.decode().rstrip("\r\n")
                verb = line.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    say("250-fake")
                    say("250 AUTH PLAIN")
                elif verb == "AUTH":
                    parts = line.split(" ")
                    creds = base64.b64decode(parts[2]).split(b"\0") if len(parts) > 2 else []
                    ok = [c.decode() for c in creds[1:]] == [fake.username, fake.password]
                    authed = ok
                    say("235 2.7.0 ok" if ok else "535 5.7.8 authentication failed")
                elif verb == "MAIL":
                    if not authed:
                        say("530 5.7.0 authentication required")
                        continue
                    outcome = fake.script.pop(0) if fake.script else "ok"
                    if outcome == "throttle":
                        say("421 4.7.0 too many messages, slow down")
                    elif outcome == "5xx":
                        say("554 5.7.1 rejected")
                    else:
                        say("250 ok")
                elif verb == "RCPT":
                    rcpt = line.split(":", 1)[1].strip().strip("<>")
                    say("250 ok")
                elif verb == "DATA":
                    say("354 go ahead")
                    data = []
                    while True:
                        chunk = self.rfile.readline().decode()
                        if chunk in (".\r\n", ".\n", ""):
                            break
                        data.append(chunk)
                    text = "".join(data)
                    msgid = next(
                        (
                            h.split(":", 1)[1].strip()
                            for h in data
                            if h.lower().startswith("message-id:")
                        ),
                        "",
                    )
                    fake.accepted.append(
                        Accepted(str(len(fake.accepted) + 1), rcpt, msgid, text, time.time())
                    )
                    say("250 queued")
                elif verb in ("NOOP", "RSET"):
                    say("250 ok")
                elif verb == "QUIT":
                    say("221 bye")
                    return
                else:
                    say("502 not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.port = server.server_address[1]
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()

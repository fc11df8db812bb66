"""Pure-ASGI middlewares: the request's UI locale and CSRF protection.

Pure ASGI (not ``BaseHTTPMiddleware``) so the locale context variable set here is the one the
endpoint, its thread-pool dependencies and template rendering see.

CSRF is a *signed double-submit cookie*: the server sets ``journeys_csrf`` (a random value
signed with ``Settings.secret_key``); every POST/PUT/PATCH/DELETE must echo it in the
``X-CSRF-Token`` header. htmx sends it through ``hx-headers`` on ``<body>``, ``canvas.js``
adds it to its ``fetch`` calls. A page on another origin can neither read the cookie nor
forge the signature, so it cannot produce the header. Over https the cookie is ``Secure``
(the scheme the app sees: behind a reverse proxy trusted with ``JOURNEYS_FORWARDED_ALLOW_IPS``
uvicorn takes it from ``X-Forwarded-Proto``), so it never travels over plain http.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from http.cookies import SimpleCookie

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from canvas_ui import i18n
from db.session import IN_REQUEST

CSRF_COOKIE = "journeys_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except Exception:  # a malformed cookie header is treated as no cookies
                return {}
            return {key: morsel.value for key, morsel in jar.items()}
    return {}


def _header(scope: Scope, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", []):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


class RequestScopeMiddleware:
    """Marks the request's context (:data:`db.session.IN_REQUEST`), so tests can refuse
    database calls that a request makes on the event loop (``db.session.guard_event_loop``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = IN_REQUEST.set(True)
        try:
            await self.app(scope, receive, send)
        finally:
            IN_REQUEST.reset(token)


class LocaleMiddleware:
    """Sets the UI locale for the request from the language cookie or Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # a machine calling the API names no language: it reads English, like the rest of
        # the API's errors; a browser's fetches carry its cookie or Accept-Language
        default = "en" if scope.get("path", "").startswith("/api/") else i18n.DEFAULT_LOCALE
        locale = i18n.negotiate(
            _cookies(scope).get(i18n.COOKIE_NAME), _header(scope, b"accept-language"), default
        )
        scope.setdefault("state", {})["locale"] = locale
        token = i18n.set_locale(locale)
        try:
            await self.app(scope, receive, send)
        finally:
            i18n.reset_locale(token)


class CsrfMiddleware:
    """Refuses state-changing requests without a valid ``X-CSRF-Token`` header (403).

    The cookie is ``Secure`` on https requests, and on every request when ``secure`` is set
    (TLS ends at a proxy the app does not take the scheme from).
    """

    def __init__(
        self, app: ASGIApp, *, secret: str, exempt_paths: Collection[str] = (), secure: bool = False
    ) -> None:
        self.app = app
        self.signer = Signer(secret, salt="journeys-csrf")
        self.exempt_paths = tuple(exempt_paths)
        self.secure = secure

    def _valid(self, token: str | None) -> bool:
        if not token:
            return False
        try:
            self.signer.unsign(token)
        except BadSignature:
            return False
        return True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = _cookies(scope).get(CSRF_COOKIE)
        have_valid_cookie = self._valid(cookie)
        token = (
            cookie
            if have_valid_cookie and cookie
            else self.signer.sign(secrets.token_urlsafe(24)).decode()
        )
        scope.setdefault("state", {})["csrf_token"] = token

        method = scope["method"]
        path: str = scope["path"]
        if method not in SAFE_METHODS and not path.startswith(self.exempt_paths):
            sent = _header(scope, CSRF_HEADER.encode())
            if not (have_valid_cookie and sent and secrets.compare_digest(sent, token)):
                await self._forbidden(send)
                return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and not have_valid_cookie:
                headers = MutableHeaders(scope=message)
                secure = self.secure or scope.get("scheme") in ("https", "wss")
                attrs = "Path=/; SameSite=Lax" + ("; Secure" if secure else "")
                headers.append("set-cookie", f"{CSRF_COOKIE}={token}; {attrs}")
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    @staticmethod
    async def _forbidden(send: Send) -> None:
        body = json.dumps(
            {
                "detail": i18n.gettext(
                    "CSRF check failed: send the X-CSRF-Token header with the value of the "
                    "journeys_csrf cookie (reload the page to get a new one)."
                )
            },
            ensure_ascii=False,
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

"""Over https the CSRF and session cookies are Secure; behind a reverse proxy the app takes the
scheme (and the client address) from X-Forwarded-* only when JOURNEYS_FORWARDED_ALLOW_IPS
trusts that proxy."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from canvas_ui.serving import web_config

CSRF = "journeys_csrf"


def _set_cookie(response: httpx.Response, name: str) -> str:
    found = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert found, response.headers
    return found[0]


@pytest.mark.parametrize(("base", "secure"), [("https://canvas.test", True), ("http://x", False)])
def test_cookies_are_secure_over_https(canvas_app: FastAPI, base: str, secure: bool) -> None:
    client = TestClient(canvas_app, base_url=base, follow_redirects=False)
    page = client.get("/login")
    assert ("; Secure" in _set_cookie(page, CSRF)) is secure
    client.headers["X-CSRF-Token"] = client.cookies[CSRF]
    signed = client.post("/login", data={"username": "hq", "password": "test-pass"})
    assert signed.status_code == 303
    session = _set_cookie(signed, "journeys_session").lower()
    assert ("; secure" in session) is secure and "httponly" in session


@pytest.mark.parametrize(("trusted", "secure"), [("127.0.0.1", True), ("", False)])
async def test_forwarded_proto_counts_only_from_a_trusted_proxy(
    canvas_app: FastAPI, trusted: str, secure: bool
) -> None:
    settings = canvas_app.state.settings.model_copy(update={"forwarded_allow_ips": trusted})
    config = web_config(settings, canvas_app)
    config.load()  # uvicorn's app as it serves it: the proxy middleware in front when trusted
    transport = httpx.ASGITransport(app=config.loaded_app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://canvas") as client:
        page = await client.get(
            "/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
        )
    assert ("; Secure" in _set_cookie(page, CSRF)) is secure

"""Login throttling: too many failed sign-ins lock an account, or a client address, for the
window (429 with Retry-After and a message in the user's language), even for the right
password; the counts live in the database, so another web process sees them too."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from canvas_ui.app import create_app
from canvas_ui.middleware import CSRF_COOKIE, CSRF_HEADER
from db.models import LoginAttempt
from db.session import make_engine
from services.accounts import LoginFailedError, create_user, login
from services.login_throttle import LoginLimits, LoginThrottledError
from settings import Settings

WINDOW = 900


def _app(engine: Engine, db_url: str, **settings: Any) -> FastAPI:
    return create_app(
        Settings(database_url=db_url, secret_key="throttle-secret", **settings),
        temporal=None,
        engine=engine,
    )


@pytest.fixture
def app(engine: Engine, db_url: str) -> Iterator[FastAPI]:
    """Accounts hq and ops (password pw-<name>); 3 failures per account, 5 per client."""
    with Session(engine) as s:
        for name in ("hq", "ops"):
            create_user(session=s, username=name, password=f"pw-{name}", role="hq")
    yield _app(engine, db_url, login_account_limit=3, login_client_limit=5)


def _client(app: FastAPI, address: str = "10.0.0.1", lang: str = "en") -> TestClient:
    client = TestClient(app, follow_redirects=False, client=(address, 40000))
    client.get("/login")
    client.headers[CSRF_HEADER] = client.cookies[CSRF_COOKIE]
    client.headers["Accept-Language"] = lang
    return client


def _post(client: TestClient, username: str, password: str, **headers: str) -> Any:
    return client.post("/login", data={"username": username, "password": password}, headers=headers)


def _age_attempts(engine: Engine, by: timedelta) -> None:
    """Move every recorded attempt ``by`` into the past (the window passing, without waiting)."""
    with Session(engine) as s:
        for row in s.exec(select(LoginAttempt)).all():
            row.at -= by
            s.add(row)
        s.commit()


def test_the_right_password_is_refused_while_the_account_is_locked(
    app: FastAPI, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    client = _client(app)
    assert [_post(client, "hq", "guess").status_code for _ in range(3)] == [422] * 3
    with caplog.at_level(logging.WARNING, logger="services.login_throttle"):
        locked = _post(client, "hq", "pw-hq")
    assert locked.status_code == 429 and "journeys_session" not in locked.cookies
    assert 0 < int(locked.headers["retry-after"]) <= WINDOW
    assert "Too many failed sign-ins. Try again in 15 minutes." in locked.text
    assert "<form" in locked.text  # the sign-in page, with the message
    # logged as a warning naming the account and the address, never the password
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("'hq'" in w and "10.0.0.1" in w for w in warnings), warnings
    assert not any("pw-hq" in r.getMessage() or "guess" in r.getMessage() for r in caplog.records)
    # the lock is per account: another account from the same address still signs in
    assert _post(_client(app), "ops", "pw-ops").status_code == 303
    # once the failures have aged out of the window the right password works again
    _age_attempts(engine, timedelta(seconds=WINDOW + 1))
    assert _post(client, "hq", "pw-hq").status_code == 303


def test_a_client_address_is_locked_across_accounts(app: FastAPI) -> None:
    guesser = _client(app, "10.0.0.9")
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert _post(guesser, name, "guess").status_code == 422
    assert _post(guesser, "ops", "pw-ops").status_code == 429
    # the accounts themselves are not locked: another address signs in
    assert _post(_client(app, "10.0.0.2"), "ops", "pw-ops").status_code == 303


def test_a_success_resets_the_account_but_not_the_address(app: FastAPI) -> None:
    client = _client(app, "10.0.0.3")
    for _ in range(2):
        assert [_post(client, "hq", "guess").status_code for _ in range(2)] == [422, 422]
        assert _post(client, "hq", "pw-hq").status_code == 303
    # 4 failures from this address so far (successes are not counted): one more locks it
    assert _post(client, "ops", "guess").status_code == 422
    assert _post(client, "ops", "pw-ops").status_code == 429


def test_another_web_process_sees_the_lock(app: FastAPI, db_url: str) -> None:
    for _ in range(3):
        assert _post(_client(app), "hq", "guess").status_code == 422
    # a second app on its own engine (connection pool), as a second uvicorn process would be
    other = make_engine(db_url)
    try:
        second = _app(other, db_url, login_account_limit=3, login_client_limit=5)
        assert _post(_client(second, "10.0.0.7"), "hq", "pw-hq").status_code == 429
    finally:
        other.dispose()


def test_chinese_message_for_htmx_and_json_for_api_clients(app: FastAPI) -> None:
    client = _client(app, lang="zh-CN")
    for _ in range(3):
        _post(client, "hq", "guess")
    form = _post(client, "hq", "pw-hq", **{"HX-Request": "true"})
    assert form.status_code == 429
    assert "登录失败次数过多，请在 15 分钟后再试。" in form.text
    assert form.text.lstrip().startswith("<form")  # the block htmx swaps in (see app.js)
    api = _post(client, "hq", "pw-hq", Accept="application/json")
    assert api.status_code == 429 and api.headers["retry-after"]
    assert api.json() == {"detail": "登录失败次数过多，请在 15 分钟后再试。"}


def test_service_lock_lifts_after_the_window(session: Session) -> None:
    create_user(session=session, username="g1", password="pw-g1", role="hq")
    limits = LoginLimits(account=2, client=10, window=timedelta(minutes=10))
    t0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)

    def attempt(password: str, at: datetime) -> str:
        try:
            login(
                session=session,
                username="g1",
                password=password,
                secret="s",
                client="10.1.1.1",
                limits=limits,
                now=at,
            )
        except LoginFailedError:
            return "wrong"
        except LoginThrottledError as exc:
            return f"locked {exc.retry_after}"
        return "ok"

    assert attempt("x", t0) == "wrong"
    assert attempt("x", t0 + timedelta(minutes=4)) == "wrong"
    # locked until the first failure ages out: 10 min after t0
    assert attempt("pw-g1", t0 + timedelta(minutes=5)) == "locked 300"
    assert attempt("pw-g1", t0 + timedelta(minutes=9, seconds=59)) == "locked 1"
    assert attempt("pw-g1", t0 + timedelta(minutes=10)) == "ok"

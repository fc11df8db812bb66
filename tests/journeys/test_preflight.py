"""Outside the local demo (JOURNEYS_DEMO) the web app and the workers refuse to start with the
default secrets or with demo logins that still open with the demo password; the message
names what to set. (The rest of the suite runs as the demo: tests/conftest.py.)"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from canvas_ui.app import create_app
from journeys import cli
from services.accounts import demo_accounts, seed_demo_users
from services.preflight import UnsafeStartError, check_safe_to_start
from settings import DEMO_EVENTS_API_KEY, Settings, get_settings

SECRETS = {"secret_key": "s" * 32, "webhook_secret": "w" * 32}


def test_default_secrets_are_refused_and_named() -> None:
    with pytest.raises(UnsafeStartError) as refused:
        check_safe_to_start(Settings(demo=False, events_api_key=DEMO_EVENTS_API_KEY))
    message = str(refused.value)
    for name in ("JOURNEYS_SECRET_KEY", "JOURNEYS_WEBHOOK_SECRET", "JOURNEYS_EVENTS_API_KEY"):
        assert name in message
    assert "JOURNEYS_DEMO=true" in message
    with pytest.raises(UnsafeStartError, match="JOURNEYS_WEBHOOK_SECRET"):
        check_safe_to_start(Settings(demo=False, secret_key="s" * 32, webhook_secret=""))


def test_real_secrets_or_the_demo_start() -> None:
    check_safe_to_start(Settings(demo=False, events_api_key="", **SECRETS))
    check_safe_to_start(Settings(demo=False, events_api_key="machine-key-1", **SECRETS))
    check_safe_to_start(Settings(demo=True, events_api_key=DEMO_EVENTS_API_KEY))


def test_create_app_refuses(engine: Engine, db_url: str) -> None:
    with pytest.raises(UnsafeStartError, match="JOURNEYS_SECRET_KEY"):
        create_app(Settings(demo=False, database_url=db_url), temporal=None, engine=engine)
    create_app(Settings(demo=False, database_url=db_url, **SECRETS), temporal=None, engine=engine)


def test_demo_logins_are_refused_until_switched_off(engine: Engine, db_url: str) -> None:
    seed_demo_users(session_or_engine=engine)  # admin and hq (no demo chain here)
    settings = Settings(demo=False, database_url=db_url, **SECRETS)
    with pytest.raises(UnsafeStartError, match="demo accounts admin, hq") as refused:
        create_app(settings, temporal=None, engine=engine)
    assert "journeys disable-demo-logins" in str(refused.value)
    with _cli_env(db_url):
        done = CliRunner().invoke(cli.app, ["disable-demo-logins"])
    assert done.exit_code == 0 and "Switched off: admin, hq" in done.output
    with Session(engine) as session:
        assert demo_accounts(session=session) == []
    create_app(settings, temporal=None, engine=engine)


@contextlib.contextmanager
def _cli_env(db_url: str, **env: str) -> Iterator[None]:
    """The CLI's (cached) settings on ``db_url`` and ``env``."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {"DATABASE_URL": db_url, **env}.items():
            mp.setenv(key, value)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


@pytest.mark.parametrize("command", [["web"], ["worker"], ["enrollment-worker"]])
def test_web_and_workers_refuse_to_start(
    command: list[str], db_url: str, engine: Engine, tmp_path: Path
) -> None:
    with _cli_env(db_url, JOURNEYS_DEMO="false", JOURNEYS_DATA_DIR=str(tmp_path)):
        refused = CliRunner().invoke(cli.app, command)
    assert refused.exit_code == 2, refused.output
    assert "JOURNEYS_SECRET_KEY" in refused.output and "JOURNEYS_DEMO=true" in refused.output


def test_up_outside_the_demo_brings_no_demo_data(db_url: str, tmp_path: Path) -> None:
    with _cli_env(db_url, JOURNEYS_DEMO="false", JOURNEYS_DATA_DIR=str(tmp_path)):
        seeded = CliRunner().invoke(cli.app, ["up", "--seed"])
        unsafe = CliRunner().invoke(cli.app, ["up", "--no-seed"])
    assert seeded.exit_code == 2 and "JOURNEYS_DEMO=true" in seeded.output
    # refused before anything starts: the secrets are checked first
    assert unsafe.exit_code == 2 and "JOURNEYS_WEBHOOK_SECRET" in unsafe.output
    assert not (tmp_path / "temporal.db").exists()

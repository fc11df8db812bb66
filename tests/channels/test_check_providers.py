"""``journeys check-providers`` and the worker's start-up check: a clear error naming the
variable, a signed read against the provider, nothing sent."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from activities.channels.fake_servers import FakeAliyunSms, FakeSmtp
from journeys.cli import app
from tests.channels.conftest import ALIYUN_ID, ALIYUN_SECRET, SMTP_PASSWORD, SMTP_USER

runner = CliRunner()


def _aliyun_env(monkeypatch: pytest.MonkeyPatch, fake: FakeAliyunSms, secret: str) -> None:
    for name, value in {
        "JOURNEYS_SMS_PROVIDER": "aliyun",
        "JOURNEYS_ALIYUN_SMS_ACCESS_KEY_ID": ALIYUN_ID,
        "JOURNEYS_ALIYUN_SMS_ACCESS_KEY_SECRET": secret,
        "JOURNEYS_ALIYUN_SMS_ENDPOINT": fake.url,
        "JOURNEYS_ALIYUN_SMS_SIGN_NAME": fake.sign_name,
        "JOURNEYS_ALIYUN_SMS_TEMPLATE_CODE": "SMS_0001",
    }.items():
        monkeypatch.setenv(name, value)


def test_good_credentials_pass_without_sending(
    monkeypatch: pytest.MonkeyPatch, aliyun: FakeAliyunSms, smtp: FakeSmtp
) -> None:
    _aliyun_env(monkeypatch, aliyun, ALIYUN_SECRET)
    for name, value in {
        "JOURNEYS_EMAIL_PROVIDER": "smtp",
        "JOURNEYS_SMTP_HOST": "127.0.0.1",
        "JOURNEYS_SMTP_PORT": str(smtp.port),
        "JOURNEYS_SMTP_SECURITY": "none",
        "JOURNEYS_SMTP_USERNAME": SMTP_USER,
        "JOURNEYS_SMTP_PASSWORD": SMTP_PASSWORD,
        "JOURNEYS_SMTP_FROM": "journeys@example.com",
    }.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["check-providers"])
    assert result.exit_code == 0, result.output
    assert "sms: ok" in result.output and "email: ok" in result.output
    assert "wecom: outbox" in result.output
    assert aliyun.calls == ["QuerySmsSign"] and aliyun.accepted == [] and smtp.accepted == []


def test_bad_credentials_name_the_variables(
    monkeypatch: pytest.MonkeyPatch, aliyun: FakeAliyunSms
) -> None:
    _aliyun_env(monkeypatch, aliyun, "not-the-secret")
    result = runner.invoke(app, ["check-providers"])
    assert result.exit_code == 2
    assert "JOURNEYS_ALIYUN_SMS_ACCESS_KEY_SECRET" in result.output
    assert "not-the-secret" not in result.output


def test_unknown_provider_and_missing_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOURNEYS_SMS_PROVIDER", "tencnet")
    result = runner.invoke(app, ["check-providers"])
    assert result.exit_code == 2
    assert "JOURNEYS_SMS_PROVIDER" in result.output and "did you mean 'tencent'" in result.output
    monkeypatch.setenv("JOURNEYS_SMS_PROVIDER", "tencent")
    # the worker refuses to start, naming what is missing
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "JOURNEYS_TENCENT_SMS_SECRET_ID" in result.output

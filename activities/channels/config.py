"""Provider configuration, from environment variables (prefix ``JOURNEYS_``, or ``.env``).

Kept apart from :class:`settings.Settings`: only the worker (which sends), the web app
(which takes receipts) and ``journeys check-providers`` read it. Secrets are ``SecretStr``:
they never appear in a repr, a log line or an error message. :meth:`ChannelSettings.problems`
names the variable behind every missing or unknown value, so a bad configuration stops the
worker at start-up instead of failing message by message.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "JOURNEYS_"
SMS_PROVIDERS = ("outbox", "aliyun", "tencent")
EMAIL_PROVIDERS = ("outbox", "smtp")


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the provider configuration: the variable and what to do."""

    variable: str
    message: str

    def __str__(self) -> str:
        return f"{self.variable}: {self.message}"


class ChannelSettings(BaseSettings):
    """Which provider delivers each channel, and each provider's credentials and limits."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_file=".env", extra="ignore")

    #: ``outbox`` (default: kept in the outbox table), ``aliyun`` or ``tencent``.
    sms_provider: str = "outbox"
    #: ``outbox`` (default) or ``smtp``.
    email_provider: str = "outbox"

    # Aliyun SMS (dysmsapi 2017-05-25, RPC API signed with the AccessKey)
    aliyun_sms_access_key_id: str = ""
    aliyun_sms_access_key_secret: SecretStr = SecretStr("")
    aliyun_sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    aliyun_sms_sign_name: str = ""
    #: The approved template every message goes through, its one variable carrying the
    #: rendered text; ``aliyun_sms_templates`` maps a node id to its own template instead.
    aliyun_sms_template_code: str = ""
    aliyun_sms_template_param: str = "content"
    aliyun_sms_templates: dict[str, str] = Field(default_factory=dict)
    #: Sends per second for the whole install (every worker shares the bucket).
    aliyun_sms_rate_per_second: float = Field(default=100.0, gt=0)
    #: Shared token in the receipt URLs (Aliyun's HTTP push signs nothing).
    aliyun_sms_callback_token: SecretStr = SecretStr("")

    # Tencent Cloud SMS (API 3.0, version 2021-01-11, TC3-HMAC-SHA256)
    tencent_sms_secret_id: str = ""
    tencent_sms_secret_key: SecretStr = SecretStr("")
    tencent_sms_endpoint: str = "https://sms.tencentcloudapi.com"
    tencent_sms_region: str = "ap-guangzhou"
    tencent_sms_sdk_app_id: str = ""
    tencent_sms_sign_name: str = ""
    tencent_sms_template_id: str = ""
    tencent_sms_templates: dict[str, str] = Field(default_factory=dict)
    tencent_sms_rate_per_second: float = Field(default=100.0, gt=0)
    tencent_sms_callback_token: SecretStr = SecretStr("")
    #: Seconds after an attempt that Tencent may still report it: its look-up
    #: (``PullSmsSendStatusByPhoneNumber``) lists a message only once the carrier reported
    #: it, so a retry inside this window waits instead of sending again (0: no wait).
    tencent_sms_report_window_seconds: float = Field(default=600.0, ge=0)

    # e-mail over SMTP
    smtp_host: str = ""
    smtp_port: int = Field(default=465, ge=1, le=65535)
    #: ``ssl`` (implicit TLS, port 465), ``starttls`` (port 587) or ``none`` (a local relay).
    smtp_security: Literal["ssl", "starttls", "none"] = "ssl"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_from: str = ""
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    smtp_rate_per_second: float = Field(default=10.0, gt=0)

    #: Seconds every worker holds back a provider's sends after it answered "too fast".
    throttle_backoff_seconds: float = Field(default=1.0, ge=0)

    def problems(self) -> list[ConfigProblem]:
        """Everything missing or unknown, each naming its variable (empty = usable)."""
        found: list[ConfigProblem] = []
        found += _choice("sms_provider", self.sms_provider, SMS_PROVIDERS)
        found += _choice("email_provider", self.email_provider, EMAIL_PROVIDERS)
        if self.sms_provider == "aliyun":
            found += self._required(
                "aliyun_sms_access_key_id",
                "aliyun_sms_access_key_secret",
                "aliyun_sms_sign_name",
            )
            if not self.aliyun_sms_template_code and not self.aliyun_sms_templates:
                found.append(_problem("aliyun_sms_template_code", "set an approved template"))
        if self.sms_provider == "tencent":
            found += self._required(
                "tencent_sms_secret_id",
                "tencent_sms_secret_key",
                "tencent_sms_sdk_app_id",
                "tencent_sms_sign_name",
            )
            if not self.tencent_sms_template_id and not self.tencent_sms_templates:
                found.append(_problem("tencent_sms_template_id", "set an approved template"))
        if self.email_provider == "smtp":
            found += self._required("smtp_host", "smtp_from")
            if self.smtp_username and not self.smtp_password.get_secret_value():
                found.append(_problem("smtp_password", "set it (JOURNEYS_SMTP_USERNAME is set)"))
        return found

    def _required(self, *fields: str) -> list[ConfigProblem]:
        missing = []
        for name in fields:
            value = getattr(self, name)
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            if not str(text).strip():
                missing.append(_problem(name, "missing; the chosen provider needs it"))
        return missing


def env_name(field: str) -> str:
    """The environment variable of a :class:`ChannelSettings` field."""
    return f"{ENV_PREFIX}{field.upper()}"


def _problem(field: str, message: str) -> ConfigProblem:
    return ConfigProblem(env_name(field), message)


def _choice(field: str, value: str, known: tuple[str, ...]) -> list[ConfigProblem]:
    if value in known:
        return []
    close = difflib.get_close_matches(value, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return [_problem(field, f"unknown provider {value!r} (one of {', '.join(known)}){hint}")]


class ProviderConfigError(RuntimeError):
    """The provider configuration cannot be used; ``problems`` name the variables."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        super().__init__(
            "message providers are not configured correctly:\n"
            + "\n".join(f"  {p}" for p in problems)
        )
        self.problems = problems

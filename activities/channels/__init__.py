"""Real message delivery: which provider delivers each channel, and the providers.

:func:`build_providers` is the one place a channel is mapped to its provider (``sms`` →
Aliyun / Tencent / outbox, ``email`` → SMTP / outbox, ``webhook`` → the signed webhook;
``wecom`` → WeCom and ``wechat_template`` / ``wechat_subscribe`` → the WeChat official
account (template / subscribe messages) when their
``JOURNEYS_WECOM_*`` / ``JOURNEYS_WECHAT_*`` variables are set, see
:mod:`activities.channels.wx_providers`; outbox otherwise). Configuration comes
from :class:`ChannelSettings` (environment variables); a bad one raises
:class:`ProviderConfigError` naming the variables, which stops the worker at start-up.
Every real provider sends through the shared rate limiter (:func:`rate_limited`).
"""

from __future__ import annotations

from typing import Protocol

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.aliyun_sms import AliyunSms
from activities.channels.config import (
    EMAIL_PROVIDERS,
    SMS_PROVIDERS,
    ChannelSettings,
    ConfigProblem,
    ProviderConfigError,
    env_name,
)
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.phone import mask, to_e164
from activities.channels.ratelimit import (
    RateLimitedError,
    RateLimitedProvider,
    SendRateLimiter,
    rate_limited,
)
from activities.channels.smtp_email import SmtpEmail
from activities.channels.tencent_sms import TencentSms
from activities.channels.wx_providers import wx_problems, wx_providers, wx_rates
from activities.providers import MessageProvider, OutboxProvider, WebhookProvider

#: Every channel a journey can send on (engine.contact_policy.MESSAGE_CHANNELS).
CHANNELS = ("sms", "wecom", "wechat_template", "wechat_subscribe", "email", "webhook")


class CheckableProvider(MessageProvider, Protocol):
    def check(self) -> str:
        """A cheap authenticated read (nothing sent): → what was checked; raises
        :class:`ProviderCheckError` naming the variable to fix."""
        ...


def configured_providers(
    channels: ChannelSettings,
    http: httpx.Client,
    sessions: sessionmaker[Session] | None = None,
) -> dict[str, CheckableProvider]:
    """The real providers the configuration chooses, by channel, without rate limits
    (``journeys check-providers`` checks these; ``sessions``: for the WeCom / WeChat
    providers' recipient look-ups). Raises :class:`ProviderConfigError`."""
    problems = channels.problems() + wx_problems()
    if problems:
        raise ProviderConfigError(problems)
    chosen: dict[str, CheckableProvider] = {}
    if channels.sms_provider == "aliyun":
        chosen["sms"] = AliyunSms(channels, http)
    elif channels.sms_provider == "tencent":
        chosen["sms"] = TencentSms(channels, http)
    if channels.email_provider == "smtp":
        chosen["email"] = SmtpEmail(channels)
    chosen.update(wx_providers(http=http, sessions=sessions))  # JOURNEYS_WECOM_/WECHAT_*
    return chosen


def build_providers(
    *,
    webhook_secret: str,
    http: httpx.Client,
    sessions: sessionmaker[Session],
    channels: ChannelSettings | None = None,
) -> dict[str, MessageProvider]:
    """Channel → provider, for ``JourneyActivities`` (``sessions``: write sessions, for
    the shared rate buckets). The outbox keeps whatever has no real provider configured,
    so an install without credentials runs. Raises :class:`ProviderConfigError`."""
    channels = channels if channels is not None else ChannelSettings()
    outbox = OutboxProvider()
    registry: dict[str, MessageProvider] = dict.fromkeys(CHANNELS, outbox)
    registry["webhook"] = WebhookProvider(http, webhook_secret)
    rates = {
        AliyunSms.name: channels.aliyun_sms_rate_per_second,
        TencentSms.name: channels.tencent_sms_rate_per_second,
        SmtpEmail.name: channels.smtp_rate_per_second,
        **wx_rates(),
    }
    for channel, provider in configured_providers(channels, http, sessions).items():
        registry[channel] = rate_limited(
            provider,
            sessions,
            rates[provider.name],
            backoff_seconds=channels.throttle_backoff_seconds,
        )
    return registry


__all__ = [
    "CHANNELS",
    "EMAIL_PROVIDERS",
    "SMS_PROVIDERS",
    "AliyunSms",
    "ChannelSettings",
    "CheckableProvider",
    "ConfigProblem",
    "ProviderAuthError",
    "ProviderCheckError",
    "ProviderConfigError",
    "RateLimitedError",
    "RateLimitedProvider",
    "SendRateLimiter",
    "SmtpEmail",
    "TencentSms",
    "build_providers",
    "configured_providers",
    "env_name",
    "mask",
    "rate_limited",
    "to_e164",
]

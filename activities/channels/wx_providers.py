"""The WeCom and WeChat providers the environment configures, for
``activities.channels.build_providers`` (channel → provider) and ``check-providers``."""

from __future__ import annotations

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.config import ConfigProblem
from activities.channels.wechat import WeChatClient, WeChatSettings, WeChatTemplateProvider
from activities.channels.wechat_subscribe import WeChatSubscribeProvider
from activities.channels.wecom import WeComClient, WeComCustomerProvider, WeComSettings


def wx_problems(
    wecom: WeComSettings | None = None, wechat: WeChatSettings | None = None
) -> list[ConfigProblem]:
    """Every WeCom / WeChat variable that is missing or malformed."""
    return [*(wecom or WeComSettings()).problems(), *(wechat or WeChatSettings()).problems()]


def wx_rates(
    wecom: WeComSettings | None = None, wechat: WeChatSettings | None = None
) -> dict[str, float]:
    """Provider name → sends per second (the shared rate buckets)."""
    return {
        WeComCustomerProvider.name: (wecom or WeComSettings()).rate_per_second,
        WeChatTemplateProvider.name: (wechat or WeChatSettings()).rate_per_second,
        WeChatSubscribeProvider.name: (wechat or WeChatSettings()).subscribe_rate_per_second,
    }


def wx_providers(
    *,
    http: httpx.Client,
    sessions: sessionmaker[Session] | None,
    wecom: WeComSettings | None = None,
    wechat: WeChatSettings | None = None,
) -> dict[str, WeComCustomerProvider | WeChatTemplateProvider | WeChatSubscribeProvider]:
    """``wecom``, ``wechat_template`` and ``wechat_subscribe`` providers for what is
    configured (nothing: the outbox keeps those channels; both WeChat channels share one
    client and its access token). Not rate limited yet: the caller wraps them with
    ``rate_limited(provider, sessions, provider.rate_per_second)``."""
    wecom = wecom or WeComSettings()
    wechat = wechat or WeChatSettings()
    found: dict[str, WeComCustomerProvider | WeChatTemplateProvider | WeChatSubscribeProvider] = {}
    if wecom.configured:
        found["wecom"] = WeComCustomerProvider(WeComClient(wecom, http), sessions)
    if wechat.configured:
        client = WeChatClient(wechat, http)
        found["wechat_template"] = WeChatTemplateProvider(client, sessions)
        found["wechat_subscribe"] = WeChatSubscribeProvider(client, sessions)
    return found

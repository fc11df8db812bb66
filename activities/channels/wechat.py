"""WeChat official account (公众号) template messages, the ``wechat_template`` channel.

``message/template/send`` with the customer's ``openid`` (``customer.wechat_openid``), a
``template_id`` and the template's ``data``. Which template and fields a message fills:

* a rendered body that is a JSON object with ``data`` (and optionally ``template_id``,
  ``url``) is sent as written — values may be strings or ``{"value": …}`` objects;
* any other body goes into the default template ``JOURNEYS_WECHAT_TEMPLATE_ID``: the body in
  field ``JOURNEYS_WECHAT_BODY_FIELD`` and the subject, if any, in
  ``JOURNEYS_WECHAT_TITLE_FIELD``.

``client_msg_id`` is the outbox message id: WeChat sends one message per openid and id
within 10 minutes, so a retried activity does not send twice. The answer's ``msgid`` is
the provider message id; the ``TEMPLATESENDJOBFINISH`` event (see
``services.wx_callbacks``) later says whether it arrived. The access token comes from
``cgi-bin/stable_token``, which — unlike ``cgi-bin/token`` — does not invalidate the token
another process holds.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.config import ConfigProblem
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.wx_api import (
    TOKEN_ERRCODES,
    AccessTokenCache,
    RetryPolicy,
    WxApi,
    WxApiError,
    errcode_of,
    request_json,
)
from activities.providers import (
    Delivery,
    MessageRejectedError,
    OutboundMessage,
    TransientDeliveryError,
)
from db.models import Customer
from engine import subscribe_content

PROVIDER = "wechat"
#: stable_token errcodes that mean the app id or secret is wrong, or this IP is not allowed.
_CREDENTIAL_ERRCODES = frozenset({40001, 40013, 40125, 40164, 41002, 41004, 61024})
#: WeChat answers 40001 "invalid credential" for a stale token too.
_TOKEN_ERRCODES = TOKEN_ERRCODES | {40001}
_WHY = {
    43004: "the customer does not follow the official account",
    43101: "the customer refused messages from the official account",
    40003: "the openid is not valid for this official account",
    40037: "the template_id is not one of the account's templates",
    47003: "the template data does not fit the template (a missing field or a value too long)",
}


class WeChatSettings(BaseSettings):
    """``JOURNEYS_WECHAT_*``: the official account and its server-callback keys."""

    model_config = SettingsConfigDict(
        env_prefix="JOURNEYS_WECHAT_", env_file=".env", extra="ignore"
    )

    app_id: str = ""
    secret: SecretStr = SecretStr("")
    #: the server configuration's Token (callback signature), and its EncodingAESKey for
    #: 安全模式 (empty: plain mode)
    token: SecretStr = SecretStr("")
    aes_key: SecretStr = SecretStr("")
    template_id: str = ""
    title_field: str = "first"
    body_field: str = "keyword1"
    #: where a tap on the message goes (must be in the account's configured domains)
    url: str = ""
    base_url: str = "https://api.weixin.qq.com"
    timeout_seconds: float = 10.0
    #: template sends per second for the whole install (the shared rate bucket)
    rate_per_second: float = Field(default=20.0, gt=0)
    #: subscribe messages (``wechat_subscribe``, see activities.channels.wechat_subscribe):
    #: the default subscribe template, the field a plain-text message goes into, and where a
    #: tap goes (a web page, or ``subscribe_miniprogram_appid`` + a ``page`` path)
    subscribe_template_id: str = ""
    subscribe_body_field: str = "thing1"
    subscribe_page: str = ""
    subscribe_miniprogram_appid: str = ""
    #: subscribe sends per second for the whole install (its own rate bucket)
    subscribe_rate_per_second: float = Field(default=20.0, gt=0)

    @property
    def configured(self) -> bool:
        return bool(self.app_id and self.secret.get_secret_value())

    @property
    def callback_configured(self) -> bool:
        return bool(self.token.get_secret_value())

    def problems(self) -> list[ConfigProblem]:
        """What is missing or malformed, each naming its variable (empty when WeChat is
        not wanted at all)."""
        out = []
        if self.app_id or self.secret.get_secret_value():
            if not self.app_id:
                out.append(ConfigProblem("JOURNEYS_WECHAT_APP_ID", "missing; WeChat needs it"))
            if not self.secret.get_secret_value():
                out.append(ConfigProblem("JOURNEYS_WECHAT_SECRET", "missing; WeChat needs it"))
        key = self.aes_key.get_secret_value()
        if key and len(key) != 43:
            out.append(ConfigProblem("JOURNEYS_WECHAT_AES_KEY", "must be 43 characters"))
        if not subscribe_content.KEY.match(self.subscribe_body_field):
            out.append(
                ConfigProblem(
                    "JOURNEYS_WECHAT_SUBSCRIBE_BODY_FIELD",
                    "must be a subscribe-template field such as thing1",
                )
            )
        return out


class WeChatClient:
    """The official account's API with a cached stable token."""

    def __init__(
        self,
        settings: WeChatSettings,
        client: httpx.Client | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self._http = client or httpx.Client(timeout=settings.timeout_seconds)
        extra: dict[str, Any] = {"retry": retry}
        if sleep is not None:
            extra["sleep"] = sleep
        self.tokens = AccessTokenCache(self._token)
        self.api = WxApi(
            name="WeChat",
            client=self._http,
            base_url=settings.base_url,
            tokens=self.tokens,
            token_errcodes=_TOKEN_ERRCODES,
            **extra,
        )

    def _token(self, force_refresh: bool) -> tuple[str, float]:
        data = request_json(
            self._http,
            "POST",
            f"{self.settings.base_url.rstrip('/')}/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.settings.app_id,
                "secret": self.settings.secret.get_secret_value(),
                "force_refresh": force_refresh,
            },
        )
        errcode = errcode_of(data)
        if errcode in _CREDENTIAL_ERRCODES:
            raise ProviderAuthError(
                "WeChat",
                f"errcode {errcode}",
                ("JOURNEYS_WECHAT_APP_ID", "JOURNEYS_WECHAT_SECRET"),
            )
        if errcode != 0 or not data.get("access_token"):
            raise TransientDeliveryError(f"WeChat gave no access token (errcode {errcode})")
        return str(data["access_token"]), float(data.get("expires_in") or 7200)

    def check(self) -> str:
        """Fetch a token (nothing is sent); :class:`ProviderCheckError` when refused."""
        try:
            self.tokens.get()
        except (MessageRejectedError, TransientDeliveryError) as exc:
            raise ProviderCheckError(str(exc)) from exc
        return f"WeChat access token for app {self.settings.app_id}"

    def send_template(self, payload: dict[str, Any]) -> str:
        """``message/template/send``; → WeChat's msgid."""
        try:
            data = self.api.post("/cgi-bin/message/template/send", payload)
        except WxApiError as exc:
            why = _WHY.get(exc.errcode, exc.errmsg)
            raise MessageRejectedError(
                f"WeChat refused the template message (errcode {exc.errcode}: {why})"
            ) from exc
        return str(data.get("msgid") or "")


def template_payload(
    settings: WeChatSettings, *, openid: str, message: OutboundMessage
) -> dict[str, Any]:
    """The ``message/template/send`` body for ``message`` (module docstring)."""
    template_id, url = settings.template_id, settings.url
    data: dict[str, Any] | None = None
    body = message.body.strip()
    if body.startswith("{"):
        try:
            written = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to decode
            written = None
        if isinstance(written, dict) and isinstance(written.get("data"), dict):
            template_id = str(written.get("template_id") or template_id)
            url = str(written.get("url") or url)
            data = {
                k: v if isinstance(v, dict) else {"value": str(v)}
                for k, v in written["data"].items()
            }
    if data is None:
        data = {settings.body_field: {"value": message.body}}
        if message.subject and settings.title_field:
            data[settings.title_field] = {"value": message.subject}
    if not template_id:
        raise MessageRejectedError(
            "no WeChat template: set JOURNEYS_WECHAT_TEMPLATE_ID or write the message as "
            '{"template_id": …, "data": {…}}'
        )
    payload: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "client_msg_id": message.message_id[:64],
    }
    if url:
        payload["url"] = url
    return payload


def openid_of(sessions: sessionmaker[Session] | None, provider: str, customer_id: str) -> str:
    """The customer's openid under the official account, read at each send (an openid HQ
    just set on the customer card is used at once); none is a permanent failure naming
    why. Both WeChat channels (template and subscribe messages) reach customers by it."""
    if sessions is None:  # built for check-providers only
        raise TransientDeliveryError(f"{provider}: built without a database")
    with sessions() as session:
        customer = session.get(Customer, customer_id)
        openid = customer.wechat_openid if customer is not None else None
    if not openid:
        raise MessageRejectedError(
            f"customer {customer_id} has no WeChat openid (does not follow the official "
            "account, or nobody has set it on the customer card)"
        )
    return openid


class WeChatTemplateProvider:
    """The ``wechat_template`` channel (module docstring)."""

    name = PROVIDER

    def __init__(self, client: WeChatClient, sessions: sessionmaker[Session] | None) -> None:
        self._client = client
        self._sessions = sessions
        self.rate_per_second = client.settings.rate_per_second

    def check(self) -> str:
        return self._client.check()

    def deliver(self, message: OutboundMessage) -> Delivery:
        openid = openid_of(self._sessions, self.name, message.customer_id)
        payload = template_payload(self._client.settings, openid=openid, message=message)
        msgid = self._client.send_template(payload)
        return Delivery(
            status="sent", response=f"WeChat msgid {msgid}", provider_message_id=msgid or None
        )

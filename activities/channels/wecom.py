"""WeCom (企业微信): messages to customers through their guide, app messages to guides.

* **Customers** are WeCom *external contacts* of a guide. A journey's ``wecom`` message
  becomes an enterprise group-message template (``externalcontact/add_msg_template``,
  ``chat_type=single``) with the customer's ``external_userid`` and, as ``sender``, the
  WeCom ``userid`` of the customer's bound guide: WeCom shows it to the guide, who confirms
  it and WeCom sends it from the guide's account (the platform never lets a server message
  a customer directly). ``sent`` here means "waiting for the guide"; the template's
  ``msgid`` is the provider message id. A customer without a WeCom binding (no
  ``external_userid``, no bound guide, a guide without a WeCom ``userid``) is a permanent
  failure naming what is missing, so the node's ``on_failure`` applies.
  Creating a template is not idempotent and WeCom takes no dedupe id, so the call is never
  repeated inside an attempt after a timeout or 5xx (:mod:`activities.channels.wx_api`),
  and a retry first asks :meth:`WeComCustomerProvider.find_sent` whether the earlier attempt
  created it: the enterprise templates (``get_groupmsg_list_v2``, ``filter_type`` 0) created
  around that attempt with exactly the message's text, confirmed as given to the guide
  (``get_groupmsg_task``) for this customer (``get_groupmsg_send_result``). Found: that
  template's ``msgid`` is the answer and no second template is created.
* **Guides** get app messages (``message/send``, ``agentid``, text) for their task notices
  (:mod:`activities.guide_notices`), with WeCom's duplicate check on, so a notice pushed
  twice after a crash reaches the phone once.

Configured by ``JOURNEYS_WECOM_*`` (:class:`WeComSettings`); secrets are ``SecretStr`` and
never logged. Token caching, the one refresh on an expired token, throttling backoff and
5xx retries are :mod:`activities.channels.wx_api`'s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.config import ConfigProblem
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.wx_api import (
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
from db.models import Customer, Guide

log = logging.getLogger(__name__)

PROVIDER = "wecom"
#: ``find_sent`` looks for an earlier attempt's template created from this long before the
#: attempt (clock skew between us and WeCom) …
FIND_BEFORE_S = 60
#: … to this long after it (the rate limiter's wait, the HTTP timeout, clock skew).
FIND_AFTER_S = 300
#: Templates with the message's text that ``find_sent`` confirms at most (closest first).
MAX_CANDIDATES = 20
#: Pages of the template list read at most (100 templates each).
MAX_LIST_PAGES = 100
#: gettoken errcodes that mean the corp id or secret is wrong (or this IP is not allowed).
_CREDENTIAL_ERRCODES = frozenset({40001, 40013, 40056, 40091, 41002, 41004, 60020})


class WeComSettings(BaseSettings):
    """``JOURNEYS_WECOM_*``: the corp, its app (guide notices) and the callback keys."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYS_WECOM_", env_file=".env", extra="ignore")

    corp_id: str = ""
    #: the secret of the self-built app that sends guide notices (and, unless
    #: ``contact_secret`` is set, calls the customer-contact API: the app must then be in
    #: 客户联系 → 可调用应用)
    secret: SecretStr = SecretStr("")
    agent_id: int | None = None
    #: the 客户联系 secret, when customer-contact calls use it instead of the app's
    contact_secret: SecretStr = SecretStr("")
    #: the callback's Token and EncodingAESKey (43 characters), from the app's 接收消息 page
    callback_token: SecretStr = SecretStr("")
    callback_aes_key: SecretStr = SecretStr("")
    base_url: str = "https://qyapi.weixin.qq.com"
    timeout_seconds: float = 10.0
    #: WeCom drops an identical app message to the same member within this many seconds
    duplicate_check_seconds: int = 1800
    #: the tag a customer gets while they are a WeCom contact of a guide
    contact_tag: str = "企微好友"
    #: API calls per second for the whole install (the shared rate bucket)
    rate_per_second: float = Field(default=10.0, gt=0)

    @property
    def configured(self) -> bool:
        """Credentials for API calls are set (the outbox stays the default otherwise)."""
        return bool(self.corp_id and self.secret.get_secret_value())

    @property
    def app_configured(self) -> bool:
        """App messages to guides can be sent (credentials and the app's agent id)."""
        return self.configured and self.agent_id is not None

    @property
    def callback_configured(self) -> bool:
        return bool(
            self.corp_id
            and self.callback_token.get_secret_value()
            and self.callback_aes_key.get_secret_value()
        )

    @property
    def wanted(self) -> bool:
        """Any WeCom variable is set: then the configuration must be complete."""
        return bool(self.corp_id or self.secret.get_secret_value() or self.agent_id is not None)

    def problems(self) -> list[ConfigProblem]:
        """What is missing or malformed, each naming its variable (empty when WeCom is not
        wanted at all: the outbox keeps its messages)."""
        out = []
        if self.wanted:
            if not self.corp_id:
                out.append(ConfigProblem("JOURNEYS_WECOM_CORP_ID", "missing; WeCom needs it"))
            if not self.secret.get_secret_value():
                out.append(ConfigProblem("JOURNEYS_WECOM_SECRET", "missing; WeCom needs it"))
            if self.agent_id is None:
                out.append(
                    ConfigProblem("JOURNEYS_WECOM_AGENT_ID", "missing; guide notices need it")
                )
        key = self.callback_aes_key.get_secret_value()
        if key and len(key) != 43:
            out.append(ConfigProblem("JOURNEYS_WECOM_CALLBACK_AES_KEY", "must be 43 characters"))
        return out


class WeComClient:
    """The corp's API: one cached token per secret (app, customer contact)."""

    def __init__(
        self,
        settings: WeComSettings,
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
        app_secret = settings.secret
        contact_secret = (
            settings.contact_secret if settings.contact_secret.get_secret_value() else app_secret
        )
        self.app = WxApi(
            name="WeCom",
            client=self._http,
            base_url=settings.base_url,
            tokens=AccessTokenCache(lambda _forced: self._token(app_secret, "SECRET")),
            **extra,
        )
        self.contact = (
            self.app
            if contact_secret is app_secret
            else WxApi(
                name="WeCom",
                client=self._http,
                base_url=settings.base_url,
                tokens=AccessTokenCache(
                    lambda _forced: self._token(contact_secret, "CONTACT_SECRET")
                ),
                **extra,
            )
        )

    def _token(self, secret: SecretStr, variable: str) -> tuple[str, float]:
        data = request_json(
            self._http,
            "GET",
            f"{self.settings.base_url.rstrip('/')}/cgi-bin/gettoken",
            params={"corpid": self.settings.corp_id, "corpsecret": secret.get_secret_value()},
        )
        errcode = errcode_of(data)
        if errcode in _CREDENTIAL_ERRCODES:
            raise ProviderAuthError(
                "WeCom",
                f"errcode {errcode}",
                ("JOURNEYS_WECOM_CORP_ID", f"JOURNEYS_WECOM_{variable}"),
            )
        if errcode != 0 or not data.get("access_token"):
            raise TransientDeliveryError(f"WeCom gave no access token (errcode {errcode})")
        return str(data["access_token"]), float(data.get("expires_in") or 7200)

    def check(self) -> str:
        """Fetch the tokens (nothing is sent); :class:`ProviderCheckError` naming the
        variables when refused."""
        try:
            self.app.tokens.get()
            self.contact.tokens.get()
        except (MessageRejectedError, TransientDeliveryError) as exc:
            raise ProviderCheckError(str(exc)) from exc
        return f"WeCom access token for corp {self.settings.corp_id}"

    # ------------------------------------------------------------------ calls

    def add_msg_template(self, *, sender: str, external_userid: str, content: str) -> str:
        """A group-message template for one customer, to be confirmed by ``sender``;
        → WeCom's msgid. :class:`MessageRejectedError` when WeCom cannot send it to them."""
        payload = {
            "chat_type": "single",
            "external_userid": [external_userid],
            "sender": sender,
            "allow_select": False,
            "text": {"content": content},
        }
        try:
            # not idempotent: after a timeout the caller looks for it (find_sent) first
            data = self.contact.post(
                "/cgi-bin/externalcontact/add_msg_template", payload, idempotent=False
            )
        except WxApiError as exc:
            raise MessageRejectedError(
                f"WeCom refused the message template for guide {sender} "
                f"(errcode {exc.errcode} {exc.errmsg})"
            ) from exc
        if external_userid in (data.get("fail_list") or []):
            raise MessageRejectedError(
                f"WeCom cannot send to external contact {external_userid}: they are not a "
                f"contact of guide {sender} (or reached this month's group-message limit)"
            )
        return str(data.get("msgid") or "")

    def group_message_results(self, *, msgid: str, sender: str) -> list[dict[str, Any]]:
        """``externalcontact/get_groupmsg_send_result``: per customer of the template,
        ``status`` 0 not sent yet, 1 sent, 2 not a contact, 3 already got another group
        message (with ``send_time``); every page."""
        results: list[dict[str, Any]] = []
        cursor = ""
        while True:
            payload: dict[str, Any] = {"msgid": msgid, "userid": sender, "limit": 1000}
            if cursor:
                payload["cursor"] = cursor
            try:
                data = self.contact.post(
                    "/cgi-bin/externalcontact/get_groupmsg_send_result", payload
                )
            except WxApiError as exc:
                raise MessageRejectedError(
                    f"WeCom has no result for template {msgid} (errcode {exc.errcode})"
                ) from exc
            results += [r for r in data.get("send_list") or [] if isinstance(r, dict)]
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return results

    def group_message_templates(
        self, *, start_time: int, end_time: int
    ) -> Iterator[dict[str, Any]]:
        """``externalcontact/get_groupmsg_list_v2``: the enterprise's group-message
        templates to customers (``chat_type`` single, ``filter_type`` 0: created by the
        enterprise or the API, not by members themselves) created between the two moments
        (epoch seconds), every page. No ``creator`` filter: WeCom gives templates created
        through the API no creator, so it would leave out the very templates looked for."""
        cursor = ""
        for _ in range(MAX_LIST_PAGES):
            payload: dict[str, Any] = {
                "chat_type": "single",
                "start_time": start_time,
                "end_time": end_time,
                "filter_type": 0,
                "limit": 100,
            }
            if cursor:
                payload["cursor"] = cursor
            try:
                data = self.contact.post("/cgi-bin/externalcontact/get_groupmsg_list_v2", payload)
            except WxApiError as exc:
                # cannot tell whether an earlier attempt created it: not safe to send again
                raise TransientDeliveryError(
                    f"WeCom cannot list the group-message templates (errcode {exc.errcode} "
                    f"{exc.errmsg}): the customer-contact secret needs 群发消息 access"
                ) from exc
            yield from (m for m in data.get("group_msg_list") or [] if isinstance(m, dict))
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return
        raise TransientDeliveryError(
            f"WeCom listed more than {MAX_LIST_PAGES} pages of group-message templates"
        )

    def group_message_tasks(self, *, msgid: str) -> list[dict[str, Any]]:
        """``externalcontact/get_groupmsg_task``: the members asked to send template
        ``msgid`` (``userid``, ``status`` 0 not sent yet / 2 sent), every page."""
        tasks: list[dict[str, Any]] = []
        cursor = ""
        while True:
            payload: dict[str, Any] = {"msgid": msgid, "limit": 1000}
            if cursor:
                payload["cursor"] = cursor
            try:
                data = self.contact.post("/cgi-bin/externalcontact/get_groupmsg_task", payload)
            except WxApiError as exc:
                raise MessageRejectedError(
                    f"WeCom has no tasks for template {msgid} (errcode {exc.errcode})"
                ) from exc
            tasks += [t for t in data.get("task_list") or [] if isinstance(t, dict)]
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return tasks

    def send_app_text(self, *, userid: str, content: str) -> str:
        """An app text message to one member (a guide); → WeCom's msgid."""
        if self.settings.agent_id is None:
            raise MessageRejectedError("JOURNEYS_WECOM_AGENT_ID is not set")
        payload = {
            "touser": userid,
            "msgtype": "text",
            "agentid": self.settings.agent_id,
            "text": {"content": content},
            "safe": 0,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": self.settings.duplicate_check_seconds,
        }
        try:
            data = self.app.post("/cgi-bin/message/send", payload)
        except WxApiError as exc:
            raise MessageRejectedError(
                f"WeCom refused the app message to {userid} (errcode {exc.errcode} {exc.errmsg})"
            ) from exc
        invalid = str(data.get("invaliduser") or "").split("|")
        if userid in invalid:
            raise MessageRejectedError(
                f"WeCom member {userid} cannot receive the app's messages (not in the app's "
                "visible range, or no such member)"
            )
        return str(data.get("msgid") or "")


# ---------------------------------------------------------------------- customers


@dataclass(frozen=True)
class WeComRecipient:
    external_userid: str
    sender_userid: str
    guide_id: str


def wecom_recipient(session: Session, customer_id: str) -> WeComRecipient:
    """Who a WeCom message to ``customer_id`` goes to and through which guide;
    :class:`MessageRejectedError` naming what is missing."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise MessageRejectedError(f"customer {customer_id} does not exist")
    if not customer.wecom_external_userid:
        raise MessageRejectedError(
            f"customer {customer_id} has no WeCom binding: they are not a WeCom contact of "
            "any guide (no external_userid)"
        )
    if not customer.guide_id:
        raise MessageRejectedError(
            f"customer {customer_id} has no bound guide to send the WeCom message from"
        )
    guide = session.get(Guide, customer.guide_id)
    if guide is None or not guide.wecom_userid:
        raise MessageRejectedError(
            f"guide {customer.guide_id} of customer {customer_id} has no WeCom userid"
        )
    return WeComRecipient(customer.wecom_external_userid, guide.wecom_userid, guide.id)


class WeComCustomerProvider:
    """The ``wecom`` channel: a template the customer's guide confirms (module docstring)."""

    name = PROVIDER

    def __init__(self, client: WeComClient, sessions: sessionmaker[Session] | None) -> None:
        self._client = client
        self._sessions = sessions
        self.rate_per_second = client.settings.rate_per_second

    def check(self) -> str:
        return self._client.check()

    def deliver(self, message: OutboundMessage) -> Delivery:
        to = self._recipient(message)
        msgid = self._client.add_msg_template(
            sender=to.sender_userid, external_userid=to.external_userid, content=_content(message)
        )
        return Delivery(
            status="sent",
            response=f"WeCom template {msgid}: waiting for guide {to.sender_userid} to confirm",
            provider_message_id=msgid or None,
        )

    def find_sent(self, message: OutboundMessage) -> Delivery | None:
        """The template an earlier attempt created for ``message``, if WeCom lists one
        (module docstring): created within ``FIND_BEFORE_S`` / ``FIND_AFTER_S`` of the
        attempt, with exactly the message's text, given to the customer's guide, for the
        customer. ``None``: none, or the customer cannot be reached any more (then
        :meth:`deliver` says why)."""
        try:
            to = self._recipient(message)
        except MessageRejectedError:
            return None
        content = _content(message)
        around = int(message.attempted_at.timestamp() if message.attempted_at else time.time())
        candidates = [
            t
            for t in self._client.group_message_templates(
                start_time=around - FIND_BEFORE_S, end_time=around + FIND_AFTER_S
            )
            if (t.get("text") or {}).get("content") == content and t.get("msgid")
        ]
        candidates.sort(key=lambda t: abs(_epoch(t.get("create_time")) - around))
        if len(candidates) > MAX_CANDIDATES:
            log.warning(
                "WeCom: %d templates with the text of message %s; confirming the %d closest",
                len(candidates),
                message.message_id,
                MAX_CANDIDATES,
            )
        for template in candidates[:MAX_CANDIDATES]:
            msgid = str(template["msgid"])
            try:
                tasks = self._client.group_message_tasks(msgid=msgid)
                if not any(t.get("userid") == to.sender_userid for t in tasks):
                    continue
                results = self._client.group_message_results(msgid=msgid, sender=to.sender_userid)
            except MessageRejectedError:  # gone or not ours to read: not this one
                continue
            if any(r.get("external_userid") == to.external_userid for r in results):
                return Delivery(
                    status="sent",
                    response=(
                        f"WeCom template {msgid} (created by an earlier attempt): waiting for "
                        f"guide {to.sender_userid} to confirm"
                    ),
                    provider_message_id=msgid,
                )
        return None

    def _recipient(self, message: OutboundMessage) -> WeComRecipient:
        if self._sessions is None:  # built for check-providers only
            raise TransientDeliveryError(f"{self.name}: built without a database")
        with self._sessions() as session:
            return wecom_recipient(session, message.customer_id)


def _content(message: OutboundMessage) -> str:
    """The template's text: the subject (if any) on its own line, then the body."""
    return f"{message.subject}\n{message.body}" if message.subject else message.body


def _epoch(value: Any) -> int:
    """A ``create_time`` (WeCom documents a number, some answers carry a string)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0

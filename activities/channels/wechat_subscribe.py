"""WeChat official-account subscribe messages (公众号订阅通知), the ``wechat_subscribe`` channel.

``cgi-bin/message/subscribe/bizsend`` with the customer's ``openid``
(``customer.wechat_openid``), a subscribe ``template_id`` the customer agreed to receive,
the template's ``data`` and optionally where a tap goes (``page``: a web page, or
``miniprogram`` ``{appid, pagepath}``). What the message fills comes from its content
(:mod:`engine.subscribe_content`): a JSON object with ``data`` (and ``template_id``,
``page``, ``miniprogram``), or plain text that goes into field
``JOURNEYS_WECHAT_SUBSCRIBE_BODY_FIELD`` of template ``JOURNEYS_WECHAT_SUBSCRIBE_TEMPLATE_ID``.

A refusal is permanent and names the reason (the step's ``on_failure`` applies): 43101 — the
customer refused, or used up a one-time subscription; 47003 — the data does not fit the
template; 40037, 40003 … Throttling, "system busy", 5xx and a stale token are handled as for
template messages (:class:`activities.channels.wx_api.WxApi`). A value longer than its
field's type allows is refused here, before WeChat is asked.

``bizsend`` answers no message id and takes no dedupe id, so a retried activity is kept from
sending twice by the outbox key alone (``activities.messaging``), and a sent message waits
for its receipt under the id ``tpl:<template_id>``: the ``subscribe_msg_sent_event`` pushed
to the official account's callback names the openid, template and WeChat's ``MsgID``, and
``services.wx_callbacks`` gives it to the oldest such message of that customer and template
(an answer that does carry a ``msgid`` is stored as it is).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.wechat import WeChatClient, WeChatSettings, openid_of
from activities.channels.wx_api import WxApiError
from activities.providers import (
    Delivery,
    MessageRejectedError,
    OutboundMessage,
)
from engine.subscribe_content import SubscribeContentError, parse, too_long

PROVIDER = "wechat_subscribe"
CHANNEL = "wechat_subscribe"
SEND_PATH = "/cgi-bin/message/subscribe/bizsend"
#: The provider id a sent message keeps until its receipt names WeChat's MsgID.
PENDING_PREFIX = "tpl:"
_WHY = {
    43101: "the customer refused this subscribe message, or their one-time subscription "
    "is used up (they must subscribe again)",
    43004: "the customer does not follow the official account",
    40003: "the openid is not valid for this official account",
    40037: "the template_id is not one of the account's subscribe templates",
    47003: "the data does not fit the subscribe template (a missing field, or a value too "
    "long or of the wrong type)",
    48001: "the official account may not send subscribe messages (API not authorised)",
}


def pending_id(template_id: str) -> str:
    """The provider id of a sent message waiting for its receipt."""
    return f"{PENDING_PREFIX}{template_id}"[:128]


def subscribe_payload(
    settings: WeChatSettings, *, openid: str, message: OutboundMessage
) -> dict[str, Any]:
    """The ``bizsend`` body for ``message`` (module docstring); :class:`MessageRejectedError`
    when the content cannot make one."""
    try:
        content = parse(message.body)
    except SubscribeContentError as exc:
        raise MessageRejectedError(f"the WeChat subscribe message cannot be sent: {exc}") from exc
    data = dict(content.data)
    if content.plain is not None:
        data = {settings.subscribe_body_field: content.plain}
    template_id = content.template_id or settings.subscribe_template_id
    if not template_id:
        raise MessageRejectedError(
            "no WeChat subscribe template: set JOURNEYS_WECHAT_SUBSCRIBE_TEMPLATE_ID or write "
            'the message as {"template_id": …, "data": {…}}'
        )
    for key, value in data.items():
        limit = too_long(key, value)
        if limit is not None:
            raise MessageRejectedError(
                f"the WeChat subscribe field {key} takes at most {limit} characters; the "
                f"message has {len(value)}"
            )
    payload: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {key: {"value": value} for key, value in data.items()},
    }
    page = content.page or settings.subscribe_page
    if content.miniprogram:
        payload["miniprogram"] = content.miniprogram
    elif settings.subscribe_miniprogram_appid:
        payload["miniprogram"] = {"appid": settings.subscribe_miniprogram_appid}
        if page:
            payload["miniprogram"]["pagepath"] = page
    elif page:
        payload["page"] = page
    return payload


def send_subscribe(client: WeChatClient, payload: dict[str, Any]) -> str:
    """``bizsend`` ``payload``; → WeChat's msgid if it gave one (it usually does not).
    :class:`MessageRejectedError` naming the reason for a refusal."""
    try:
        data = client.api.post(SEND_PATH, payload)
    except WxApiError as exc:
        why = _WHY.get(exc.errcode, exc.errmsg)
        raise MessageRejectedError(
            f"WeChat refused the subscribe message (errcode {exc.errcode}: {why})"
        ) from exc
    return str(data.get("msgid") or "")


class WeChatSubscribeProvider:
    """The ``wechat_subscribe`` channel (module docstring)."""

    name = PROVIDER

    def __init__(self, client: WeChatClient, sessions: sessionmaker[Session] | None) -> None:
        self._client = client
        self._sessions = sessions
        self.rate_per_second = client.settings.subscribe_rate_per_second

    def check(self) -> str:
        return self._client.check()

    def deliver(self, message: OutboundMessage) -> Delivery:
        openid = openid_of(self._sessions, self.name, message.customer_id)
        payload = subscribe_payload(self._client.settings, openid=openid, message=message)
        msgid = send_subscribe(self._client, payload)
        template_id = str(payload["template_id"])
        return Delivery(
            status="sent",
            response=f"WeChat subscribe message accepted (template {template_id})",
            provider_message_id=msgid or pending_id(template_id),
        )

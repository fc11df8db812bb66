"""The callback URLs WeCom and WeChat are configured with (no login, no CSRF: each request
is signed by the platform, and a bad signature is a 401 with nothing changed).

* ``GET /callbacks/wecom`` — WeCom's URL check: ``msg_signature`` over the encrypted
  ``echostr``, answered with its decryption. ``POST /callbacks/wecom`` — an encrypted event
  (WXBizMsgCrypt); ``change_external_contact`` updates the customer's guide binding
  (``services.wx_callbacks``). Answered with an empty 200 (WeCom repeats a callback it got
  no answer to within 5 s).
* ``GET /callbacks/wechat`` — the official account's URL check (``signature`` =
  sha1 of sorted token, timestamp, nonce), answered with ``echostr``. ``POST
  /callbacks/wechat`` — an event, plain or, with ``encrypt_type=aes``, encrypted;
  ``TEMPLATESENDJOBFINISH`` is a template message's receipt and ``subscribe_msg_sent_event``
  a subscribe message's; one for a message this install never sent is a 404.

A body that is not a callback's XML is a 400.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from activities.channels.wechat import WeChatSettings
from activities.channels.wecom import WeComSettings
from activities.channels.wx_crypto import (
    CallbackRejectedError,
    MalformedCallbackError,
    WXBizMsgCrypt,
    check_signature,
    xml_fields,
    xml_lists,
)
from canvas_ui.deps import SessionDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services.wx_callbacks import UnknownMessageError, wechat_event, wecom_contact_event

log = logging.getLogger(__name__)

router = APIRouter(prefix="/callbacks", tags=["callbacks"], route_class=UnitOfWorkRoute)

PREFIX = "/callbacks"


@lru_cache
def get_wecom_settings() -> WeComSettings:
    """WeCom's settings from the environment (tests override this dependency)."""
    return WeComSettings()


@lru_cache
def get_wechat_settings() -> WeChatSettings:
    """WeChat's settings from the environment (tests override this dependency)."""
    return WeChatSettings()


WeComSettingsDep = Annotated[WeComSettings, Depends(get_wecom_settings)]
WeChatSettingsDep = Annotated[WeChatSettings, Depends(get_wechat_settings)]
Text = Annotated[str, Query(max_length=512)]


async def raw_body(request: Request) -> bytes:
    """The request's bytes (read on the loop; the body limit middleware bounds it)."""
    return await request.body()


RawBody = Annotated[bytes, Depends(raw_body)]


def _rejected(exc: CallbackRejectedError) -> HTTPException:
    log.warning("callback refused: %s", exc.reason)
    status = 400 if isinstance(exc, MalformedCallbackError) else 401
    return HTTPException(status, f"Callback refused: {exc.reason}.")


def _wecom_crypt(settings: WeComSettings) -> WXBizMsgCrypt:
    if not settings.callback_configured:
        raise HTTPException(
            404,
            "WeCom callbacks are not configured: set JOURNEYS_WECOM_CORP_ID, "
            "JOURNEYS_WECOM_CALLBACK_TOKEN and JOURNEYS_WECOM_CALLBACK_AES_KEY.",
        )
    try:
        return WXBizMsgCrypt(
            token=settings.callback_token.get_secret_value(),
            encoding_aes_key=settings.callback_aes_key.get_secret_value(),
            receive_id=settings.corp_id,
        )
    except ValueError as exc:  # the server's configuration, not the caller's request
        raise HTTPException(503, f"JOURNEYS_WECOM_CALLBACK_AES_KEY: {exc}.") from exc


@router.get("/wecom", response_class=PlainTextResponse)
def wecom_verify(
    settings: WeComSettingsDep, msg_signature: Text, timestamp: Text, nonce: Text, echostr: Text
) -> str:
    """WeCom's check of the callback URL: the decrypted ``echostr``."""
    try:
        return _wecom_crypt(settings).verify_url(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, echostr=echostr
        )
    except CallbackRejectedError as exc:
        raise _rejected(exc) from exc


@router.post("/wecom", response_class=PlainTextResponse)
def wecom_event(
    session: SessionDep,
    settings: WeComSettingsDep,
    body: RawBody,
    msg_signature: Text,
    timestamp: Text,
    nonce: Text,
) -> str:
    """An encrypted WeCom event; contact changes update the customer's guide binding."""
    try:
        plain = _wecom_crypt(settings).decrypt_message(
            msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, body=body
        )
        fields = xml_fields(plain)
    except CallbackRejectedError as exc:
        raise _rejected(exc) from exc
    done = wecom_contact_event(
        session=session, corp_id=settings.corp_id, fields=fields, contact_tag=settings.contact_tag
    )
    log.info("WeCom %s: %s", fields.get("ChangeType") or fields.get("Event"), done.outcome)
    return ""


def _wechat_check(settings: WeChatSettings, signature: str, timestamp: str, nonce: str) -> None:
    if not settings.callback_configured:
        raise HTTPException(404, "WeChat callbacks are not configured: set JOURNEYS_WECHAT_TOKEN.")
    try:
        check_signature(signature, settings.token.get_secret_value(), timestamp, nonce)
    except CallbackRejectedError as exc:
        raise _rejected(exc) from exc


@router.get("/wechat", response_class=PlainTextResponse)
def wechat_verify(
    settings: WeChatSettingsDep, signature: Text, timestamp: Text, nonce: Text, echostr: Text
) -> str:
    """The official account's check of the server URL: ``echostr`` back."""
    _wechat_check(settings, signature, timestamp, nonce)
    return echostr


@router.post("/wechat", response_class=PlainTextResponse)
def wechat_callback(
    session: SessionDep,
    settings: WeChatSettingsDep,
    body: RawBody,
    signature: Text,
    timestamp: Text,
    nonce: Text,
    encrypt_type: Annotated[str, Query(max_length=16)] = "",
    msg_signature: Annotated[str, Query(max_length=128)] = "",
) -> str:
    """An official-account event; ``TEMPLATESENDJOBFINISH`` and ``subscribe_msg_sent_event``
    are delivery receipts."""
    _wechat_check(settings, signature, timestamp, nonce)
    try:
        if encrypt_type == "aes":
            if not settings.aes_key.get_secret_value():
                raise CallbackRejectedError("encrypted event but JOURNEYS_WECHAT_AES_KEY unset")
            try:
                crypt = WXBizMsgCrypt(
                    token=settings.token.get_secret_value(),
                    encoding_aes_key=settings.aes_key.get_secret_value(),
                    receive_id=settings.app_id,
                )
            except ValueError as exc:
                raise HTTPException(503, f"JOURNEYS_WECHAT_AES_KEY: {exc}.") from exc
            body = crypt.decrypt_message(
                msg_signature=msg_signature, timestamp=timestamp, nonce=nonce, body=body
            ).encode()
        fields = xml_fields(body)
        items = xml_lists(body)
    except CallbackRejectedError as exc:
        raise _rejected(exc) from exc
    try:
        wechat_event(session=session, fields=fields, items=items)
    except UnknownMessageError as exc:
        raise HTTPException(
            404, f"No WeChat message with msgid {exc.provider_message_id}."
        ) from exc
    return "success"

"""The callback URLs of the SMS providers (no login, no CSRF: each URL carries the shared
token configured for its provider, since neither Aliyun's HTTP push nor Tencent's callbacks
are signed). Thin: see services.provider_callbacks.

* ``POST /callbacks/aliyun-sms/receipts?token=…`` — SmsReport batch; ``…/replies`` — SmsUp
  batch. Answered ``{"code": 0, "msg": "…"}`` (Aliyun repeats anything but a 200).
* ``POST /callbacks/tencent-sms/receipts?token=…`` — status callback; ``…/replies`` — reply
  callback. Answered ``{"result": 0, "errmsg": "OK"}``.

A bad or missing token is a 401 and changes nothing; a receipt for a message this install
never sent is a 404 naming it (the others of the batch are applied); a body that is not the
provider's format is a 422 naming the field.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, HTTPException, Query
from pydantic import TypeAdapter, ValidationError

from activities.channels import ChannelSettings, env_name
from canvas_ui.deps import SessionDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services.provider_callbacks import (
    AliyunReport,
    AliyunUp,
    CallbackTokenError,
    ReceiptsOutcome,
    TencentReply,
    TencentReport,
    apply_receipts,
    apply_reply,
    check_token,
)

PREFIX = "/callbacks"
ALIYUN = "aliyun_sms"
TENCENT = "tencent_sms"
router = APIRouter(prefix=PREFIX, tags=["callbacks"], route_class=UnitOfWorkRoute)


@lru_cache
def get_channel_settings() -> ChannelSettings:
    """The provider configuration (tests override this dependency)."""
    return ChannelSettings()


ChannelsDep = Annotated[ChannelSettings, Depends(get_channel_settings)]
#: The token may come in the URL (what the providers' consoles let one configure) or as
#: this header (a proxy in front may add it instead).
TokenQuery = Annotated[str | None, Query(alias="token")]
TokenHeader = Annotated[str | None, Header(alias="X-Callback-Token")]


def _authorise(expected: str, query: str | None, header: str | None, field: str) -> None:
    try:
        check_token(expected, query or header, env_name(field))
    except CallbackTokenError as exc:
        raise HTTPException(401, str(exc)) from exc


def _parse(adapter: TypeAdapter[Any], payload: Any) -> Any:
    items = payload if isinstance(payload, list) else [payload]
    try:
        return adapter.validate_python(items)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        detail = f"not the provider's callback format: {where}: {first['msg']}"
        raise HTTPException(422, detail) from exc


def _unknown(outcome: ReceiptsOutcome) -> None:
    if outcome.unknown:
        raise HTTPException(404, f"no message with provider id {', '.join(outcome.unknown)}")


_ALIYUN_REPORTS = TypeAdapter(list[AliyunReport])
_ALIYUN_UPS = TypeAdapter(list[AliyunUp])
_TENCENT_REPORTS = TypeAdapter(list[TencentReport])
_TENCENT_REPLIES = TypeAdapter(list[TencentReply])


@router.post("/aliyun-sms/receipts")
def aliyun_receipts(
    session: SessionDep,
    channels: ChannelsDep,
    token: TokenQuery = None,
    x_token: TokenHeader = None,
    payload: Any = Body(...),
) -> dict[str, Any]:
    """Aliyun SmsReport (HTTP batch push): each message's delivered / failed status."""
    _authorise(
        channels.aliyun_sms_callback_token.get_secret_value(),
        token,
        x_token,
        "aliyun_sms_callback_token",
    )
    reports = _parse(_ALIYUN_REPORTS, payload)
    outcome = apply_receipts(session, provider=ALIYUN, receipts=[r.receipt() for r in reports])
    _unknown(outcome)
    return {"code": 0, "msg": "接收成功"}


@router.post("/aliyun-sms/replies")
def aliyun_replies(
    session: SessionDep,
    channels: ChannelsDep,
    token: TokenQuery = None,
    x_token: TokenHeader = None,
    payload: Any = Body(...),
) -> dict[str, Any]:
    """Aliyun SmsUp (HTTP batch push): customers' replies; T / TD / 退订 opts out of SMS."""
    _authorise(
        channels.aliyun_sms_callback_token.get_secret_value(),
        token,
        x_token,
        "aliyun_sms_callback_token",
    )
    for up in _parse(_ALIYUN_UPS, payload):
        apply_reply(session, provider=ALIYUN, phone=up.phone_number, text=up.content, at=up.at)
    return {"code": 0, "msg": "接收成功"}


@router.post("/tencent-sms/receipts")
def tencent_receipts(
    session: SessionDep,
    channels: ChannelsDep,
    token: TokenQuery = None,
    x_token: TokenHeader = None,
    payload: Any = Body(...),
) -> dict[str, Any]:
    """Tencent status callback: each message's SUCCESS / FAIL."""
    _authorise(
        channels.tencent_sms_callback_token.get_secret_value(),
        token,
        x_token,
        "tencent_sms_callback_token",
    )
    reports = _parse(_TENCENT_REPORTS, payload)
    outcome = apply_receipts(session, provider=TENCENT, receipts=[r.receipt() for r in reports])
    _unknown(outcome)
    return {"result": 0, "errmsg": "OK"}


@router.post("/tencent-sms/replies")
def tencent_replies(
    session: SessionDep,
    channels: ChannelsDep,
    token: TokenQuery = None,
    x_token: TokenHeader = None,
    payload: Any = Body(...),
) -> dict[str, Any]:
    """Tencent reply callback: a customer's reply; T / TD / 退订 opts out of SMS."""
    _authorise(
        channels.tencent_sms_callback_token.get_secret_value(),
        token,
        x_token,
        "tencent_sms_callback_token",
    )
    for reply in _parse(_TENCENT_REPLIES, payload):
        apply_reply(session, provider=TENCENT, phone=reply.phone, text=reply.text, at=reply.at)
    return {"result": 0, "errmsg": "OK"}

"""Aliyun SMS (dysmsapi, version 2017-05-25) over its documented RPC HTTP API.

Requests are signed as the RPC API says (signature version 1.0: HMAC-SHA1 of
``POST&%2F&<percent-encoded sorted query>`` under ``<AccessKeySecret>&``). ``SendSms``
carries ``OutId`` = the outbox message id: Aliyun echoes it in ``QuerySendDetails`` and in
its delivery receipts. SendSms is not idempotent (Aliyun's own advice: after a timeout,
look the message up before sending again), so :meth:`AliyunSms.find_sent` looks for the
``OutId`` among the number's messages of the day before a retry sends.

Receipts (``SmsReport``) and replies (``SmsUp``) come by Aliyun's HTTP batch push: a JSON
array, answered ``{"code": 0, "msg": "..."}``; the push is not signed, so the callback
URL carries a shared token (see :mod:`services.provider_callbacks`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import httpx

from activities.channels.config import ChannelSettings, env_name
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.phone import to_e164
from activities.providers import (
    Delivery,
    MessageRejectedError,
    OutboundMessage,
    ThrottledError,
    TransientDeliveryError,
)

NAME = "aliyun_sms"
VERSION = "2017-05-25"
#: Aliyun's dates (SendDate of QuerySendDetails, receipt times) are Beijing time.
BEIJING = ZoneInfo("Asia/Shanghai")
THROTTLE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling", "Throttling.User"})
AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId.NotFound",
        "InvalidAccessKeyId.Inactive",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "isv.ACCOUNT_NOT_EXISTS",
        "isv.ACCOUNT_ABNORMAL",
        "Forbidden.RAM",
        "NoPermission",
        "isp.RAM_PERMISSION_DENY",
    }
)
TRANSIENT_CODES = frozenset({"ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR"})
CREDENTIALS = (
    env_name("aliyun_sms_access_key_id"),
    env_name("aliyun_sms_access_key_secret"),
)


def percent_encode(value: str) -> str:
    """RFC 3986 encoding as the RPC signature wants it (``~`` kept, space ``%20``)."""
    return quote(value, safe="~")


def signature(params: Mapping[str, str], secret: str, method: str = "POST") -> str:
    """The ``Signature`` of ``params`` (every parameter but ``Signature`` itself)."""
    query = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSms:
    """The ``sms`` channel through Aliyun SMS."""

    name = NAME

    def __init__(self, config: ChannelSettings, client: httpx.Client) -> None:
        self._config = config
        self._client = client

    # ------------------------------------------------------------------ sending

    def deliver(self, message: OutboundMessage) -> Delivery:
        phone = to_e164(message.phone)
        code = self._config.aliyun_sms_templates.get(
            message.node_id or "", self._config.aliyun_sms_template_code
        )
        param = json.dumps(
            {self._config.aliyun_sms_template_param: message.body}, ensure_ascii=False
        )
        data = self._call(
            "SendSms",
            {
                "PhoneNumbers": phone.lstrip("+"),
                "SignName": self._config.aliyun_sms_sign_name,
                "TemplateCode": code,
                "TemplateParam": param,
                "OutId": message.message_id,
            },
        )
        return Delivery(
            status="sent",
            response=f"Aliyun OK RequestId={data.get('RequestId', '')}",
            provider_message_id=str(data.get("BizId") or "") or None,
        )

    def find_sent(self, message: OutboundMessage) -> Delivery | None:
        """The message, if Aliyun took it already (its ``OutId`` on today's or yesterday's
        list for the number; Beijing dates)."""
        phone = to_e164(message.phone).lstrip("+")
        today = datetime.now(BEIJING).date()
        for day in (today, today - timedelta(days=1)):
            data = self._call(
                "QuerySendDetails",
                {
                    "PhoneNumber": phone,
                    "SendDate": day.strftime("%Y%m%d"),
                    "PageSize": "50",
                    "CurrentPage": "1",
                },
            )
            details = (data.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
            for item in details:
                if item.get("OutId") == message.message_id:
                    # QuerySendDetails gives no BizId: receipts find the row by OutId
                    return Delivery(
                        status="sent", response=f"Aliyun: already sent ({item.get('SendDate')})"
                    )
        return None

    def check(self) -> str:
        """A signed read (``QuerySmsSign`` of the sign name): credentials, endpoint and sign
        name work; nothing is sent."""
        try:
            data = self._call("QuerySmsSign", {"SignName": self._config.aliyun_sms_sign_name})
        except ProviderAuthError as exc:
            raise ProviderCheckError(str(exc)) from exc
        except (MessageRejectedError, TransientDeliveryError) as exc:
            raise ProviderCheckError(
                f"Aliyun SMS at {self._config.aliyun_sms_endpoint} "
                f"({env_name('aliyun_sms_endpoint')}) / sign name "
                f"({env_name('aliyun_sms_sign_name')}): {exc}"
            ) from exc
        return f"Aliyun SMS: credentials accepted, sign status {data.get('SignStatus', '?')}"

    # ------------------------------------------------------------------ the RPC call

    def _call(self, action: str, params: Mapping[str, str]) -> dict[str, Any]:
        signed = {
            "AccessKeyId": self._config.aliyun_sms_access_key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": uuid.uuid4().hex,
            "SignatureVersion": "1.0",
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": VERSION,
            **params,
        }
        secret = self._config.aliyun_sms_access_key_secret.get_secret_value()
        signed["Signature"] = signature(signed, secret)
        try:
            response = self._client.post(
                self._config.aliyun_sms_endpoint.rstrip("/") + "/", data=signed
            )
        except httpx.HTTPError as exc:  # timeouts, refused connections, DNS
            raise TransientDeliveryError(f"Aliyun SMS unreachable: {exc!r}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        data: dict[str, Any] = body if isinstance(body, dict) else {}
        code = str(data.get("Code", ""))
        if response.is_success and code == "OK":
            return data
        words = f"{code} {data.get('Message', '')}".strip()
        detail = f"Aliyun {action}: HTTP {response.status_code} {words}".strip()
        if code in THROTTLE_CODES or response.status_code == 429:
            raise ThrottledError(detail)
        if code in AUTH_CODES:
            raise ProviderAuthError("Aliyun SMS", code, CREDENTIALS)
        if code in TRANSIENT_CODES or response.status_code >= 500 or not code:
            raise TransientDeliveryError(detail)
        raise MessageRejectedError(detail)


__all__ = ["NAME", "AliyunSms", "percent_encode", "signature"]

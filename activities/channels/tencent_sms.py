"""Tencent Cloud SMS (API 3.0, version 2021-01-11) over its documented HTTP API.

Requests are JSON POSTs signed with TC3-HMAC-SHA256 (the ``Authorization`` header over
``content-type;host`` and the body's SHA-256, keys derived from the SecretKey by date,
service ``sms`` and ``tc3_request``). ``SendSms`` carries ``SessionContext`` = the outbox
message id, which Tencent returns with the message's status; before a retry sends again,
:meth:`TencentSms.find_sent` pulls the number's statuses of the last day
(``PullSmsSendStatusByPhoneNumber``) and looks for it. Tencent lists a message there only
once the carrier reported it, so a message still in flight is not found: the provider's
``report_window_seconds`` (``JOURNEYS_TENCENT_SMS_REPORT_WINDOW_SECONDS``, 10 minutes)
tells :mod:`activities.messaging` to wait that long after an unanswered attempt for its
report before sending again (and to note on the outbox row when it never came).

Receipts and replies come as Tencent's callback JSON (a receipt array of
``{report_status, errmsg, sid, …}``; a reply ``{mobile, nationcode, text, time, …}``),
answered ``{"result": 0, "errmsg": "OK"}``; callbacks are not signed, so their URL carries
a shared token (see :mod:`services.provider_callbacks`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from activities.channels.config import ChannelSettings, env_name
from activities.channels.errors import ProviderAuthError, ProviderCheckError
from activities.channels.phone import to_e164
from activities.providers import (
    AnsweredTransientError,
    Delivery,
    MessageRejectedError,
    OutboundMessage,
    ThrottledError,
    TransientDeliveryError,
)

NAME = "tencent_sms"
SERVICE = "sms"
VERSION = "2021-01-11"
CONTENT_TYPE = "application/json; charset=utf-8"
CREDENTIALS = (env_name("tencent_sms_secret_id"), env_name("tencent_sms_secret_key"))
#: Look this far back for an earlier attempt's message.
FIND_WINDOW_S = 24 * 3600


def tc3_authorization(
    *, secret_id: str, secret_key: str, host: str, payload: bytes, timestamp: int
) -> str:
    """The ``Authorization`` header of a JSON POST to ``/`` on ``host``."""
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{CONTENT_TYPE}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload).hexdigest(),
        ]
    )
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            str(timestamp),
            scope,
            hashlib.sha256(canonical.encode()).hexdigest(),
        ]
    )

    def _hmac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    key = _hmac(_hmac(_hmac(f"TC3{secret_key}".encode(), date), SERVICE), "tc3_request")
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={sig}"
    )


def _classify(code: str, detail: str) -> Exception:
    if code.startswith("LimitExceeded") or code.startswith("RequestLimitExceeded"):
        return ThrottledError(detail)
    if code.startswith("AuthFailure") or code == "UnauthorizedOperation.SmsSdkAppIdVerifyFail":
        return ProviderAuthError("Tencent Cloud SMS", code, CREDENTIALS)
    if code.startswith("InternalError") or code in ("ResourceUnavailable", "ServiceUnavailable"):
        return AnsweredTransientError(detail)
    return MessageRejectedError(detail)


class TencentSms:
    """The ``sms`` channel through Tencent Cloud SMS."""

    name = NAME

    def __init__(self, config: ChannelSettings, client: httpx.Client) -> None:
        self._config = config
        self._client = client

    @property
    def report_window_seconds(self) -> float:
        """How long :meth:`find_sent` may not list a message Tencent took (until the
        carrier's report)."""
        return self._config.tencent_sms_report_window_seconds

    def deliver(self, message: OutboundMessage) -> Delivery:
        phone = to_e164(message.phone)
        template = self._config.tencent_sms_templates.get(
            message.node_id or "", self._config.tencent_sms_template_id
        )
        data = self._call(
            "SendSms",
            {
                "PhoneNumberSet": [phone],
                "SmsSdkAppId": self._config.tencent_sms_sdk_app_id,
                "SignName": self._config.tencent_sms_sign_name,
                "TemplateId": template,
                "TemplateParamSet": [message.body],
                "SessionContext": message.message_id,
            },
        )
        statuses = data.get("SendStatusSet") or []
        if not statuses:
            raise TransientDeliveryError("Tencent SendSms: no SendStatusSet in the answer")
        status = statuses[0]
        code = str(status.get("Code", ""))
        if code != "Ok":
            raise _classify(code, f"Tencent SendSms: {code} {status.get('Message', '')}".strip())
        return Delivery(
            status="sent",
            response=f"Tencent Ok RequestId={data.get('RequestId', '')}",
            provider_message_id=str(status.get("SerialNo") or "") or None,
        )

    def find_sent(self, message: OutboundMessage) -> Delivery | None:
        """The message, if Tencent reports a status for it (by ``SessionContext``); ``None``
        also while the carrier has not reported it yet (see ``report_window_seconds``)."""
        now = int(time.time())
        data = self._call(
            "PullSmsSendStatusByPhoneNumber",
            {
                "BeginTime": now - FIND_WINDOW_S,
                "EndTime": now,
                "Offset": 0,
                "Limit": 100,
                "PhoneNumber": to_e164(message.phone),
                "SmsSdkAppId": self._config.tencent_sms_sdk_app_id,
            },
        )
        for item in data.get("PullSmsSendStatusSet") or []:
            if item.get("SessionContext") == message.message_id:
                return Delivery(
                    status="sent",
                    response="Tencent: already sent",
                    provider_message_id=str(item.get("SerialNo") or "") or None,
                )
        return None

    def check(self) -> str:
        """A signed read (``DescribeSmsTemplateList`` of the template): credentials,
        endpoint and template work; nothing is sent."""
        template = self._config.tencent_sms_template_id or next(
            iter(self._config.tencent_sms_templates.values()), ""
        )
        try:
            self._call(
                "DescribeSmsTemplateList",
                {
                    "International": 0,
                    "TemplateIdSet": [int(template)] if template.isdigit() else [],
                },
            )
        except ProviderAuthError as exc:
            raise ProviderCheckError(str(exc)) from exc
        except (MessageRejectedError, TransientDeliveryError) as exc:
            raise ProviderCheckError(
                f"Tencent Cloud SMS at {self._config.tencent_sms_endpoint} "
                f"({env_name('tencent_sms_endpoint')}), template "
                f"({env_name('tencent_sms_template_id')}): {exc}"
            ) from exc
        return "Tencent Cloud SMS: credentials accepted"

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        endpoint = self._config.tencent_sms_endpoint.rstrip("/") + "/"
        host = urlsplit(endpoint).netloc
        payload = json.dumps(params, ensure_ascii=False, separators=(",", ":")).encode()
        timestamp = int(time.time())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self._config.tencent_sms_secret_id,
                secret_key=self._config.tencent_sms_secret_key.get_secret_value(),
                host=host,
                payload=payload,
                timestamp=timestamp,
            ),
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Version": VERSION,
            "X-TC-Region": self._config.tencent_sms_region,
        }
        try:
            response = self._client.post(endpoint, content=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientDeliveryError(f"Tencent Cloud SMS unreachable: {exc!r}") from exc
        if response.status_code >= 500:
            raise AnsweredTransientError(f"Tencent {action}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        data = body.get("Response") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            raise TransientDeliveryError(
                f"Tencent {action}: HTTP {response.status_code}, no Response in the answer"
            )
        error = data.get("Error")
        if isinstance(error, dict):
            code = str(error.get("Code", ""))
            raise _classify(code, f"Tencent {action}: {code} {error.get('Message', '')}".strip())
        return data

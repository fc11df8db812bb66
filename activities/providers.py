"""Message providers: where a message goes once it is in the outbox.

* :class:`OutboxProvider` keeps the message in the outbox (status ``recorded``), for
  channels a separate sender (or the demo UI) picks up.
* :class:`WebhookProvider` POSTs it as JSON, signed with HMAC-SHA256 of the raw body under
  ``settings.webhook_secret`` (header ``X-Journey-Signature: sha256=<hex>``) and carrying the
  idempotency key (``X-Idempotency-Key``) so the receiver can drop duplicates of a retry.

A provider returns a :class:`Delivery` on success, raises :class:`MessageRejectedError` on a
permanent refusal (not retried) and any other exception on a transient failure (Temporal
retries the activity). A provider that can look a message up (:class:`FindsSent`) is asked
before a retry sends again; one whose look-up lags behind its send says by how much
(:func:`report_window`), and a retry inside that window waits (:class:`AwaitingReportError`)
instead of sending (see :mod:`activities.messaging`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import httpx

SIGNATURE_HEADER = "X-Journey-Signature"
IDEMPOTENCY_HEADER = "X-Idempotency-Key"
#: 4xx codes that mean "try again later", not "never".
_TRANSIENT_4XX = frozenset({408, 425, 429})


@dataclass(frozen=True)
class OutboundMessage:
    """A rendered message, as providers see it."""

    message_id: str
    idempotency_key: str
    customer_id: str
    channel: str
    subject: str
    body: str
    journey_id: str | None
    node_id: str | None
    webhook_url: str | None = None
    #: The customer's phone as stored (SMS providers normalise it to E.164 or refuse it).
    phone: str = ""
    #: The customer's e-mail address (``attributes.email``), for the SMTP provider.
    email: str = ""
    #: When the earlier attempt was handed to the provider (set for ``find_sent`` on a
    #: retry): a provider that looks messages up by time searches around it.
    attempted_at: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """A provider's answer: ``status`` is ``recorded`` (kept in the outbox) or ``sent``
    (accepted; a receipt may later say ``delivered`` or ``failed``)."""

    status: str  # "recorded" | "sent"
    response: str = ""
    #: The provider's id of the message, which its receipts name (Aliyun BizId, …).
    provider_message_id: str | None = None


class MessageRejectedError(Exception):
    """The provider refused the message for good (e.g. HTTP 4xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(Exception):
    """The provider could not take the message now (5xx, timeout); retry later."""


class AnsweredTransientError(TransientDeliveryError):
    """The provider answered, with a transient error (a 5xx, an internal-error code), rather
    than not at all: the attempt is over, not in flight, so a retry still asks
    ``find_sent`` but need not wait for a report (it most likely took nothing)."""


class NotSentError(TransientDeliveryError):
    """A transient failure that certainly sent nothing (the provider refused before taking
    the message, or no send slot was free): a retry need not ask whether it got through."""


class ThrottledError(NotSentError):
    """The provider refused the message for its rate (Aliyun
    ``isv.BUSINESS_LIMIT_CONTROL``, Tencent ``LimitExceeded.*``): retry later, and every
    worker should slow down (``activities.channels.ratelimit`` backs the bucket off)."""

    def __init__(self, reason: str, retry_after: float = 1.0) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class AwaitingReportError(TransientDeliveryError):
    """An earlier attempt may have got through but the provider does not list it yet (its
    look-up lags behind the send): do not send again; come back after ``retry_after``
    seconds and ask again."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class MessageProvider(Protocol):
    #: Stored on the outbox row (``provider``); receipts are matched by it and the
    #: provider's message id.
    name: str

    def deliver(self, message: OutboundMessage) -> Delivery: ...


@runtime_checkable
class FindsSent(Protocol):
    """A provider that can tell whether it already took a message (by the outbox message id
    it was given as its own dedupe/correlation id): a retry after a timeout asks first."""

    def find_sent(self, message: OutboundMessage) -> Delivery | None: ...


def report_window(provider: object) -> float:
    """Seconds after an attempt during which the provider's ``find_sent`` may not list the
    message yet (its ``report_window_seconds``: Tencent lists a message once the carrier
    reported it); 0 when its look-up lists a message as soon as it took it."""
    value = getattr(provider, "report_window_seconds", 0.0)
    return float(value) if isinstance(value, int | float) else 0.0


ProviderRegistry = Mapping[str, MessageProvider]


class OutboxProvider:
    """Leaves the message in the outbox table: nothing to send."""

    name = "outbox"

    def deliver(self, message: OutboundMessage) -> Delivery:
        return Delivery(status="recorded", response="outbox")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Journey-Signature`` value of ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookProvider:
    """POSTs the message to its ``webhook_url`` with an HMAC signature."""

    name = "webhook"

    def __init__(self, client: httpx.Client, secret: str) -> None:
        self._client = client
        self._secret = secret

    def payload(self, message: OutboundMessage) -> bytes:
        """The exact bytes sent (and signed)."""
        fields = asdict(message)
        data = {
            k: fields[k]
            for k in (
                "message_id",
                "customer_id",
                "channel",
                "subject",
                "body",
                "journey_id",
                "node_id",
            )
        }
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()

    def deliver(self, message: OutboundMessage) -> Delivery:
        if not message.webhook_url:
            raise MessageRejectedError("the webhook node has no URL; set one on the node")
        body = self.payload(message)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(body, self._secret),
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        try:
            response = self._client.post(message.webhook_url, content=body, headers=headers)
        except httpx.HTTPError as exc:  # timeouts, refused connections, DNS
            raise TransientDeliveryError(f"webhook unreachable: {exc!r}") from exc
        summary = f"HTTP {response.status_code} {response.text[:500]}".strip()
        if response.is_success:
            return Delivery(status="sent", response=summary)
        if 400 <= response.status_code < 500 and response.status_code not in _TRANSIENT_4XX:
            raise MessageRejectedError(summary)
        raise TransientDeliveryError(f"webhook failed: {summary}")


def default_providers(client: httpx.Client, webhook_secret: str) -> dict[str, MessageProvider]:
    """The built-in registry: ``outbox`` and ``webhook``."""
    return {"outbox": OutboxProvider(), "webhook": WebhookProvider(client, webhook_secret)}

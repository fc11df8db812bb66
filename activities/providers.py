"""Message providers: where a message goes once it is in the outbox.

* :class:`OutboxProvider` keeps the message in the outbox (status ``recorded``), for
  channels a separate sender (or the demo UI) picks up.
* :class:`WebhookProvider` POSTs it as JSON, signed with HMAC-SHA256 of the raw body under
  ``settings.webhook_secret`` (header ``X-Journey-Signature: sha256=<hex>``) and carrying the
  idempotency key (``X-Idempotency-Key``) so the receiver can drop duplicates of a retry.

A provider returns a :class:`Delivery` on success, raises :class:`MessageRejectedError` on a
permanent refusal (not retried) and any other exception on a transient failure (Temporal
retries the activity).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

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


@dataclass(frozen=True)
class Delivery:
    status: str  # "recorded" | "sent"
    response: str = ""


class MessageRejectedError(Exception):
    """The provider refused the message for good (e.g. HTTP 4xx)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(Exception):
    """The provider could not take the message now (5xx, timeout); retry later."""


class MessageProvider(Protocol):
    def deliver(self, message: OutboundMessage) -> Delivery: ...


ProviderRegistry = Mapping[str, MessageProvider]


class OutboxProvider:
    """Leaves the message in the outbox table: nothing to send."""

    def deliver(self, message: OutboundMessage) -> Delivery:
        return Delivery(status="recorded", response="outbox")


def sign(body: bytes, secret: str) -> str:
    """The ``X-Journey-Signature`` value of ``body``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookProvider:
    """POSTs the message to its ``webhook_url`` with an HMAC signature."""

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

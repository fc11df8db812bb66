"""Send one message exactly once (the ``send_message`` activity's work).

The outbox row is written *before* delivery, keyed by the idempotency key. A retry finds
it: if it was delivered (``sent``) or only needs recording (outbox provider), the same row
is returned and nothing is sent again; if a webhook attempt failed transiently, delivery is
tried again with the same message id and key, so the receiver can de-duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities._time import effect_time
from activities.errors import business_failure
from activities.providers import (
    Delivery,
    MessageProvider,
    MessageRejectedError,
    OutboundMessage,
)
from activities.rendering import TemplateRenderError, customer_variables, render
from db import crud
from db.models import Customer, OutboxMessage
from engine.effects import (
    CUSTOMER_NOT_FOUND,
    CUSTOMER_OPTED_OUT,
    MESSAGE_REJECTED,
    TEMPLATE_RENDER_FAILED,
    MessageSent,
    SendMessageRequest,
)


def send_message(
    sessions: sessionmaker[Session],
    provider: MessageProvider,
    request: SendMessageRequest,
    now: Callable[[], datetime],
) -> MessageSent:
    """Record, deliver and mark one message; see the module docstring."""
    with sessions() as session:
        row, checked = _record(session, request, effect_time(request.ctx, now))
        if row.status == "sent":
            return _result(row)
        if row.status == "failed":
            raise business_failure(MESSAGE_REJECTED, row.provider_response or "rejected")
        if not checked:
            # The customer may have opted out since a failed first attempt: ask again. (A
            # row recorded just now was checked in its own transaction: asking again would
            # take the write lock once more for nothing.)
            _check_customer(session, request)

    try:
        delivery = provider.deliver(_outbound(row, request))
    except MessageRejectedError as exc:
        _finish(sessions, row.id, "failed", exc.reason, None)
        raise business_failure(MESSAGE_REJECTED, exc.reason) from exc
    row = _finish(sessions, row.id, delivery.status, delivery.response, _sent_at(delivery, now))
    return _result(row)


def _record(
    session: Session, request: SendMessageRequest, at: datetime
) -> tuple[OutboxMessage, bool]:
    """The message's outbox row (recorded now unless a former attempt did); → the row and
    whether this call checked the customer while recording it."""
    existing = crud.get_message_by_key(session=session, idempotency_key=request.ctx.idempotency_key)
    if existing is not None:
        return existing, False
    customer = _check_customer(session, request)
    variables = {
        "customer": customer_variables(
            customer,
            crud.get_store(session=session, store_id=customer.store_id)
            if customer.store_id
            else None,
            crud.get_guide(session=session, guide_id=customer.guide_id)
            if customer.guide_id
            else None,
        ),
        "ctx": request.context,
    }
    try:
        body = render(request.content, variables)
        subject = render(request.subject, variables) if request.subject else ""
    except TemplateRenderError as exc:
        raise business_failure(
            TEMPLATE_RENDER_FAILED, f"node {request.ctx.node_id}: {exc.reason}"
        ) from exc
    ctx = request.ctx
    row = OutboxMessage(
        id=uuid.uuid4().hex,
        idempotency_key=ctx.idempotency_key,
        customer_id=customer.id,
        channel=request.channel,
        subject=subject[:200],
        body=body,
        status="recorded",
        journey_id=ctx.journey_id,
        node_id=ctx.node_id,
        workflow_id=ctx.workflow_id,
        created_at=at,
    )
    row, created = crud.insert_message(session=session, message=row)
    return row, created


def _check_customer(session: Session, request: SendMessageRequest) -> Customer:
    customer = crud.get_customer(session=session, customer_id=request.ctx.customer_id)
    if customer is None:
        raise business_failure(CUSTOMER_NOT_FOUND, f"customer {request.ctx.customer_id!r}")
    if request.channel in customer.opted_out_channels:
        raise business_failure(
            CUSTOMER_OPTED_OUT, f"customer {customer.id} opted out of {request.channel}"
        )
    return customer


def _outbound(row: OutboxMessage, request: SendMessageRequest) -> OutboundMessage:
    return OutboundMessage(
        message_id=row.id,
        idempotency_key=row.idempotency_key,
        customer_id=row.customer_id,
        channel=row.channel,
        subject=row.subject,
        body=row.body,
        journey_id=row.journey_id,
        node_id=row.node_id,
        webhook_url=request.webhook_url,
    )


def _sent_at(delivery: Delivery, now: Callable[[], datetime]) -> datetime | None:
    return now() if delivery.status == "sent" else None


def _finish(
    sessions: sessionmaker[Session],
    message_id: str,
    status: str,
    response: str,
    sent_at: datetime | None,
) -> OutboxMessage:
    with sessions() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None:  # deleted under us: nothing to mark
            raise RuntimeError(f"outbox row {message_id} vanished during delivery")
        row.status = status
        row.provider_response = response
        row.sent_at = sent_at
        session.add(row)
        session.commit()
        return row


def _result(row: OutboxMessage) -> MessageSent:
    return MessageSent(message_id=row.id, channel=row.channel, status=row.status, rendered=row.body)

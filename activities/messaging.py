"""Send one message exactly once (the ``send_message`` activity's work).

The outbox row is written *before* delivery, keyed by the idempotency key. A retry finds
it: if it was delivered (``sent``/``delivered``) or only needs recording (outbox provider),
the same row is returned and nothing is sent again; if an attempt failed transiently,
delivery is tried again with the same message id and key, so the receiver can de-duplicate.
The row names its provider before the call; a retry that finds it named asks a provider
that can tell (:class:`activities.providers.FindsSent`: the SMS providers, by the message
id they were given as their correlation id) whether the earlier attempt got through after
all, so a timeout that hid a success does not send twice. The provider's message id is
stored with its answer: delivery receipts find the row by it (``crud.record_receipt``).
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
    FindsSent,
    MessageProvider,
    MessageRejectedError,
    OutboundMessage,
)
from activities.rendering import TemplateRenderError, customer_variables, render
from db import crud
from db.crud import opt_outs
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
        if row.status in ("sent", "delivered"):
            return _result(row)
        if row.status == "failed":
            raise business_failure(MESSAGE_REJECTED, row.provider_response or "rejected")
        if not checked:
            # The customer may have opted out since a failed first attempt: ask again. (A
            # row recorded just now was checked in its own transaction: asking again would
            # take the write lock once more for nothing.)
            _check_customer(session, request)
        customer = crud.get_customer(session=session, customer_id=row.customer_id)
    outbound = _outbound(row, request, customer)

    if row.provider == provider.name and isinstance(provider, FindsSent):
        # an earlier attempt handed it over and heard nothing back (a timeout): the provider
        # may have taken it, so ask before sending it twice
        found = provider.find_sent(outbound)
        if found is not None:
            return _result(_finish(sessions, row.id, found, now))
    if provider.name != "outbox" and row.provider != provider.name:
        with sessions() as session:
            crud.mark_handed_to(session=session, message_id=row.id, provider=provider.name)
    try:
        delivery = provider.deliver(outbound)
    except MessageRejectedError as exc:
        _finish(sessions, row.id, Delivery(status="failed", response=exc.reason), now)
        raise business_failure(MESSAGE_REJECTED, exc.reason) from exc
    return _result(_finish(sessions, row.id, delivery, now))


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
    # The profile's list is what every journey reads; the opt-out row (an SMS reply of
    # "TD", a provider callback, HQ) says how and when, for the trace note.
    left = opt_outs.get_opt_out(session=session, customer_id=customer.id, channel=request.channel)
    if left is not None or request.channel in customer.opted_out_channels:
        how = f" ({left.source}, {left.at:%Y-%m-%d %H:%M} UTC)" if left is not None else ""
        raise business_failure(
            CUSTOMER_OPTED_OUT,
            f"not sent: customer {customer.id} opted out of {request.channel}{how}",
        )
    return customer


def _outbound(
    row: OutboxMessage, request: SendMessageRequest, customer: Customer | None
) -> OutboundMessage:
    email = customer.attributes.get("email", "") if customer is not None else ""
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
        phone=customer.phone if customer is not None else "",
        email=email if isinstance(email, str) else "",
    )


def _finish(
    sessions: sessionmaker[Session],
    message_id: str,
    delivery: Delivery,
    now: Callable[[], datetime],
) -> OutboxMessage:
    with sessions() as session:
        row = crud.store_provider_answer(
            session=session,
            message_id=message_id,
            status=delivery.status,
            response=delivery.response,
            at=now(),
            provider_message_id=delivery.provider_message_id,
        )
    if row is None:  # deleted under us: nothing to mark
        raise RuntimeError(f"outbox row {message_id} vanished during delivery")
    return row


def _result(row: OutboxMessage) -> MessageSent:
    return MessageSent(message_id=row.id, channel=row.channel, status=row.status, rendered=row.body)

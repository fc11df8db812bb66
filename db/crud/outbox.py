"""The message outbox: what journeys sent, for the customer timeline and debugging."""

from __future__ import annotations

from sqlmodel import Session, col, select

from db.crud._util import insert_once
from db.models import OutboxMessage


def get_message(*, session: Session, message_id: str) -> OutboxMessage | None:
    """The outbox row ``message_id``, or ``None``."""
    return session.get(OutboxMessage, message_id)


def get_message_by_key(*, session: Session, idempotency_key: str) -> OutboxMessage | None:
    """The outbox row recorded for ``idempotency_key``, or ``None``."""
    stmt = select(OutboxMessage).where(OutboxMessage.idempotency_key == idempotency_key)
    return session.exec(stmt).first()


def insert_message(*, session: Session, message: OutboxMessage) -> tuple[OutboxMessage, bool]:
    """Insert ``message`` unless its idempotency key exists; ``(row, created)``."""
    return insert_once(
        session, message, column=OutboxMessage.idempotency_key, key=message.idempotency_key
    )


def list_messages(
    *,
    session: Session,
    customer_id: str | None = None,
    journey_id: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OutboxMessage]:
    """Outbox rows, newest first, filtered by customer, journey and/or status."""
    stmt = select(OutboxMessage)
    if customer_id is not None:
        stmt = stmt.where(OutboxMessage.customer_id == customer_id)
    if journey_id is not None:
        stmt = stmt.where(OutboxMessage.journey_id == journey_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    stmt = stmt.order_by(col(OutboxMessage.created_at).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))

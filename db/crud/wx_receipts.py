"""Messages whose provider gives no push receipt and must be asked (WeCom group messages)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.models import OutboxMessage


def awaiting_receipt(
    *, session: Session, provider: str, since: datetime, limit: int = 100
) -> list[OutboxMessage]:
    """``provider``'s messages still ``sent`` (no final word yet) created after ``since``,
    oldest first."""
    stmt = (
        select(OutboxMessage)
        .where(
            OutboxMessage.provider == provider,
            OutboxMessage.status == "sent",
            col(OutboxMessage.provider_message_id).is_not(None),
            col(OutboxMessage.created_at) >= since,
        )
        .order_by(col(OutboxMessage.created_at))
        .limit(limit)
    )
    return list(session.exec(stmt))

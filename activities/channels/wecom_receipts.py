"""Receipts for WeCom customer messages, asked of WeCom (it pushes none).

A ``wecom`` message is a group-message template the customer's guide must confirm
(:mod:`activities.channels.wecom`). :func:`poll_wecom_receipts` asks
``externalcontact/get_groupmsg_send_result`` about every such message still ``sent`` from
the last :data:`WINDOW` and records what WeCom says with ``crud.record_receipt``: the guide
sent it (status 1) → ``delivered`` at its ``send_time``; the customer is not the guide's
contact (2) or already got another group message (3) → ``failed``; not sent yet (0) →
asked again next round. Run by the worker's notice sweep, once a minute.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.wecom import PROVIDER, WeComClient, wecom_recipient
from activities.providers import MessageRejectedError, TransientDeliveryError
from db.crud import outbox
from db.crud.wx_receipts import awaiting_receipt
from db.models import utcnow

log = logging.getLogger(__name__)

#: Templates older than this are no longer asked about (a guide who has not confirmed in
#: a week will not; the message stays ``sent``).
WINDOW = timedelta(days=7)
_FAILED = {2: "not a contact of the guide", 3: "already received another group message"}


def poll_wecom_receipts(
    *,
    client: WeComClient,
    sessions: sessionmaker[Session],
    now: Callable[[], datetime] = utcnow,
    limit: int = 100,
) -> int:
    """Ask WeCom about the messages awaiting a receipt; → receipts recorded."""
    with sessions() as session:
        waiting = awaiting_receipt(
            session=session, provider=PROVIDER, since=now() - WINDOW, limit=limit
        )
        asks = []
        for row in waiting:
            try:
                sender = wecom_recipient(session, row.customer_id).sender_userid
            except MessageRejectedError:
                continue  # the binding moved since: WeCom is asked under the new guide
            asks.append((row.provider_message_id or "", sender))
        session.commit()
    recorded = 0
    for msgid, sender in asks:
        try:
            results = client.group_message_results(msgid=msgid, sender=sender)
        except (MessageRejectedError, TransientDeliveryError) as exc:
            log.info("WeCom template %s: no result yet (%s)", msgid, exc)
            continue
        for result in results:
            status = int(result.get("status") or 0)
            if status == 0:
                continue
            at = (
                datetime.fromtimestamp(int(result.get("send_time") or 0), UTC)
                if status == 1
                else now()
            )
            with sessions() as session:
                receipt = outbox.record_receipt(
                    session=session,
                    provider=PROVIDER,
                    provider_message_id=msgid,
                    status="delivered" if status == 1 else "failed",
                    at=at,
                    detail="sent by the guide" if status == 1 else _FAILED.get(status, str(status)),
                )
            if receipt is not None:
                recorded += 1
            break  # a template is for one customer
    return recorded

"""智能回访 in SQL: when and how each customer was last contacted, and how often lately.

A contact is a message sent (the contact ledger's ``sent`` decisions of a message channel,
across every journey) or a guide's completed task (``guide_task``) — the same contacts
:func:`engine.contact_policy.recency` counts for branches (``activities.facts``) and test
runs. Each expression is correlated with ``customer.id`` (indexed: the ledger by customer
and time, tasks by customer).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, literal, select, type_coerce
from sqlmodel import col

from db.models import Customer, GuideTask
from db.models._base import UTCDateTime
from db.models.contact_policy import ContactLedgerEntry
from engine.contact_policy import GUIDE_TASK, MESSAGE_CHANNELS


def _messages(now: datetime) -> tuple[Any, ...]:
    return (
        col(ContactLedgerEntry.customer_id) == col(Customer.id),
        col(ContactLedgerEntry.outcome) == "sent",
        col(ContactLedgerEntry.channel).in_(MESSAGE_CHANNELS),
        col(ContactLedgerEntry.at) <= now,
    )


def _tasks(now: datetime) -> tuple[Any, ...]:
    return (
        col(GuideTask.customer_id) == col(Customer.id),
        col(GuideTask.status) == "completed",
        col(GuideTask.completed_at) <= now,
    )


def _last_message(now: datetime) -> Any:
    return select(func.max(col(ContactLedgerEntry.at))).where(*_messages(now)).scalar_subquery()


def _last_task(now: datetime) -> Any:
    return select(func.max(col(GuideTask.completed_at))).where(*_tasks(now)).scalar_subquery()


def last_contact_at(now: datetime) -> Any:
    """The moment of the customer's last contact (NULL: never contacted)."""
    message, task = _last_message(now), _last_task(now)
    return type_coerce(
        case(
            (message.is_(None), task),
            (task.is_(None), message),
            (message >= task, message),
            else_=task,
        ),
        UTCDateTime(),
    )


def last_contact_channel(now: datetime) -> Any:
    """The channel of the last contact (``guide_task`` for a guide's; NULL: never)."""
    message, task = _last_message(now), _last_task(now)
    channel = (
        select(col(ContactLedgerEntry.channel))
        .where(*_messages(now))
        .order_by(col(ContactLedgerEntry.at).desc(), col(ContactLedgerEntry.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    return case(
        (task.is_not(None) & (message.is_(None) | (task > message)), literal(GUIDE_TASK)),
        else_=channel,
    )


def contacts_in(now: datetime, days: int) -> Any:
    """How many contacts the customer had in the ``days`` days before ``now``."""
    since = now - timedelta(days=days)
    messages = (
        select(func.count())
        .select_from(ContactLedgerEntry)
        .where(*_messages(now), col(ContactLedgerEntry.at) > since)
        .scalar_subquery()
    )
    tasks = (
        select(func.count())
        .select_from(GuideTask)
        .where(*_tasks(now), col(GuideTask.completed_at) > since)
        .scalar_subquery()
    )
    return messages + tasks

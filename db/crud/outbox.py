"""The message outbox: what journeys sent, for the customer timeline and debugging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_
from sqlmodel import Session, col, select

from db.crud._util import insert_once
from db.models import FINAL_STATUSES, Customer, JourneyRun, JourneyVersion, OutboxMessage
from db.session import begin_write


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
    is_test: bool | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[OutboxMessage]:
    """Outbox rows, newest first, filtered by customer, journey, status and/or whether
    they are test sends from the message panel (``None``: both)."""
    stmt = select(OutboxMessage)
    if is_test is not None:
        stmt = stmt.where(OutboxMessage.is_test == is_test)
    if customer_id is not None:
        stmt = stmt.where(OutboxMessage.customer_id == customer_id)
    if journey_id is not None:
        stmt = stmt.where(OutboxMessage.journey_id == journey_id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    stmt = stmt.order_by(col(OutboxMessage.created_at).desc()).offset(offset).limit(limit)
    return list(session.exec(stmt))


@dataclass(frozen=True)
class OutboxSearch:
    """What the outbox page asks for; every field narrows (``None``/empty: any).

    ``customer``: a customer id or phone prefix, or part of a name (as the customer lookup
    reads it), also matched against the message's own customer id (a test send to a
    synthetic customer has no customer row). ``store_id``: only customers of that store (a
    store manager's view). ``since``/``until``: the message's creation, ``until`` excluded.
    """

    channel: str | None = None
    status: str | None = None
    journey_id: str | None = None
    customer: str = ""
    since: datetime | None = None
    until: datetime | None = None
    include_tests: bool = False
    store_id: str | None = None


def _conditions(search: OutboxSearch, *, with_status: bool) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if not search.include_tests:
        where.append(col(OutboxMessage.is_test).is_(False))
    if search.channel:
        where.append(col(OutboxMessage.channel) == search.channel)
    if with_status and search.status:
        where.append(col(OutboxMessage.status) == search.status)
    if search.journey_id:
        where.append(col(OutboxMessage.journey_id) == search.journey_id)
    if search.since is not None:
        where.append(col(OutboxMessage.created_at) >= search.since)
    if search.until is not None:
        where.append(col(OutboxMessage.created_at) < search.until)
    q = search.customer.strip()
    if q:
        matching = select(Customer.id).where(
            or_(
                col(Customer.id).startswith(q.upper()),
                col(Customer.phone).startswith(q),
                col(Customer.name).contains(q),
            )
        )
        where.append(
            or_(
                col(OutboxMessage.customer_id).in_(matching),
                col(OutboxMessage.customer_id).startswith(q),
            )
        )
    if search.store_id is not None:
        in_store = select(Customer.id).where(Customer.store_id == search.store_id)
        where.append(col(OutboxMessage.customer_id).in_(in_store))
    return where


def search_messages(
    *, session: Session, search: OutboxSearch, limit: int = 50, offset: int = 0
) -> list[OutboxMessage]:
    """A page of the outbox rows ``search`` finds, newest first (the id breaks ties, so
    pages neither repeat nor skip a row)."""
    stmt = (
        select(OutboxMessage)
        .where(*_conditions(search, with_status=True))
        .order_by(col(OutboxMessage.created_at).desc(), col(OutboxMessage.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(stmt))


def count_messages_by_status(*, session: Session, search: OutboxSearch) -> dict[str, int]:
    """How many rows ``search`` finds per status, its own ``status`` left out (the page's
    counts at the top tell what the other statuses hold in the same period). One query."""
    stmt = (
        select(OutboxMessage.status, func.count())
        .where(*_conditions(search, with_status=False))
        .group_by(OutboxMessage.status)
    )
    return {status: int(n) for status, n in session.exec(stmt)}


def message_versions(
    *, session: Session, messages: Sequence[OutboxMessage]
) -> dict[str, JourneyVersion]:
    """The journey version each of ``messages`` was sent from (by message id): its run's
    version — the run of that workflow id that entered last before the message (a workflow
    id comes back on re-entry). Two queries; a test send or a run row gone: missing."""
    sent = [m for m in messages if m.workflow_id and m.journey_id]
    if not sent:
        return {}
    runs = session.exec(
        select(JourneyRun.workflow_id, JourneyRun.journey_version, JourneyRun.entered_at)
        .where(col(JourneyRun.workflow_id).in_({m.workflow_id for m in sent}))
        .order_by(col(JourneyRun.entered_at))
    ).all()
    chosen: dict[str, int] = {}
    for m in sent:
        mine = [(v, at) for wid, v, at in runs if wid == m.workflow_id]
        before = [v for v, at in mine if at <= m.created_at] or [v for v, _ in mine]
        if before:
            chosen[m.id] = before[-1]
    if not chosen:
        return {}
    journey_ids = {m.journey_id for m in sent if m.id in chosen}
    rows = session.exec(
        select(JourneyVersion).where(
            col(JourneyVersion.journey_id).in_(journey_ids),
            col(JourneyVersion.version).in_(set(chosen.values())),
        )
    )
    by_key = {(v.journey_id, v.version): v for v in rows}
    found = {m.id: by_key.get((m.journey_id or "", chosen[m.id])) for m in sent if m.id in chosen}
    return {mid: v for mid, v in found.items() if v is not None}


def record_receipt(
    *,
    session: Session,
    provider: str,
    provider_message_id: str,
    status: str,
    at: datetime,
    detail: str = "",
    message_id: str | None = None,
) -> OutboxMessage | None:
    """Apply a provider's delivery receipt (``status``: ``delivered`` or ``failed``) to the
    message it names; commit. ``None`` when no message of ``provider`` has that id (callers
    answer 404).

    Receipts come late, twice and out of order, so the transitions are monotone: a receipt
    never moves a message back to ``sent``; a repeat changes nothing; ``delivered`` is the
    last word (a carrier may report a failed attempt before a retry of its own gets
    through, so a later ``delivered`` replaces ``failed``, never the other way round). The
    row keeps both times it was told.

    ``message_id``: the outbox id, when the provider echoes it (Aliyun's ``out_id``): found
    by it when the provider's id is not stored (a send whose answer was lost).
    """
    if status not in FINAL_STATUSES:
        raise ValueError(f"receipt status must be one of {FINAL_STATUSES}, not {status!r}")
    begin_write(session)
    stmt = select(OutboxMessage).where(
        OutboxMessage.provider == provider,
        OutboxMessage.provider_message_id == provider_message_id,
    )
    row = session.exec(stmt).first()
    if row is None and message_id:
        row = session.get(OutboxMessage, message_id)
        if row is not None and row.provider != provider:
            row = None
        if row is not None and row.provider_message_id is None:
            row.provider_message_id = provider_message_id
            session.add(row)
    if row is None:
        session.commit()
        return None
    changed = False
    if status == "delivered":
        if row.status != "delivered":
            row.status = "delivered"
            row.delivered_at = at
            row.status_detail = detail[:500]
            changed = True
    elif row.failed_at is None:  # the first "failed" is kept, even after "delivered"
        row.failed_at = at
        if row.status != "delivered":
            row.status = "failed"
            row.status_detail = detail[:500]
        changed = True
    if changed:
        session.add(row)
    session.commit()
    return row


def mark_handed_to(
    *,
    session: Session,
    message_id: str,
    provider: str,
    at: datetime | None = None,
    note: str = "",
) -> OutboxMessage | None:
    """Note that ``message_id`` is about to be handed to ``provider`` at ``at`` (before the
    call: a retry then knows an earlier attempt may have reached it, and since when);
    ``provider`` ``""``: certainly not handed over. ``note``: why it is handed over again
    (kept as the provider's response until its answer); commit."""
    begin_write(session)
    row = session.get(OutboxMessage, message_id)
    if row is not None:
        row.provider = provider
        row.handed_at = at if provider else None
        if note:
            row.provider_response = note
        session.add(row)
    session.commit()
    return row


@dataclass(frozen=True)
class ProviderAnswer:
    """A provider's answer to one message (see :func:`store_provider_answers`)."""

    message_id: str
    status: str  # "recorded" | "sent" | "failed"
    response: str
    at: datetime
    provider_message_id: str | None = None


def store_provider_answers(
    *, session: Session, answers: Sequence[ProviderAnswer]
) -> dict[str, OutboxMessage]:
    """Store providers' answers on their messages, in one transaction; commit. → the rows
    by id (a message deleted meanwhile is missing). A receipt that got to a message first
    (a fast provider) is not undone."""
    begin_write(session)
    rows: dict[str, OutboxMessage] = {}
    for answer in answers:
        row = session.get(OutboxMessage, answer.message_id)
        if row is None:
            continue
        row.provider_response = answer.response
        if answer.provider_message_id is not None:
            row.provider_message_id = answer.provider_message_id
        if row.status not in FINAL_STATUSES:
            row.status = answer.status
            if answer.status == "sent":
                row.sent_at = answer.at
            elif answer.status == "failed":
                row.failed_at = answer.at
                row.status_detail = answer.response[:500]
        session.add(row)
        rows[row.id] = row
    session.commit()
    return rows


def store_provider_answer(
    *,
    session: Session,
    message_id: str,
    status: str,
    response: str,
    at: datetime,
    provider_message_id: str | None = None,
) -> OutboxMessage | None:
    """Store one provider's answer (``recorded``, ``sent`` or ``failed``); commit."""
    answer = ProviderAnswer(message_id, status, response, at, provider_message_id)
    return store_provider_answers(session=session, answers=[answer]).get(message_id)

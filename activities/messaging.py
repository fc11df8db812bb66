"""Send one message exactly once (the ``send_message`` activity's work).

The outbox row is written *before* delivery, keyed by the idempotency key. A retry finds
it: if it was delivered (``sent``/``delivered``) or only needs recording (outbox provider),
the same row is returned and nothing is sent again; if an attempt failed transiently,
delivery is tried again with the same message id and key, so the receiver can de-duplicate.

The row names its provider, and when the attempt was handed over (``handed_at``), before
the call. A retry that finds it named asks a provider that can tell
(:class:`activities.providers.FindsSent`: the SMS providers by the message id they were
given as their correlation id, WeCom by the template's sender, customer and text) whether
the earlier attempt got through after all, so a timeout that hid a success does not send
twice. A provider whose look-up lags behind its send (Tencent lists a message once the
carrier reported it; :func:`activities.providers.report_window`) may not list an attempt
that did get through: inside its report window after the attempt the retry sends nothing
and raises :class:`~activities.providers.AwaitingReportError` to come back later (every
``REPORT_POLL_SECONDS`` at most); past the window it sends again and the row says that the
earlier attempt was never reported. An attempt the provider answered with a transient
error (:class:`~activities.providers.AnsweredTransientError`) is not in flight: its retry
asks but does not wait. The provider's message id is stored with its answer:
delivery receipts find the row by it (``crud.record_receipt``).
"""

from __future__ import annotations

import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities._time import effect_time
from activities.errors import business_failure
from activities.providers import (
    AnsweredTransientError,
    AwaitingReportError,
    Delivery,
    FindsSent,
    MessageProvider,
    MessageRejectedError,
    NotSentError,
    OutboundMessage,
    report_window,
)
from activities.rendering import TemplateRenderError, customer_variables, render
from db import crud
from db.crud import contact_policy as policy_crud
from db.crud import opt_outs
from db.models import Customer, OutboxMessage
from db.session import read_session
from engine.contact_policy import ALLOW, PolicyDecision, denied_result
from engine.effects import (
    CUSTOMER_NOT_FOUND,
    CUSTOMER_OPTED_OUT,
    MESSAGE_REJECTED,
    TEMPLATE_RENDER_FAILED,
    MessageSent,
    SendMessageRequest,
)

log = logging.getLogger(__name__)

#: A retry waiting for a lagging provider's report asks again at least this often.
REPORT_POLL_SECONDS = 30.0


def send_message(
    sessions: sessionmaker[Session],
    provider: MessageProvider,
    request: SendMessageRequest,
    now: Callable[[], datetime],
    *,
    check: policy_crud.ContactCheck | None = None,
    default_zone: str = "Asia/Shanghai",
) -> MessageSent:
    """Record, deliver and mark one message; see the module docstring. Its contact
    ``check`` (the journey's contact policy) is decided when the row is recorded, in the
    same write transaction; a message the policy holds back records nothing else and
    answers ``denied``."""
    with sessions() as session:
        at = effect_time(request.ctx, now)
        try:
            row, customer = _record(
                session, request, at, provider.name, now(), check=check, default_zone=default_zone
            )
        except _HeldBack as held:
            return denied_result(MessageSent, held.decision)
        checked = customer is not None
        if row.status in ("sent", "delivered"):
            return _result(row)
        if row.status == "failed":
            raise business_failure(MESSAGE_REJECTED, row.provider_response or "rejected")
        if customer is None:
            # The customer may have opted out since a failed first attempt: ask again. (A
            # row recorded just now was checked moments ago.)
            with read_session(session) as reading:
                customer = _contact(_check_customer(reading, request))
    outbound = _outbound(row, request, customer)

    note = ""
    if not checked and row.provider == provider.name and isinstance(provider, FindsSent):
        # an earlier attempt handed it over and heard nothing back (a timeout): the provider
        # may have taken it, so ask before sending it twice
        found = provider.find_sent(replace(outbound, attempted_at=row.handed_at or row.created_at))
        if found is not None:
            return _result(_finish(sessions, row.id, found, now))
        note = _not_reported(row.id, provider, row.handed_at, now())
    if not checked and provider.name != "outbox":
        # this attempt's hand-over (the first one's was recorded with the row)
        _hand_to(sessions, row.id, provider.name, at=now(), note=note)
    try:
        delivery = provider.deliver(outbound)
    except MessageRejectedError as exc:
        _finish(sessions, row.id, Delivery(status="failed", response=_noted(exc.reason, note)), now)
        raise business_failure(MESSAGE_REJECTED, exc.reason) from exc
    except NotSentError:
        # certainly not taken (throttled, no rate slot): a retry need not ask the provider
        _hand_to(sessions, row.id, "")
        raise
    except AnsweredTransientError:
        # the provider answered (an error): nothing in flight to wait for; a retry asks
        _hand_to(sessions, row.id, provider.name, at=None)
        raise
    if note:
        delivery = replace(delivery, response=_noted(delivery.response, note))
    return _result(_finish(sessions, row.id, delivery, now))


def _not_reported(
    message_id: str, provider: MessageProvider, since: datetime | None, at: datetime
) -> str:
    """An earlier attempt (handed over ``since``; ``None``: none in flight — it was
    answered, or handed over before ``handed_at`` was kept) that ``provider`` does not
    list: raise :class:`AwaitingReportError` while its report can still come (the
    provider's report window); after it, → the note that it never was (the message is sent
    again)."""
    window = report_window(provider)
    if window <= 0 or since is None:
        return ""
    waited = (at - since).total_seconds()
    if waited < window:
        raise AwaitingReportError(
            f"{provider.name} does not list message {message_id} yet (handed over "
            f"{waited:.0f} s ago): not sent again while its report can come (up to "
            f"{window:g} s after the attempt)",
            retry_after=max(1.0, min(window - waited, REPORT_POLL_SECONDS)),
        )
    note = (
        f"sent again: the attempt handed to {provider.name} at "
        f"{since:%Y-%m-%d %H:%M:%S} UTC was never reported within {window:g} s"
    )
    log.warning("outbox message %s: %s", message_id, note)
    return note


def _noted(response: str, note: str) -> str:
    return f"{response} ({note})" if note else response


class _HeldBack(Exception):
    """The contact policy did not let the message go out (nothing recorded but the
    decision)."""

    def __init__(self, decision: PolicyDecision) -> None:
        super().__init__(decision.rule)
        self.decision = decision


def _record(
    session: Session,
    request: SendMessageRequest,
    at: datetime,
    provider: str,
    handed_at: datetime,
    *,
    check: policy_crud.ContactCheck | None = None,
    default_zone: str = "Asia/Shanghai",
) -> tuple[OutboxMessage, Contact | None]:
    """The message's outbox row (recorded now unless a former attempt did, already naming
    the ``provider`` it is about to be handed to, at ``handed_at``); → the row and, when
    this call recorded it, the customer's contact it checked (``None``: recorded before,
    not checked now). Its contact ``check`` is decided in the row's write transaction and
    recorded with it (raises :class:`_HeldBack` when the policy holds it back)."""
    # the reads and the rendering need no write lock: only the insert takes it (and checks
    # the key again there, so a racing attempt still records one row)
    with read_session(session) as reading:
        existing = crud.get_message_by_key(
            session=reading, idempotency_key=request.ctx.idempotency_key
        )
        if existing is not None:
            reading.expunge(existing)  # keeps its loaded fields past the read's rollback
            return existing, None
        customer = _check_customer(reading, request)
        store = (
            crud.get_store(session=reading, store_id=customer.store_id)
            if customer.store_id
            else None
        )
        variables = {
            "customer": customer_variables(
                customer,
                store,
                crud.get_guide(session=reading, guide_id=customer.guide_id)
                if customer.guide_id
                else None,
            ),
            "ctx": request.context,
        }
        contact = _contact(customer)
        seen = (
            policy_crud.read_check(
                reads=reading,
                check=check,
                default_zone=default_zone,
                zone_names=(customer.timezone, store.timezone if store else None),
            )
            if check is not None
            else None
        )
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
        customer_id=request.ctx.customer_id,
        channel=request.channel,
        subject=subject[:200],
        body=body,
        status="recorded",
        journey_id=ctx.journey_id,
        node_id=ctx.node_id,
        workflow_id=ctx.workflow_id,
        created_at=at,
        provider="" if provider == "outbox" else provider,
        handed_at=None if provider == "outbox" else handed_at,
    )
    if check is not None and seen is not None:
        # the check's decision and ledger record join the row's write transaction
        decision = policy_crud.decide_for_action(session=session, check=check, seen=seen)
        if decision.outcome != ALLOW:
            raise _HeldBack(decision)
    row, created = crud.insert_message(session=session, message=row)
    return row, contact if created else None


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


@dataclass(frozen=True)
class Contact:
    """Where the customer is reached (read while checking them)."""

    phone: str
    email: str


def _contact(customer: Customer) -> Contact:
    email = (customer.attributes or {}).get("email", "")
    return Contact(phone=customer.phone or "", email=email if isinstance(email, str) else "")


def _outbound(row: OutboxMessage, request: SendMessageRequest, contact: Contact) -> OutboundMessage:
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
        phone=contact.phone,
        email=contact.email,
    )


def _hand_to(
    sessions: sessionmaker[Session],
    message_id: str,
    provider: str,
    *,
    at: datetime | None = None,
    note: str = "",
) -> None:
    with sessions() as session:
        crud.mark_handed_to(
            session=session, message_id=message_id, provider=provider, at=at, note=note
        )


def _finish(
    sessions: sessionmaker[Session],
    message_id: str,
    delivery: Delivery,
    now: Callable[[], datetime],
) -> OutboxMessage:
    answer = crud.ProviderAnswer(
        message_id, delivery.status, delivery.response, now(), delivery.provider_message_id
    )
    row = _answers(sessions).store(answer)
    if row is None:  # deleted under us: nothing to mark
        raise RuntimeError(f"outbox row {message_id} vanished during delivery")
    return row


class _AnswerWriter:
    """The providers' answers of one process's concurrent sends, stored in one write
    transaction (flat combining: whoever gets the turn stores everything queued), so a
    busy worker takes the write lock once per batch, not once per message."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        # weakly: the writer must not keep its own key alive in _WRITERS
        self._sessions = weakref.ref(sessions)
        self._mutex = threading.Lock()
        self._turn = threading.Lock()
        self._queue: list[_Pending] = []

    def store(self, answer: crud.ProviderAnswer) -> OutboxMessage | None:
        mine = _Pending(answer)
        with self._mutex:
            self._queue.append(mine)
        with self._turn:
            if not mine.done:
                with self._mutex:
                    batch, self._queue = self._queue, []
                try:
                    sessions = self._sessions()
                    if sessions is None:
                        raise RuntimeError("the session factory is gone")
                    with sessions() as session:
                        rows = crud.store_provider_answers(
                            session=session, answers=[p.answer for p in batch]
                        )
                except Exception as exc:  # every waiter hears it (Temporal retries them)
                    for pending in batch:
                        pending.error, pending.done = exc, True
                else:
                    for pending in batch:
                        pending.row = rows.get(pending.answer.message_id)
                        pending.done = True
        if mine.error is not None:
            raise mine.error
        return mine.row


@dataclass
class _Pending:
    answer: crud.ProviderAnswer
    row: OutboxMessage | None = None
    error: Exception | None = None
    done: bool = False


#: One writer per session factory (a worker has one); gone with its factory.
_WRITERS: weakref.WeakKeyDictionary[sessionmaker[Session], _AnswerWriter] = (
    weakref.WeakKeyDictionary()
)
_WRITERS_LOCK = threading.Lock()


def _answers(sessions: sessionmaker[Session]) -> _AnswerWriter:
    with _WRITERS_LOCK:
        writer = _WRITERS.get(sessions)
        if writer is None:
            writer = _WRITERS[sessions] = _AnswerWriter(sessions)
        return writer


def _result(row: OutboxMessage) -> MessageSent:
    return MessageSent(message_id=row.id, channel=row.channel, status=row.status, rendered=row.body)

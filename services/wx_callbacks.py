"""What WeCom and WeChat tell us: contact changes and template-message receipts.

Routes (``canvas_ui/routes/wx_callbacks.py``) verify and decrypt; these use cases act on the
plain callback fields, one write transaction each:

* **WeCom ``change_external_contact``** — ``add_external_contact`` binds the customer to the
  guide whose WeCom ``userid`` added them (``db.crud.bindings.bind_guide``, so the binding
  history attributes later online orders to that guide) and tags them
  (``WeComSettings.contact_tag``); ``del_external_contact`` (the guide removed the customer)
  and ``del_follow_user`` (the customer removed the guide) unbind them from that guide and
  swap the tag for ``lost_tag``. The customer is found by ``external_userid``; a first
  contact is matched by the contact-way ``State`` carrying the customer id (``c:<id>`` or the
  bare id), and their ``external_userid`` is stored. Each callback is stored once
  (``wecom_contact_event``): WeCom's repeats change nothing, and an event older than one
  already applied for the same contact is kept but not applied (``stale``).
* **WeChat ``TEMPLATESENDJOBFINISH``** — the receipt of a template message:
  ``db.crud.outbox.record_receipt`` (``success`` → delivered, anything else → failed).
  ``unsubscribe`` (the customer unfollowed the official account) opts them out of
  ``wechat_template`` (``services.opt_outs``, source ``provider_callback``).
* **WeChat ``subscribe_msg_sent_event``** — the receipts of subscribe messages
  (``wechat_subscribe``), one ``<List>`` item per message: ``ErrorCode`` 0 → delivered,
  anything else → failed with ``ErrorStatus``. ``bizsend`` answers no message id, so a
  sent message waits under ``tpl:<template_id>`` (``activities.channels.wechat_subscribe``)
  and the first receipt naming its customer (``FromUserName``) and template is given to the
  oldest such message; the receipt's ``MsgID`` is stored, so a repeat finds the same one.
  ``subscribe_msg_popup_event`` / ``subscribe_msg_change_event`` (the customer agreed to or
  refused a template) are acknowledged and logged: they concern one template, not the
  channel, so they opt nobody out; a refused template answers 43101 at the next send.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from activities.channels.wechat_subscribe import PROVIDER as SUBSCRIBE_PROVIDER
from activities.channels.wechat_subscribe import pending_id
from db.crud import outbox
from db.crud._util import aware
from db.crud.bindings import bind_guide
from db.models import CONTACT_CHANGE_TYPES, Customer, Guide, OutboxMessage, WeComContactEvent
from db.session import begin_write
from services.opt_outs import opt_out

log = logging.getLogger(__name__)

WECHAT_PROVIDER = "wechat"
WECHAT_CHANNEL = "wechat_template"
SUBSCRIBE_EVENTS = ("subscribe_msg_popup_event", "subscribe_msg_change_event")
#: the tag a customer gets when they removed their guide or were removed
LOST_TAG = "企微已删除"


@dataclass(frozen=True)
class ContactOutcome:
    outcome: str  # bound / unbound / duplicate / stale / unknown_customer / unknown_guide / …
    customer_id: str | None = None


def event_time(fields: dict[str, str]) -> datetime:
    """The callback's ``CreateTime`` (seconds since the epoch) as UTC."""
    try:
        return datetime.fromtimestamp(int(fields.get("CreateTime", "0")), UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)


def wecom_contact_event(
    *, session: Session, corp_id: str, fields: dict[str, str], contact_tag: str
) -> ContactOutcome:
    """Apply one decrypted ``change_external_contact`` callback (module docstring); commit."""
    change = fields.get("ChangeType", "")
    if fields.get("Event") != "change_external_contact" or change not in CONTACT_CHANGE_TYPES:
        return ContactOutcome("ignored")
    user_id = fields.get("UserID", "")
    external = fields.get("ExternalUserID", "")
    at = event_time(fields)
    key = f"{corp_id}:{change}:{user_id}:{external}:{fields.get('CreateTime', '')}"
    begin_write(session)
    if session.exec(select(WeComContactEvent.id).where(WeComContactEvent.event_key == key)).first():
        session.commit()
        return ContactOutcome("duplicate")
    row = WeComContactEvent(
        event_key=key[:255],
        change_type=change,
        user_id=user_id[:64],
        external_user_id=external[:64],
        event_time=at,
        state=fields.get("State", "")[:64],
    )
    guide = session.exec(select(Guide).where(Guide.wecom_userid == user_id)).first()
    customer = _customer(
        session, external, fields.get("State", ""), adding=change == "add_external_contact"
    )
    row.guide_id = guide.id if guide else None
    row.customer_id = customer.id if customer else None
    if guide is None:
        row.outcome = "unknown_guide"
    elif customer is None:
        row.outcome = "unknown_customer"
    elif _newer_applied(session, external, at):
        row.outcome = "stale"
    elif change == "add_external_contact":
        customer.wecom_external_userid = external
        bind_guide(session=session, customer=customer, guide_id=guide.id, at=at)
        _retag(customer, add=contact_tag, remove=LOST_TAG)
        row.outcome = "bound"
    elif customer.guide_id == guide.id:
        bind_guide(session=session, customer=customer, guide_id=None, at=at)
        _retag(customer, add=LOST_TAG, remove=contact_tag)
        row.outcome = "unbound"
    else:  # the customer is bound to another guide now: that binding stands
        row.outcome = "other_guide"
    session.add(row)
    if customer is not None:
        session.add(customer)
    try:
        session.commit()
    except IntegrityError:  # the same callback, handled by a parallel request
        session.rollback()
        return ContactOutcome("duplicate")
    return ContactOutcome(row.outcome, row.customer_id)


def _customer(session: Session, external: str, state: str, *, adding: bool) -> Customer | None:
    found = session.exec(select(Customer).where(Customer.wecom_external_userid == external)).first()
    if found is not None or not adding or not state:
        return found
    # a first contact: the contact-way QR code's state names the customer
    customer_id = state[2:] if state.startswith("c:") else state
    customer = session.get(Customer, customer_id[:32])
    if customer is not None and customer.wecom_external_userid not in (None, "", external):
        return None  # already another WeCom contact: do not steal the binding
    return customer


def _newer_applied(session: Session, external: str, at: datetime) -> bool:
    latest = session.exec(
        select(WeComContactEvent.event_time)
        .where(
            WeComContactEvent.external_user_id == external,
            col(WeComContactEvent.outcome).in_(("bound", "unbound")),
        )
        .order_by(col(WeComContactEvent.event_time).desc())
        .limit(1)
    ).first()
    latest_at = aware(latest)
    return latest_at is not None and latest_at > at


def _retag(customer: Customer, *, add: str, remove: str) -> None:
    tags = [t for t in customer.tags if t != remove]
    if add and add not in tags:
        tags.append(add)
    customer.tags = tags  # a new list: the JSON column sees the change


# ---------------------------------------------------------------------- WeChat


class UnknownMessageError(Exception):
    """A receipt names a message this install never sent."""

    def __init__(self, provider_message_id: str) -> None:
        super().__init__(f"no WeChat message with msgid {provider_message_id}")
        self.provider_message_id = provider_message_id


_logged_unknown: OrderedDict[str, None] = OrderedDict()


def wechat_event(
    *, session: Session, fields: dict[str, str], items: list[dict[str, str]] | None = None
) -> str:
    """Apply one WeChat event (``items``: its nested ``<List>`` entries, for subscribe-message
    events); → what was done. :class:`UnknownMessageError` for a receipt of an unknown
    message (logged once per msgid)."""
    event = fields.get("Event")
    if event == "unsubscribe":
        return _unsubscribed(session, fields)
    if event == "subscribe_msg_sent_event":
        return _subscribe_receipts(session, fields, items or [])
    if event in SUBSCRIBE_EVENTS:
        choices = ", ".join(
            f"{i.get('TemplateId', '')}={i.get('SubscribeStatusString', '')}" for i in items or []
        )
        log.info("WeChat %s from a follower: %s", event, choices or "no templates")
        return "noted"
    if event != "TEMPLATESENDJOBFINISH":
        return "ignored"
    msgid = fields.get("MsgID") or fields.get("MsgId") or ""
    state = fields.get("Status", "")
    row = outbox.record_receipt(
        session=session,
        provider=WECHAT_PROVIDER,
        provider_message_id=msgid,
        status="delivered" if state == "success" else "failed",
        at=event_time(fields),
        detail=state,
    )
    if row is None:
        _unknown(msgid, state)
    return row.status


def _unknown(msgid: str, state: str) -> NoReturn:
    """Log a receipt for a message this install never sent (once per msgid) and raise."""
    if msgid not in _logged_unknown:
        log.warning("WeChat receipt for unknown msgid %s (%s)", msgid, state)
        _logged_unknown[msgid] = None
        while len(_logged_unknown) > 1000:
            _logged_unknown.popitem(last=False)
    raise UnknownMessageError(msgid)


def _subscribe_receipts(
    session: Session, fields: dict[str, str], items: list[dict[str, str]]
) -> str:
    """Each ``<List>`` of a ``subscribe_msg_sent_event`` is one message's receipt (module
    docstring). Every item is applied; one naming no message of ours raises
    :class:`UnknownMessageError` after the others are stored."""
    at = event_time(fields)
    openid = fields.get("FromUserName", "")
    unknown: tuple[str, str] | None = None
    outcome = "ignored"
    for item in items:
        msgid = item.get("MsgID") or item.get("MsgId") or ""
        code = item.get("ErrorCode", "")
        state = item.get("ErrorStatus", "")
        if not msgid:
            continue
        _claim_pending(session, openid=openid, template_id=item.get("TemplateId", ""), msgid=msgid)
        row = outbox.record_receipt(
            session=session,
            provider=SUBSCRIBE_PROVIDER,
            provider_message_id=msgid,
            status="delivered" if code == "0" or (not code and state == "success") else "failed",
            at=at,
            detail=state if code in ("0", "") else f"{state} (ErrorCode {code})",
        )
        if row is None:
            unknown = unknown or (msgid, state)
        else:
            outcome = row.status
    if unknown is not None:
        _unknown(*unknown)
    return outcome


def _claim_pending(session: Session, *, openid: str, template_id: str, msgid: str) -> None:
    """Give ``msgid`` to the oldest sent subscribe message of the openid's customer and
    ``template_id`` still waiting for its receipt (a message already holding ``msgid``:
    nothing to do). Commits."""
    begin_write(session)
    taken = session.exec(
        select(OutboxMessage.id).where(
            OutboxMessage.provider == SUBSCRIBE_PROVIDER,
            OutboxMessage.provider_message_id == msgid,
        )
    ).first()
    customer = (
        session.exec(select(Customer).where(Customer.wechat_openid == openid)).first()
        if openid and template_id and taken is None
        else None
    )
    if customer is not None:
        row = session.exec(
            select(OutboxMessage)
            .where(
                OutboxMessage.provider == SUBSCRIBE_PROVIDER,
                OutboxMessage.customer_id == customer.id,
                OutboxMessage.provider_message_id == pending_id(template_id),
            )
            .order_by(col(OutboxMessage.sent_at), col(OutboxMessage.created_at))
            .limit(1)
        ).first()
        if row is not None:
            row.provider_message_id = msgid[:128]
            session.add(row)
    session.commit()


def _unsubscribed(session: Session, fields: dict[str, str]) -> str:
    """A follower left the official account: they are out of ``wechat_template`` (stored
    like any opt-out, honoured by every journey; a repeat changes nothing)."""
    openid = fields.get("FromUserName", "")
    customer = session.exec(select(Customer).where(Customer.wechat_openid == openid)).first()
    if not openid or customer is None:
        session.commit()
        return "unknown_customer"
    opt_out(
        session,
        customer_id=customer.id,
        channel=WECHAT_CHANNEL,
        source="provider_callback",
        at=event_time(fields),
    )
    return "opted_out"

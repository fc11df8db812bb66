"""Preview and test send of a message step (issue 16 item 5): the message panel renders the
step's text for a real customer or a synthetic one with the worker's own renderer
(``activities.rendering``), and sends it to the signed-in user's own phone, WeCom account
or e-mail through the provider the journeys use (WeCom: an app message, see
:class:`WeComAppTest`), recorded in the outbox as a test (``is_test``: never part of a
run, never counted in results, caps or reports; no contact-ledger entry).

Values of earlier steps (``ctx.<node>.*``) are samples: a preview runs no journey.
Bad input raises :class:`PreviewInputError` naming the field (a 422).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from activities.channels.wechat import WeChatClient, template_payload
from activities.channels.wechat_subscribe import send_subscribe, subscribe_payload
from activities.channels.wecom import WeComClient
from activities.providers import (
    Delivery,
    MessageProvider,
    MessageRejectedError,
    OutboundMessage,
    TransientDeliveryError,
)
from activities.rendering import TemplateRenderError, customer_variables, render
from db import crud
from db.crud import opt_outs
from db.models import Customer, Guide, OutboxMessage, UserAccount
from engine.contact_policy import MESSAGE_CHANNELS
from engine.kinds import KINDS

#: The synthetic customer's profile (a test run's default customer, as the demo has it).
SYNTHETIC_ID = "TEST"
SYNTHETIC_NAME = "测试客户"
#: Channels a test can go to, and the profile field of the account that says where.
TEST_ADDRESSES = {
    "sms": "phone",
    "email": "email",
    "wecom": "wecom_userid",
    "wechat_template": "wechat_openid",
    "wechat_subscribe": "wechat_openid",
}


class PreviewInputError(ValueError):
    """Bad preview or test-send input; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Preview:
    """The message as the customer would read it."""

    channel: str
    subject: str
    body: str
    customer_id: str  # SYNTHETIC_ID for the synthetic customer
    customer_name: str
    #: the real customer left this channel: a journey would not send it to them
    opted_out: bool = False

    @property
    def synthetic(self) -> bool:
        return self.customer_id == SYNTHETIC_ID


@dataclass(frozen=True)
class TestSent:
    """What a test send did: the outbox row (``is_test``) and where it went."""

    message: OutboxMessage
    address: str


def sample_context(upstream: Mapping[str, str], now: datetime) -> dict[str, dict[str, Any]]:
    """Sample values of what each upstream step records (``{node id: kind}`` → ``ctx``):
    each kind's ``SPEC.shown_fields`` samples (a moment: ``now`` plus its offset, as ISO)."""
    specs = {kind.value: spec for kind, spec in KINDS.items()}
    return {
        node: {
            f.name: (now + f.sample).isoformat() if f.moment else f.sample
            for f in specs[kind].shown_fields
        }
        for node, kind in upstream.items()
        if kind in specs and specs[kind].shown_fields
    }


def find_customer(session: Session, *, query: str) -> Customer:
    """The customer named by ``query``: an exact id, else the first whose id or phone starts
    with it or whose name contains it."""
    q = query.strip()
    customer = crud.get_customer(session=session, customer_id=q) or crud.get_customer(
        session=session, customer_id=q.upper()
    )
    if customer is None and q:
        found = crud.search_customers(session=session, query=q, limit=1)
        customer = found[0] if found else None
    if customer is None:
        raise PreviewInputError("customer", f"no customer matches {q!r}")
    return customer


def preview(
    session: Session,
    *,
    channel: str,
    content: str,
    subject: str = "",
    customer_query: str = "",
    upstream: Mapping[str, str] | None = None,
    now: datetime,
) -> Preview:
    """Render ``content`` (and ``subject``) for the customer ``customer_query`` names, or for
    the synthetic customer when it is empty."""
    if channel not in MESSAGE_CHANNELS:
        raise PreviewInputError("channel", f"unknown channel {channel!r}")
    if not content.strip():
        raise PreviewInputError("content", "the message is empty: write its text first")
    if customer_query.strip():
        customer = find_customer(session, query=customer_query)
    else:
        customer = _synthetic(session)
    store = (
        crud.get_store(session=session, store_id=customer.store_id) if customer.store_id else None
    )
    guide = (
        crud.get_guide(session=session, guide_id=customer.guide_id) if customer.guide_id else None
    )
    variables = {
        "customer": customer_variables(customer, store, guide),
        "ctx": sample_context(upstream or {}, now),
    }
    try:
        body = render(content, variables)
    except TemplateRenderError as exc:
        raise PreviewInputError("content", exc.reason) from exc
    try:
        rendered_subject = render(subject, variables) if subject else ""
    except TemplateRenderError as exc:
        raise PreviewInputError("subject", exc.reason) from exc
    left = customer.id != SYNTHETIC_ID and opt_outs.is_opted_out(
        session=session, customer_id=customer.id, channel=channel
    )
    return Preview(channel, rendered_subject, body, customer.id, customer.name, left)


def _synthetic(session: Session) -> Customer:
    """The synthetic customer (never stored), with the first active guide and their store
    so that ``customer.store_name`` and ``customer.guide_name`` read as they would."""
    guide = session.exec(
        select(Guide).where(col(Guide.active).is_(True)).order_by(col(Guide.id)).limit(1)
    ).first()
    return Customer(
        id=SYNTHETIC_ID,
        name=SYNTHETIC_NAME,
        phone="13800000000",
        member_level="silver",
        store_id=guide.store_id if guide is not None else None,
        guide_id=guide.id if guide is not None else None,
    )


def test_address(session: Session, *, account: UserAccount, channel: str) -> str:
    """Where a test of ``channel`` goes for ``account``: their profile's phone (else their
    guide's) or e-mail. Raises :class:`PreviewInputError` naming the missing field."""
    field_name = TEST_ADDRESSES.get(channel)
    if field_name is None:
        raise PreviewInputError(
            "channel",
            f"test sends go by SMS, WeCom, WeChat or e-mail; a {channel} message can be "
            "previewed only",
        )
    address = str(getattr(account, field_name) or "").strip()
    if not address and account.guide_id and field_name in ("phone", "wecom_userid"):
        # a guide's or manager's account: their own guide row knows their phone / WeCom id
        guide = crud.get_guide(session=session, guide_id=account.guide_id)
        address = str(getattr(guide, field_name, "") or "").strip() if guide is not None else ""
    if not address:
        raise PreviewInputError(
            field_name, f"your profile has no {field_name}: add it on the accounts page first"
        )
    return address


_PHONE = re.compile(r"^(?:\+?86)?1\d{10}$|^\+[1-9]\d{7,14}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: a WeCom member's userid (letters, digits, "_", "-", "@", "."; at most 64)
_WECOM_USERID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
#: an official-account openid (services.contact_ids.OPENID)
_OPENID = re.compile(r"^[A-Za-z0-9_-]{10,64}$")


class WeComAppTest:
    """A test of a WeCom message goes to the sender's own WeCom account as an app message
    (the customer channel needs a customer's external contact and their guide's
    confirmation, so it cannot reach a colleague)."""

    name = "wecom_app"

    def __init__(self, client: WeComClient, userid: str) -> None:
        self._client = client
        self._userid = userid

    def deliver(self, message: OutboundMessage) -> Delivery:
        content = f"{message.subject}\n{message.body}" if message.subject else message.body
        msgid = self._client.send_app_text(userid=self._userid, content=content)
        return Delivery(
            status="sent", response=f"WeCom app message {msgid}", provider_message_id=msgid or None
        )


class WeChatOpenidTest:
    """A test of a WeChat template or subscribe message goes to the sender's own openid
    (``channel`` says which API). WeChat delivers a subscribe message only after the
    sender subscribed to that template themselves; its refusal (43101) is shown as is."""

    def __init__(self, client: WeChatClient, openid: str, channel: str) -> None:
        self._client = client
        self._openid = openid
        self._channel = channel
        self.name = "wechat_subscribe" if channel == "wechat_subscribe" else "wechat"

    def deliver(self, message: OutboundMessage) -> Delivery:
        settings = self._client.settings
        if self._channel == "wechat_subscribe":
            payload = subscribe_payload(settings, openid=self._openid, message=message)
            msgid = send_subscribe(self._client, payload)
        else:
            payload = template_payload(settings, openid=self._openid, message=message)
            msgid = self._client.send_template(payload)
        return Delivery(
            status="sent", response=f"WeChat {self.name} test", provider_message_id=msgid or None
        )


def set_test_address(session: Session, *, account: UserAccount, channel: str, value: str) -> str:
    """Store where ``account``'s tests of ``channel`` go (their profile's phone or e-mail);
    the value as stored. A phone is a mainland mobile or E.164 (``+8613800138000``)."""
    field_name = TEST_ADDRESSES.get(channel)
    if field_name is None:
        raise PreviewInputError(
            "channel",
            f"test sends go by SMS, WeCom, WeChat or e-mail; a {channel} message can be "
            "previewed only",
        )
    cleaned = re.sub(r"[\s-]", "", value) if field_name == "phone" else value.strip()
    pattern = {"phone": _PHONE, "email": _EMAIL, "wechat_openid": _OPENID}.get(
        field_name, _WECOM_USERID
    )
    if len(cleaned) > 254 or not pattern.match(cleaned):
        raise PreviewInputError("my_address", f"{value.strip()!r} is not a valid {field_name}")
    setattr(account, field_name, cleaned)
    session.add(account)
    session.commit()
    return cleaned


def test_send(
    session: Session,
    *,
    provider: MessageProvider,
    account: UserAccount,
    message: Preview,
    journey_id: str | None,
    node_id: str | None,
    now: datetime,
) -> TestSent:
    """Send ``message`` to ``account``'s own address through ``provider`` and record it in
    the outbox as a test. A refusal by the provider is stored (status ``failed``) and raised
    as :class:`PreviewInputError` on ``provider``; a transient failure is not retried (the
    user can press again)."""
    address = test_address(session, account=account, channel=message.channel)
    key = f"test:{uuid.uuid4().hex}"
    row = OutboxMessage(
        id=uuid.uuid4().hex,
        idempotency_key=key,
        customer_id="" if message.synthetic else message.customer_id,
        channel=message.channel,
        subject=message.subject[:200],
        body=message.body,
        status="recorded",
        journey_id=journey_id,
        node_id=node_id,
        workflow_id=None,
        created_at=now,
        is_test=True,
    )
    session.add(row)
    session.commit()
    outbound = OutboundMessage(
        message_id=row.id,
        idempotency_key=key,
        customer_id=row.customer_id,
        channel=row.channel,
        subject=row.subject,
        body=row.body,
        journey_id=journey_id,
        node_id=node_id,
        phone=address if message.channel == "sms" else "",
        email=address if message.channel == "email" else "",
    )
    try:
        delivery = provider.deliver(outbound)
    except (MessageRejectedError, TransientDeliveryError) as exc:
        reason = exc.reason if isinstance(exc, MessageRejectedError) else str(exc)
        row.status = "failed"
        row.provider_response = reason[:500]
        session.add(row)
        session.commit()
        raise PreviewInputError("provider", f"the provider refused the test: {reason}") from exc
    row.status = delivery.status
    row.provider_response = delivery.response
    if delivery.status == "sent":
        row.sent_at = now
    row.provider = getattr(provider, "name", "")[:32]
    row.provider_message_id = delivery.provider_message_id
    session.add(row)
    session.commit()
    return TestSent(row, address)


__all__ = [
    "SYNTHETIC_ID",
    "Preview",
    "PreviewInputError",
    "TestSent",
    "WeChatOpenidTest",
    "WeComAppTest",
    "find_customer",
    "preview",
    "sample_context",
    "set_test_address",
    "test_address",
    "test_send",
]

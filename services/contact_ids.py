"""The ids the WeCom and WeChat channels address people by, set by hand (HQ and admins).

WeCom contact events (``services.wx_callbacks``) fill a customer's ``external_userid`` and
a profile sync may bring the ``openid``; until then — or when either is wrong — HQ sets them
on the customer card, and an admin sets a guide's WeCom ``userid`` (where their task notices
go, the sender of WeCom messages to their customers) on the accounts page. Providers read
the ids at each send, so a change applies to the next message.

Each change is checked (:class:`ContactIdInputError` names the field), refused when another
customer or guide already holds the id (a message must never reach the wrong person), and
written with its audit entry (before and after) in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, select

from db.errors import NotFoundError
from db.models import Customer, Guide
from db.session import begin_write
from services import audit

#: WeCom external contact id: ``wm…`` / ``wo…`` then letters, digits, ``-`` or ``_``.
EXTERNAL_USERID = re.compile(r"^w[mo][A-Za-z0-9_-]{4,62}$")
#: An official-account openid (28 characters today): letters, digits, ``-`` or ``_``.
OPENID = re.compile(r"^[A-Za-z0-9_-]{10,64}$")
#: A WeCom member userid: 1–64 of letters, digits and ``_-@.``, starting with a letter or digit.
WECOM_USERID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class ContactIdInputError(ValueError):
    """An id that cannot be stored; ``field`` names it, ``taken_by`` the customer or guide
    that already holds it (empty when the id is malformed)."""

    def __init__(self, field: str, message: str, *, taken_by: str = "") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.taken_by = taken_by


@dataclass(frozen=True)
class CustomerIds:
    """A customer's WeCom and WeChat ids; ``""``: none."""

    wecom_external_userid: str = ""
    wechat_openid: str = ""


def _clean(field: str, value: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if not pattern.match(value):
        raise ContactIdInputError(field, what)
    return value


def set_customer_ids(
    *, session: Session, customer_id: str, ids: CustomerIds, actor: str
) -> Customer:
    """Store ``ids`` on the customer (empty clears one) with an audit entry; commit.
    :class:`NotFoundError` for an unknown customer, :class:`ContactIdInputError` otherwise."""
    external = _clean(
        "wecom_external_userid",
        ids.wecom_external_userid,
        EXTERNAL_USERID,
        "a WeCom external contact id starts with wm or wo, then 4–62 letters, digits, - or _",
    )
    openid = _clean(
        "wechat_openid", ids.wechat_openid, OPENID, "an openid is 10–64 letters, digits, - or _"
    )
    begin_write(session)
    customer = session.get(Customer, customer_id)
    if customer is None:
        session.rollback()
        raise NotFoundError("customer", customer_id)
    for field, value, column in (
        ("wecom_external_userid", external, Customer.wecom_external_userid),
        ("wechat_openid", openid, Customer.wechat_openid),
    ):
        if value is None:
            continue
        other = session.exec(
            select(Customer.id).where(column == value, Customer.id != customer_id)
        ).first()
        if other is not None:
            session.rollback()
            raise ContactIdInputError(field, f"customer {other} already has it", taken_by=other)
    before = {
        "wecom_external_userid": customer.wecom_external_userid,
        "wechat_openid": customer.wechat_openid,
    }
    after = {"wecom_external_userid": external, "wechat_openid": openid}
    if before != after:
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="customer",
            object_id=customer.id,
            before=before,
            after=after,
            summary=f"WeCom / WeChat ids of {customer.id}",
        )
        customer.wecom_external_userid = external
        customer.wechat_openid = openid
        session.add(customer)
    session.commit()
    return customer


def set_guide_wecom_userid(*, session: Session, guide_id: str, userid: str, actor: str) -> Guide:
    """Store the guide's WeCom member ``userid`` (empty clears it) with an audit entry;
    commit. :class:`NotFoundError` / :class:`ContactIdInputError` as above."""
    value = _clean(
        "wecom_userid",
        userid,
        WECOM_USERID,
        "a WeCom userid is 1–64 letters, digits, _ - @ or ., starting with a letter or digit",
    )
    begin_write(session)
    guide = session.get(Guide, guide_id)
    if guide is None:
        session.rollback()
        raise NotFoundError("guide", guide_id)
    if value is not None:
        other = session.exec(
            select(Guide.id).where(Guide.wecom_userid == value, Guide.id != guide_id)
        ).first()
        if other is not None:
            session.rollback()
            raise ContactIdInputError(
                "wecom_userid", f"guide {other} already has it", taken_by=other
            )
    if guide.wecom_userid != value:
        audit.record(
            session,
            actor=actor,
            action="update",
            object_type="guide",
            object_id=guide.id,
            before={"wecom_userid": guide.wecom_userid},
            after={"wecom_userid": value},
            summary=f"WeCom userid of {guide.name} ({guide.id})",
        )
        guide.wecom_userid = value
        session.add(guide)
    session.commit()
    return guide

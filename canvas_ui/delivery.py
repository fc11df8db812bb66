"""A message's delivery status as people read it (issue 16): sent → delivered / failed, with
its moment and the provider's detail; and where a channel opt-out came from. One place for
the customer card, the outbox and the run view.

The outbox row's receipt columns (``delivered_at``, ``failed_at``, ``status_detail``) come
from ``db.crud.outbox.record_receipt``; a row a provider never answered keeps ``sent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from canvas_ui.i18n import gettext, lazy
from canvas_ui.texts import CHANNEL_LABELS, when
from canvas_ui.words import message_status
from db.models import OutboxMessage

#: Where an opt-out came from (``db.models.opt_outs.OPT_OUT_SOURCES``).
OPT_OUT_SOURCE_LABELS: dict[str, str] = {
    "sms_reply": lazy("SMS reply (T / TD / 退订)"),
    "provider_callback": lazy("Provider unsubscribe notice"),
    "hq": lazy("HQ"),
    "customer_profile": lazy("Customer profile"),
    "import": lazy("Customer profile (imported)"),
}


@dataclass(frozen=True)
class DeliveryView:
    """One message's status line: ``status`` is the stored value (``recorded``, ``sent``,
    ``delivered``, ``failed``), ``label`` its words, ``at`` the moment of that status."""

    status: str
    label: str
    at: datetime | None
    detail: str
    is_test: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "label": self.label,
            "at": self.at.isoformat() if self.at else None,
            "detail": self.detail,
            "is_test": self.is_test,
        }


def delivery(message: OutboxMessage) -> DeliveryView:
    """``message``'s latest status: delivered or failed (from a receipt or a refusal), else
    sent, else recorded; the provider's words as the detail."""
    status = message.status
    at: datetime | None
    if status == "delivered":
        at = message.delivered_at
    elif status == "failed":
        at = message.failed_at or message.sent_at or message.created_at
    elif status == "sent":
        at = message.sent_at
    else:
        at = message.created_at
    detail = message.status_detail or (message.provider_response if status == "failed" else "")
    return DeliveryView(status, message_status(status), at, detail[:300], message.is_test)


def channel_name(channel: str) -> str:
    """``sms`` → "SMS" / "短信"."""
    return gettext(CHANNEL_LABELS[channel]) if channel in CHANNEL_LABELS else channel


def source_name(source: str) -> str:
    """``sms_reply`` → "SMS reply (T / TD / 退订)"; another source as it is stored."""
    return gettext(OPT_OUT_SOURCE_LABELS[source]) if source in OPT_OUT_SOURCE_LABELS else source


def delivery_line(view: DeliveryView, tz: str) -> str:
    """ "Delivered 12-01 10:05", "Failed 12-01 10:05: UNDELIV" — the run view's words."""
    at = when(view.at.isoformat(), tz) if view.at else ""
    line = " ".join(part for part in (view.label, at) if part)
    return f"{line}: {view.detail}" if view.detail and view.status == "failed" else line


def annotate_steps(session: Session, steps: list[dict[str, Any]], tz: str) -> None:
    """Add each message step's delivery status as it stands now (receipts arrive after the
    run recorded the step) to its note and to its result (``delivery``), in place."""
    ids = [
        str(s["result"]["message_id"])
        for s in steps
        if isinstance(s.get("result"), dict) and s["result"].get("message_id")
    ]
    if not ids:
        return
    rows = session.exec(select(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))
    found = {m.id: delivery(m) for m in rows}
    for s in steps:
        result = s.get("result")
        view = found.get(str(result.get("message_id"))) if isinstance(result, dict) else None
        if view is None or not isinstance(result, dict):
            continue
        line = delivery_line(view, tz)
        s["result"] = {**result, "delivery": line}
        s["delivery"] = view.as_json()
        s["note"] = f"{s['note']} · {line}" if s.get("note") else line

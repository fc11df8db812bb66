"""The outbox page's rows in people's words (issue 16): the customer and the journey by
name, the step by its label in the version the message was sent from (as the run view names
it), the delivery status through :mod:`canvas_ui.delivery`. A fixed number of queries per
page, whatever its length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import Session

from canvas_ui.delivery import DeliveryView, channel_name, delivery
from canvas_ui.diagnostics import node_labels
from db import crud
from db.models import OutboxMessage

#: How much of a body the table shows (the whole text is the cell's title).
BODY_CHARS = 80


@dataclass(frozen=True)
class OutboxRow:
    """One message as the outbox table shows it."""

    message: OutboxMessage
    customer_name: str  # "" when no customer row (a test send to a synthetic customer)
    channel: str
    journey_name: str
    step_name: str
    body: str  # truncated to BODY_CHARS
    delivery: DeliveryView


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= BODY_CHARS else text[: BODY_CHARS - 1] + "…"


def outbox_rows(*, session: Session, messages: Sequence[OutboxMessage]) -> list[OutboxRow]:
    """``messages`` as rows, in their order."""
    customers = {
        c.id: c.name
        for c in crud.get_customers(
            session=session, customer_ids=sorted({m.customer_id for m in messages})
        )
    }
    journey_ids = sorted({m.journey_id for m in messages if m.journey_id})
    journeys = {j.id: j for j in crud.get_journeys(session=session, journey_ids=journey_ids)}
    versions = crud.message_versions(session=session, messages=messages)
    labels: dict[tuple[str, int], dict[str, str]] = {}
    rows = []
    for m in messages:
        step = m.node_id or ""
        version = versions.get(m.id)
        if version is not None and m.node_id:
            key = (version.journey_id, version.version)
            if key not in labels:
                labels[key] = node_labels(version.document)
            step = labels[key].get(m.node_id, m.node_id)
        elif m.node_id and m.journey_id in journeys:
            # no run row (a test send from the editor names the draft's step)
            step = node_labels(journeys[m.journey_id].draft_document).get(m.node_id, m.node_id)
        journey = journeys.get(m.journey_id or "")
        rows.append(
            OutboxRow(
                message=m,
                customer_name=customers.get(m.customer_id, ""),
                channel=channel_name(m.channel),
                journey_name=journey.name if journey is not None else (m.journey_id or ""),
                step_name=step,
                body=_short(m.body),
                delivery=delivery(m),
            )
        )
    return rows

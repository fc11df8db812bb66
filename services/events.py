"""Customer events in: store once, tell the customer's running journeys, start event entries.

``POST /api/events`` and the CLI call :func:`ingest`. A repeated ``event_id`` is accepted and
does nothing (producers retry). Events reach running journeys as the ``customer_event``
signal; a live journey whose entry is that event type starts for the customer with
signal-with-start, so the triggering event is never lost in a race.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError

from audiences import metrics
from db import crud
from db.models import CustomerEventCreate, Journey, JourneyVersion
from db.session import end_transaction
from engine import ir, semantics
from engine.runtime import CustomerEventIn
from services.enrollment import compiled_of, enter
from workflows import JourneyWorkflow

MAX_PROPERTIES_BYTES = 16 * 1024
MAX_BATCH = 500


class EventIn(BaseModel):
    """One customer event as producers post it."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=128, description="Producer's unique id.")
    customer_id: str = Field(min_length=1, max_length=64)
    type: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z][a-z0-9_\.]*$",
        description="e.g. purchase, store_visit, browse, coupon_redeemed",
    )
    properties: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime

    @field_validator("properties")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
        if size > MAX_PROPERTIES_BYTES:
            raise ValueError(
                f"properties are {size} bytes; the limit is {MAX_PROPERTIES_BYTES} bytes"
            )
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class UnknownCustomersError(Exception):
    def __init__(self, problems: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(p["message"] for p in problems))
        self.problems = problems


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    signalled: int = 0
    started: int = 0
    entries_skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _live_event_entries(session: Session, event_type: str) -> list[JourneyVersion]:
    """Live versions whose entry is triggered by ``event_type``."""
    stmt = (
        select(JourneyVersion)
        .join(
            Journey,
            (col(Journey.id) == col(JourneyVersion.journey_id))
            & (col(Journey.live_version) == col(JourneyVersion.version)),
        )
        .where(Journey.status == "live")
    )
    found = []
    for version in session.exec(stmt):
        trigger = compiled_of(version).entry.trigger
        if isinstance(trigger, ir.EventEntry) and trigger.event_type == event_type:
            found.append(version)
    return found


async def ingest(
    *, session: Session, client: Client | None, task_queue: str, events: list[EventIn]
) -> IngestResult:
    """Store, signal and start. Validates the whole batch first: all or nothing."""
    problems = []
    known = {
        c.id
        for c in crud.get_customers(session=session, customer_ids=[e.customer_id for e in events])
    }
    for i, ev in enumerate(events):
        if ev.customer_id not in known:
            problems.append(
                {
                    "index": i,
                    "event_id": ev.event_id,
                    "field": "customer_id",
                    "message": f"event {ev.event_id}: unknown customer '{ev.customer_id}'",
                }
            )
    if problems:
        raise UnknownCustomersError(problems)

    result = IngestResult()
    for ev in events:
        _, created = crud.record_event(
            session=session,
            event=CustomerEventCreate(
                event_id=ev.event_id,
                customer_id=ev.customer_id,
                type=ev.type,
                properties=ev.properties,
                occurred_at=ev.occurred_at,
            ),
        )
        if not created:
            result.duplicates += 1
            continue
        result.accepted += 1
        # customer metrics and RFM move with the event (segments read them): issue 5
        metrics.on_event(
            session=session,
            customer_id=ev.customer_id,
            event_type=ev.type,
            occurred_at=ev.occurred_at,
            properties=ev.properties,
        )
        if client is None:
            continue
        payload = CustomerEventIn(ev.event_id, ev.type, ev.occurred_at.isoformat(), ev.properties)
        running = crud.get_running_runs_for_customer(session=session, customer_id=ev.customer_id)
        entries = _live_event_entries(session, ev.type)
        end_transaction(session)
        result.signalled += await _signal_all(client, [r.workflow_id for r in running], payload)
        in_journeys = {r.journey_id for r in running}
        for version in entries:
            if version.journey_id in in_journeys:
                continue  # already in it: the running run got the event as a signal
            trigger = compiled_of(version).entry.trigger
            assert isinstance(trigger, ir.EventEntry)
            if not semantics.match_filters(trigger.filters, ev.properties):
                continue
            outcome = await enter(
                session=session,
                client=client,
                task_queue=task_queue,
                version=version,
                customer_id=ev.customer_id,
                entry_event=payload,
            )
            if outcome.started:
                result.started += 1
            else:
                result.entries_skipped.append(
                    {
                        "journey_id": version.journey_id,
                        "customer_id": ev.customer_id,
                        "reason": outcome.reason,
                    }
                )
    return result


async def _signal_all(client: Client, workflow_ids: list[str], event: CustomerEventIn) -> int:
    async def one(wid: str) -> bool:
        try:
            await client.get_workflow_handle(wid).signal(JourneyWorkflow.customer_event, event)
        except RPCError:  # the run ended since we looked: nothing to tell it
            return False
        return True

    return sum(await asyncio.gather(*(one(w) for w in workflow_ids)))

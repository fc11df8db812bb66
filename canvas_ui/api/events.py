"""``POST /api/events``: customer events in (one or a batch). Thin: see services.events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, HTTPException, status
from fastapi.responses import JSONResponse
from pydantic import TypeAdapter, ValidationError

from canvas_ui.deps import SessionDep, TemporalDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services.events import MAX_BATCH, EventIn, UnknownCustomersError, ingest
from services.temporal import TemporalUnavailableError

router = APIRouter(prefix="/api", tags=["events"], route_class=UnitOfWorkRoute)
#: what a producer is told to wait before sending again while Temporal is away
RETRY_AFTER_SECONDS = 30
_EVENTS = TypeAdapter(list[EventIn])


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        503: {
            "description": "Temporal is unavailable: the events are stored and will be "
            "delivered when it is back (``Retry-After`` says when to send them again)."
        }
    },
)
async def post_events(
    session: SessionDep,
    temporal: TemporalDep,
    payload: Any = Body(
        ...,
        examples=[
            {
                "event_id": "pos-20261123-000184",
                "customer_id": "C000123",
                "type": "purchase",
                "properties": {"amount": 399, "store_id": "S01"},
                "occurred_at": "2026-11-23T10:15:00+08:00",
            }
        ],
    ),
) -> Any:
    """Store events idempotently by ``event_id``, signal the customer's running journeys and
    start journeys whose entry is this event. Body: one event object or a list (≤ 500)."""
    items = payload if isinstance(payload, list) else [payload]
    if not items or len(items) > MAX_BATCH:
        raise HTTPException(422, f"Send between 1 and {MAX_BATCH} events per request.")
    try:
        events = _EVENTS.validate_python(items)
    except ValidationError as exc:
        return _invalid(
            [
                {
                    "index": e["loc"][0] if e["loc"] else None,
                    "field": ".".join(str(p) for p in e["loc"][1:]),
                    "msg": e["msg"],
                    "type": e["type"],
                }
                for e in exc.errors()
            ]
        )
    client = None
    unavailable = ""
    if temporal is not None:
        try:
            client = await temporal.client()
        except TemporalUnavailableError as exc:
            unavailable = str(exc)
    try:
        result = await ingest(
            session=session,
            client=client,
            task_queue=temporal.task_queue if temporal else "journeys",
            events=events,
        )
    except UnknownCustomersError as exc:
        return _invalid(
            [
                {
                    "index": p["index"],
                    "field": p["field"],
                    "msg": p["message"],
                    "type": "unknown_customer",
                }
                for p in exc.problems
            ]
        )
    if unavailable or (result.pending and temporal is not None):
        # stored, not delivered: the reconciler delivers them once Temporal is back, and so
        # does a retry of the same event ids
        body = result.to_dict()
        body["detail"] = (
            f"Temporal is unavailable; {len(result.pending)} event(s) are stored and will "
            f"be delivered when it is back: {unavailable or result.error}"
        )
        return JSONResponse(
            body, status_code=503, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return result.to_dict()


def _invalid(errors: list[dict[str, Any]]) -> JSONResponse:
    """422 in the API's one error shape: a sentence, then each problem by event index."""
    detail = "; ".join(f"event {e['index']}: {e['field'] or 'event'}: {e['msg']}" for e in errors)
    return JSONResponse({"detail": detail, "errors": errors}, status_code=422)

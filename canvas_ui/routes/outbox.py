"""The outbox page (issue 16): every message the journeys sent, newest first, with its
delivery status (sent → delivered / failed, when, the provider's words), filtered by channel,
status, journey, customer and period, the counts per status on top. HQ and admins see every
message, a store manager those to the store's customers (``canvas_ui.access``). The same rows
as ``GET /api/outbox``; the search is ``db.crud.search_messages``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlmodel import Session

from canvas_ui.deps import CurrentPrincipal, ReadSessionDep
from canvas_ui.i18n import gettext
from canvas_ui.outbox_rows import outbox_rows
from canvas_ui.templating import render
from canvas_ui.texts import CHANNEL_LABELS
from canvas_ui.unit_of_work import UnitOfWorkRoute
from canvas_ui.words import message_status
from db import crud
from db.models import MESSAGE_STATUSES
from services.accounts import Principal

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

PAGE_SIZE = 50
MAX_PAGE = 100_000
_YES = ("1", "on", "true", "yes")
_NO = ("", "0", "off", "false", "no")


@dataclass
class Filters:
    """The filters as the form sent them (shown back as they were) and the search they make;
    ``errors``: field → what is wrong with it."""

    values: dict[str, str]
    search: crud.OutboxSearch = field(default_factory=crud.OutboxSearch)
    page: int = 1
    errors: dict[str, str] = field(default_factory=dict)


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_filters(
    values: dict[str, str], *, session: Session, actor: Principal, zone: ZoneInfo
) -> Filters:
    """Check each filter; a value the page cannot take is an error naming its field."""
    errors: dict[str, str] = {}
    channel, status, journey_id = values["channel"], values["status"], values["journey_id"]
    if channel and channel not in CHANNEL_LABELS:
        errors["channel"] = gettext("Unknown channel “%(value)s”; one of %(choices)s.") % {
            "value": channel,
            "choices": ", ".join(CHANNEL_LABELS),
        }
    if status and status not in MESSAGE_STATUSES:
        errors["status"] = gettext("Unknown status “%(value)s”; one of %(choices)s.") % {
            "value": status,
            "choices": ", ".join(MESSAGE_STATUSES),
        }
    if journey_id and crud.get_journey(session=session, journey_id=journey_id) is None:
        errors["journey_id"] = gettext("No journey “%(value)s”.") % {"value": journey_id}
    start, end = _day(values["from"]), _day(values["to"])
    if values["from"] and start is None:
        errors["from"] = gettext("Give a date.")
    if values["to"] and end is None:
        errors["to"] = gettext("Give a date.")
    if start and end and end < start:
        errors["to"] = gettext("The period must end after it starts.")
    tests = values["tests"].lower()
    if tests not in _YES + _NO:
        errors["tests"] = gettext("Give yes or no.")
    page = int(values["page"]) if values["page"].isdigit() else 0
    if values["page"] and not 1 <= page <= MAX_PAGE:
        errors["page"] = gettext("Give a page number from 1 to %(max)s.") % {"max": MAX_PAGE}
    search = crud.OutboxSearch(
        channel=channel or None,
        status=status or None,
        journey_id=journey_id or None,
        customer=values["customer"],
        since=datetime.combine(start, time(), zone) if start else None,
        # the whole "to" day counts
        until=datetime.combine(end + timedelta(days=1), time(), zone) if end else None,
        include_tests=tests in _YES,
        # a store manager sees the store's customers only (services.accounts.Principal)
        store_id=None if actor.sees_everything else (actor.store_id or ""),
    )
    return Filters(values, search, max(page, 1), errors)


@router.get("/outbox")
def outbox_page(
    request: Request,
    session: ReadSessionDep,
    actor: CurrentPrincipal,
    channel: str = Query(default="", max_length=32),
    status: str = Query(default="", max_length=16),
    journey_id: str = Query(default="", max_length=64),
    customer: str = Query(default="", max_length=64),
    date_from: str = Query(default="", alias="from", max_length=10),
    date_to: str = Query(default="", alias="to", max_length=10),
    tests: str = Query(default="", max_length=8),
    page: str = Query(default="", max_length=8),
) -> Response:
    """The table a page at a time; htmx (a filter changed) gets the ``table`` block. A filter
    it cannot take: 422, the field named above an empty table."""
    values = {
        "channel": channel,
        "status": status,
        "journey_id": journey_id,
        "customer": customer.strip(),
        "from": date_from,
        "to": date_to,
        "tests": tests,
    }
    zone = ZoneInfo(request.app.state.settings.timezone)
    filters = parse_filters(
        {**values, "page": page.strip()}, session=session, actor=actor, zone=zone
    )
    rows, counts = [], {}
    if not filters.errors:
        offset = (filters.page - 1) * PAGE_SIZE
        found = crud.search_messages(
            session=session, search=filters.search, limit=PAGE_SIZE, offset=offset
        )
        rows = outbox_rows(session=session, messages=found)
        counts = crud.count_messages_by_status(session=session, search=filters.search)
    total = counts.get(status, 0) if status else sum(counts.values())
    pages = max(1, -(-total // PAGE_SIZE))
    query = urlencode({k: v for k, v in values.items() if v})
    return render(
        request,
        "outbox.html",
        {
            "filters": values,
            "errors": filters.errors,
            "rows": rows,
            "counts": [(s, message_status(s), counts.get(s, 0)) for s in MESSAGE_STATUSES],
            "total": total,
            "page": filters.page,
            "pages": pages,
            "query_string": query,
            "channels": {k: gettext(v) for k, v in CHANNEL_LABELS.items()},
            "statuses": {s: message_status(s) for s in MESSAGE_STATUSES},
            "journeys": crud.list_journeys(session=session),
        },
        block="table",
        status_code=422 if filters.errors else 200,
    )

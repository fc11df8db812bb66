"""``GET /api/journeys/{id}/results`` (JSON) and ``…/results.csv``: a journey's per-step
funnel, goal conversions and revenue (issue 14, items 2 and 7).

Thin over :func:`services.results.journey_results`. Bad input names its field: ``from``
after ``to`` or a period over 400 days is a 422 (the API's ``Problem`` shape), an unknown
journey or version a 404. A period without data answers zeros, never an error. The
canvas's Results toggle reads the JSON (``static/canvas.js``); variant lift is
``/api/journeys/{id}/variants``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel
from sqlmodel import Session

from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import ReadSessionDep, SettingsDep
from canvas_ui.i18n import gettext
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from services import results, results_store
from services.periods import PeriodError, period
from services.results import JourneyResults
from settings import Settings

router = APIRouter(prefix="/api", tags=["results"], route_class=UnitOfWorkRoute)


class PortOut(BaseModel):
    port: str
    count: int
    #: percent of the node's entrants
    share: float


class NodeOut(BaseModel):
    node_id: str
    kind: str
    label: str
    #: passes + ended + waiting
    entered: int
    #: the cohort's customers waiting here now
    waiting: int
    #: visits that left by a port (the sum of ``ports``' counts)
    passes: int
    #: visits the run ended at (an exit, a goal or stop while waiting here, the visit limit)
    ended: int
    #: of those, how many converted
    converted: int
    ports: list[PortOut]


class GoalOut(BaseModel):
    #: null: the version has no goal, and any order converts
    event_type: str | None
    window_days: float
    value_property: str | None


class ResultsOut(BaseModel):
    journey_id: str
    #: null: all versions
    version: int | None
    start: datetime
    end: datetime
    goal: GoalOut
    entered: int
    conversions: int
    #: percent of ``entered``
    conversion_rate: float
    revenue: float
    has_data: bool
    nodes: list[NodeOut]


def results_out(res: JourneyResults) -> ResultsOut:
    """The results as the API (and the canvas's badges) give them."""
    goal = res.goal
    return ResultsOut(
        journey_id=res.journey_id,
        version=res.version,
        start=res.start,
        end=res.end,
        goal=GoalOut(
            event_type=goal.event_type,
            window_days=goal.window.total_seconds() / 86400,
            value_property=goal.value_property,
        ),
        entered=res.entered,
        conversions=res.conversions,
        conversion_rate=res.conversion_rate,
        revenue=res.revenue,
        has_data=res.has_data,
        nodes=[
            NodeOut(
                node_id=n.node_id,
                kind=n.kind,
                label=n.label,
                entered=n.entered,
                waiting=n.waiting,
                passes=n.passes,
                ended=n.ended,
                converted=n.converted,
                ports=[PortOut(port=p.port, count=p.count, share=p.share) for p in n.ports],
            )
            for n in res.nodes
        ],
    )


def checked_period(
    session: Session,
    journey_id: str,
    version: int | None,
    start: date | None,
    end: date | None,
    settings: Settings,
) -> tuple[datetime, datetime]:
    """The instants of a report request's period: 404 for an unknown journey or version,
    422 naming ``from`` or ``to`` for a bad period (the results and variant reports)."""
    if crud.get_journey(session=session, journey_id=journey_id) is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    if (
        version is not None
        and crud.get_version(session=session, journey_id=journey_id, version=version) is None
    ):
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("Journey %(id)s has no version %(version)d.")
            % {"id": journey_id, "version": version},
        )
    tz = ZoneInfo(settings.timezone)
    try:
        _, _, lo, hi = period(start, end, today=datetime.now(tz).date(), tz=tz)
    except PeriodError as exc:
        raise RequestValidationError(
            [{"loc": ("query", exc.field), "msg": exc.message, "type": "value_error"}]
        ) from exc
    results_store.fresh(session=session, settings=settings)
    return lo, hi


def build_results(
    session: Session,
    journey_id: str,
    version: int | None,
    start: date | None,
    end: date | None,
    settings: Settings,
) -> JourneyResults:
    """The results of a request (shared by the API and the canvas), checked as
    :func:`checked_period` says."""
    lo, hi = checked_period(session, journey_id, version, start, end, settings)
    return results.journey_results(
        session=session, journey_id=journey_id, version=version, start=lo, end=hi
    )


_VERSION = Query(default=None, ge=1, le=MAX_ID, description="one version; all when absent")
_FROM = Query(
    default=None, alias="from", description="first day of entry (brand time zone); 30 days ago"
)
_TO = Query(default=None, description="last day of entry, included; default today")


@router.get(
    "/journeys/{journey_id}/results",
    response_model=ResultsOut,
    responses={404: {"description": "No such journey or version"}},
)
def journey_results(
    journey_id: str,
    session: ReadSessionDep,
    settings: SettingsDep,
    version: int | None = _VERSION,
    from_: date | None = _FROM,
    to: date | None = _TO,
) -> ResultsOut:
    """For the customers who entered in the period: per node entered, waiting now, per
    output port the count and % of the node's entrants, ended there and converted; the
    goal's conversions (a matching event within its window after entry, also after the run
    ended) and revenue (its ``value_property``)."""
    res = build_results(session, journey_id, version, from_, to, settings)
    return results_out(res)


@router.get(
    "/journeys/{journey_id}/results.csv",
    response_class=Response,
    responses={
        200: {"description": "The results as CSV (UTF-8 with BOM).", "content": {"text/csv": {}}},
        404: {"description": "No such journey or version"},
    },
)
def journey_results_csv(
    journey_id: str,
    session: ReadSessionDep,
    settings: SettingsDep,
    version: int | None = _VERSION,
    from_: date | None = _FROM,
    to: date | None = _TO,
) -> Response:
    """The same results as CSV: the totals, then a row per node and port."""
    res = build_results(session, journey_id, version, from_, to, settings)
    tz = ZoneInfo(settings.timezone)
    first = res.start.astimezone(tz).date()
    last = (res.end - timedelta(seconds=1)).astimezone(tz).date()
    name = f"results-{journey_id}-{first}-{last}.csv"
    return Response(
        results.results_csv(res),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )

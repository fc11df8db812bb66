"""Reports API: attribution of sales to stores, guides and journeys; a guide's month.

Thin handlers over :mod:`services.attribution`; the actor's scope (HQ: the chain, a store
manager: their store, a guide: their own credit) is applied there, server-side.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from canvas_ui.deps import CurrentPrincipal, ReadSessionDep, SettingsDep
from services import attribution
from services.attribution import OrgRow, PeriodError

router = APIRouter(prefix="/api/reports", tags=["reports"])

PERIOD_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "'from' after 'to', or a period over 400 days (``errors`` names it)."}
}


class Sales(BaseModel):
    orders: int
    revenue: float


class AttributionRow(BaseModel):
    level: Literal["region", "store", "guide", "total"]
    id: str
    name: str
    region_id: str
    store_id: str
    store_attributed: Sales
    guide_attributed: Sales
    total: Sales


class JourneyAttribution(BaseModel):
    journey_id: str
    name: str
    version: int | None  # null: all versions of the journey
    orders: int
    revenue: float
    variants: list[dict[str, Any]]  # {split_node, variant, orders, revenue}


class RuleOut(BaseModel):
    in_store: str
    online: str
    touch: str
    window_days: int


class AttributionReport(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    group_by: Literal["region", "store", "guide"]
    scope: Literal["chain", "store", "guide"]
    rule: RuleOut
    rows: list[AttributionRow]
    total: AttributionRow
    unattributed: Sales
    journeys: list[JourneyAttribution]
    variants_recorded: bool


class TaskConversion(BaseModel):
    task_id: str
    title: str
    customer_id: str
    customer_name: str
    guide_id: str
    journey_id: str | None
    completed_at: str
    converted: bool
    orders: int
    revenue: float


class GuideMonth(BaseModel):
    guide_id: str
    name: str
    store_id: str
    online: Sales
    from_tasks: Sales
    attributed: Sales
    tasks_completed: int
    tasks_converted: int


class GuideResultsOut(BaseModel):
    from_: date = Field(serialization_alias="from")
    to: date
    scope: Literal["chain", "store", "guide"]
    guides: list[GuideMonth]
    total: GuideMonth
    tasks: list[TaskConversion]


def _sales(m: attribution.Money) -> Sales:
    return Sales(orders=m.orders, revenue=m.revenue)


def row_out(row: OrgRow) -> AttributionRow:
    return AttributionRow(
        level=row.level,  # type: ignore[arg-type]
        id=row.id,
        name=row.name,
        region_id=row.region_id,
        store_id=row.store_id,
        store_attributed=_sales(row.store),
        guide_attributed=_sales(row.guide),
        total=_sales(row.total),
    )


def period_problem(exc: PeriodError) -> JSONResponse:
    """422 naming the query parameter at fault (the API's ``Problem`` shape)."""
    return JSONResponse(
        {
            "detail": exc.message,
            "errors": [{"field": f"query.{exc.field}", "msg": exc.message, "type": "period"}],
        },
        status_code=422,
    )


@router.get("/attribution", response_model=AttributionReport, responses=PERIOD_ERRORS)
def attribution_report(
    session: ReadSessionDep,
    actor: CurrentPrincipal,
    settings: SettingsDep,
    from_: date | None = Query(default=None, alias="from", description="First day (chain time)."),
    to: date | None = Query(default=None, description="Last day, inclusive (default: today)."),
    group_by: Literal["region", "store", "guide"] = Query(default="store"),
) -> Any:
    """Orders and revenue of a period, store- and guide-attributed by the chain's rule, per
    region, store or guide, and per journey / version / split variant. Default period:
    this month so far. Nothing sold: zeros."""
    try:
        rep = attribution.report(
            session=session, actor=actor, settings=settings, first=from_, last=to
        )
    except PeriodError as exc:
        return period_problem(exc)
    return AttributionReport(
        from_=rep.period.first,
        to=rep.period.last,
        group_by=group_by,
        scope=rep.scope,  # type: ignore[arg-type]
        rule=RuleOut(**rep.rule.__dict__),
        rows=[row_out(r) for r in rep.rows(group_by)],
        total=row_out(rep.total),
        unattributed=_sales(rep.unattributed),
        journeys=[
            JourneyAttribution(
                journey_id=j.journey_id,
                name=j.name,
                version=j.version,
                orders=j.orders,
                revenue=j.revenue,
                variants=[
                    {"split_node": n, "variant": v, "orders": o, "revenue": r}
                    for n, v, o, r in j.variants
                ],
            )
            for j in rep.journeys
        ],
        variants_recorded=rep.variants_recorded,
    )


@router.get(
    "/attribution.csv",
    response_class=Response,
    responses={
        200: {"description": "The report as CSV (UTF-8 with BOM).", "content": {"text/csv": {}}},
        **PERIOD_ERRORS,
    },
)
def attribution_csv(
    session: ReadSessionDep,
    actor: CurrentPrincipal,
    settings: SettingsDep,
    from_: date | None = Query(default=None, alias="from"),
    to: date | None = None,
) -> Response:
    """Region → store → guide with both columns, then the journeys, as CSV."""
    try:
        rep = attribution.report(
            session=session, actor=actor, settings=settings, first=from_, last=to
        )
    except PeriodError as exc:
        return period_problem(exc)
    name = f"attribution-{rep.period.first}-{rep.period.last}.csv"
    return Response(
        attribution.to_csv(rep),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def guide_month(g: attribution.GuideResult) -> GuideMonth:
    return GuideMonth(
        guide_id=g.guide_id,
        name=g.name,
        store_id=g.store_id,
        online=_sales(g.online),
        from_tasks=_sales(g.from_tasks),
        attributed=_sales(g.attributed),
        tasks_completed=g.tasks_completed,
        tasks_converted=g.tasks_converted,
    )


@router.get("/guide-results", response_model=GuideResultsOut)
def guide_results(
    session: ReadSessionDep, actor: CurrentPrincipal, settings: SettingsDep
) -> GuideResultsOut:
    """This month's attributed orders and sales per guide (a guide: their own; a store
    manager: the store's guides; HQ: all), and the month's completed tasks, each with
    whether the customer bought within the window after it."""
    res = attribution.guide_results(session=session, actor=actor, settings=settings)
    return GuideResultsOut(
        from_=res.period.first,
        to=res.period.last,
        scope=res.scope,  # type: ignore[arg-type]
        guides=[guide_month(g) for g in res.guides],
        total=guide_month(res.total),
        tasks=[
            TaskConversion(
                task_id=t.task.id,
                title=t.task.title,
                customer_id=t.task.customer_id,
                customer_name=t.customer_name,
                guide_id=t.task.guide_id,
                journey_id=t.task.journey_id,
                completed_at=t.task.completed_at.isoformat() if t.task.completed_at else "",
                converted=t.converted,
                orders=t.orders,
                revenue=t.revenue,
            )
            for t in res.tasks
        ],
    )

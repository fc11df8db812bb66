"""``GET /api/journeys/{id}/variants``: variant and holdout lift of a journey's splits, and
its entries / conversions / revenue per day (issue 14, items 5 and 7).

Thin over :func:`services.lift.variant_report`. Bad input names its field: ``from`` after
``to`` or a period over 400 days is a 422 (the API's ``Problem`` shape), an unknown
journey or version a 404. A period without data answers zeros, never an error.
"""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import Session

from canvas_ui.api.params import MAX_ID
from canvas_ui.api.results import checked_period
from canvas_ui.deps import ReadSessionDep, SettingsDep
from canvas_ui.unit_of_work import UnitOfWorkRoute
from services import lift
from services.lift import VariantReport
from settings import Settings

router = APIRouter(prefix="/api", tags=["results"], route_class=UnitOfWorkRoute)


class VariantOut(BaseModel):
    variant: str
    label: str
    holdout: bool
    entered: int
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_customer: float


class LiftOut(BaseModel):
    """A variant against the baseline; numbers are fractions (0.07 = 7 points) and all
    ``null`` when ``status`` is ``not_enough_data``."""

    variant: str
    baseline: str
    status: str
    lift: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    relative_lift: float | None
    relative_ci_low: float | None
    relative_ci_high: float | None
    significant: bool


class SplitOut(BaseModel):
    node_id: str
    label: str
    baseline: str | None
    variants: list[VariantOut]
    lifts: list[LiftOut]


class DayOut(BaseModel):
    day: date
    entries: int
    conversions: int
    revenue: float


class VariantReportOut(BaseModel):
    journey_id: str
    version: int | None
    start: datetime
    end: datetime
    window_days: float
    confidence: float
    min_customers: int
    splits: list[SplitOut]
    days: list[DayOut]
    #: what converts: the goal's event type, or null for an order
    goal_event_type: str | None


def report_out(report: VariantReport) -> VariantReportOut:
    """The report as the API (and the results page's charts) give it."""
    return VariantReportOut(
        journey_id=report.journey_id,
        version=report.version,
        start=report.start,
        end=report.end,
        window_days=report.window.total_seconds() / 86400,
        confidence=lift.CONFIDENCE,
        min_customers=report.min_customers,
        splits=[
            SplitOut(
                node_id=s.node_id,
                label=s.label,
                baseline=s.baseline,
                variants=[
                    VariantOut(
                        variant=v.variant,
                        label=v.label,
                        holdout=v.holdout,
                        entered=v.entered,
                        conversions=v.conversions,
                        conversion_rate=v.conversion_rate,
                        revenue=v.revenue,
                        revenue_per_customer=round(v.revenue_per_customer, 2),
                    )
                    for v in s.variants
                ],
                lifts=[
                    LiftOut(
                        variant=x.variant,
                        baseline=x.baseline,
                        status=x.status,
                        lift=x.lift,
                        ci_low=x.ci_low,
                        ci_high=x.ci_high,
                        p_value=x.p_value,
                        relative_lift=x.relative_lift,
                        relative_ci_low=x.relative_ci_low,
                        relative_ci_high=x.relative_ci_high,
                        significant=x.significant,
                    )
                    for x in s.lifts
                ],
            )
            for s in report.splits
        ],
        days=[
            DayOut(day=d.day, entries=d.entries, conversions=d.conversions, revenue=d.revenue)
            for d in report.days
        ],
        goal_event_type=report.goal_event_type,
    )


def build_report(
    session: Session,
    journey_id: str,
    version: int | None,
    start: date | None,
    end: date | None,
    settings: Settings,
) -> VariantReport:
    """The report of a request (shared by the API and the results page), checked as
    :func:`canvas_ui.api.results.checked_period` says."""
    lo, hi = checked_period(session, journey_id, version, start, end, settings)
    return lift.variant_report(
        session=session,
        journey_id=journey_id,
        version=version,
        start=lo,
        end=hi,
    )


@router.get(
    "/journeys/{journey_id}/variants",
    response_model=VariantReportOut,
    responses={404: {"description": "No such journey or version"}},
)
def journey_variants(
    journey_id: str,
    session: ReadSessionDep,
    settings: SettingsDep,
    version: int | None = Query(default=None, ge=1, le=MAX_ID, description="one version; all"),
    from_: date | None = Query(
        default=None, alias="from", description="first day (brand time zone); default 30 days ago"
    ),
    to: date | None = Query(default=None, description="last day, included; default today"),
) -> VariantReportOut:
    """Per split: each variant's customers, conversions, conversion rate and revenue per
    customer, and its lift against the holdout (or the first variant) with a 95 %
    confidence interval and p-value; ``not_enough_data`` below the minimum sample. Plus
    entries, conversions and revenue per day of entry."""
    report = build_report(session, journey_id, version, from_, to, settings)
    return report_out(report)

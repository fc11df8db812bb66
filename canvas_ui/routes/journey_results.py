"""``/journeys/{id}/results``: a journey's report page — entries, conversions and revenue per
day, and each split's variants against the holdout with confidence intervals (ECharts).

Its numbers are the variants API's (:mod:`canvas_ui.api.variants`); the page adds the
period form, the tables and the charts' data (``static/charts.js`` draws them). The
canvas's per-step Results toggle is a separate feature.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from canvas_ui import words
from canvas_ui.api.params import MAX_ID
from canvas_ui.api.variants import VariantReportOut, build_report, report_out
from canvas_ui.deps import ReadSessionDep, SettingsDep
from canvas_ui.i18n import gettext
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from services import periods

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


@router.get("/journeys/{journey_id}/results")
def results_page(
    journey_id: str,
    request: Request,
    session: ReadSessionDep,
    settings: SettingsDep,
    version: str = Query(default="", max_length=12),
    from_: str = Query(default="", alias="from", max_length=10),
    to: str = Query(default="", max_length=10),
) -> Response:
    """The report of one version (or all) over a period; a bad period is shown on the form
    (status 422) with the report of the default period."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    errors: dict[str, str] = {}
    chosen = _version(version, errors)
    start, end = _day(from_, "from", errors), _day(to, "to", errors)
    code = status.HTTP_200_OK
    try:
        report = build_report(session, journey_id, chosen, start, end, settings.timezone)
    except RequestValidationError as exc:
        for e in exc.errors():
            errors[str(e["loc"][-1])] = _period_message(str(e["loc"][-1]), str(e["msg"]))
        report = build_report(session, journey_id, chosen, None, None, settings.timezone)
    if errors:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
    out = report_out(report)
    tz = ZoneInfo(settings.timezone)
    return render(
        request,
        "journey_results.html",
        {
            "journey": journey,
            "versions": crud.list_versions(session=session, journey_id=journey_id),
            "version": chosen,
            "report": out,
            "first_day": report.start.astimezone(tz).date(),
            "last_day": (report.end.astimezone(tz) - timedelta(seconds=1)).date(),
            "form": {"from": from_, "to": to},
            "errors": errors,
            "totals": _totals(out),
            "daily_chart": _daily_chart(out),
            "lift_charts": [_lift_chart(s) for s in out.splits],
            "max_days": periods.MAX_PERIOD_DAYS,
            "goal_event": words.event_name(out.goal_event_type) if out.goal_event_type else "",
        },
        status_code=code,
    )


def _version(raw: str, errors: dict[str, str]) -> int | None:
    if not raw or raw == "all":
        return None
    if raw.isdigit() and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    errors["version"] = gettext("Choose a published version.")
    return None


def _day(raw: str, field: str, errors: dict[str, str]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors[field] = gettext("Enter a date as YYYY-MM-DD.")
        return None


def _period_message(field: str, raw: str) -> str:
    if "between" in raw:
        return gettext("Choose a day from %(first)s to %(last)s.") % {
            "first": periods.FIRST_DAY,
            "last": periods.LAST_DAY,
        }
    if field == "from":
        return gettext("The first day is after the last day.")
    return gettext("Choose a period of at most %(n)d days.") % {"n": periods.MAX_PERIOD_DAYS}


def _totals(out: VariantReportOut) -> dict[str, Any]:
    return {
        "entries": sum(d.entries for d in out.days),
        "conversions": sum(d.conversions for d in out.days),
        "revenue": round(sum(d.revenue for d in out.days), 2),
    }


def _daily_chart(out: VariantReportOut) -> dict[str, Any]:
    """What ``charts.js`` needs for the per-day chart (names translated here)."""
    return {
        "type": "daily",
        "days": [d.day.isoformat() for d in out.days],
        "series": [
            {"name": gettext("Entries"), "kind": "bar", "data": [d.entries for d in out.days]},
            {
                "name": gettext("Conversions"),
                "kind": "bar",
                "data": [d.conversions for d in out.days],
            },
            {
                "name": gettext("Revenue"),
                "kind": "line",
                "axis": 1,
                "data": [d.revenue for d in out.days],
            },
        ],
        "axes": [gettext("Customers"), gettext("Revenue")],
    }


def _lift_chart(split: Any) -> dict[str, Any]:
    """Each variant's lift over the baseline in percentage points, with its 95 % interval
    (variants without enough data are left out of the chart; the table says so)."""
    labels = {v.variant: v.label for v in split.variants}
    shown = [x for x in split.lifts if x.status == "ok" and x.lift is not None]
    return {
        "type": "lift",
        "labels": labels,
        "name": gettext("Lift vs %(baseline)s (percentage points)")
        % {"baseline": labels.get(split.baseline or "", split.baseline or "")},
        "variants": [labels.get(x.variant, x.variant) for x in shown],
        "lift": [round(x.lift * 100, 2) for x in shown],
        "low": [round(x.ci_low * 100, 2) if x.ci_low is not None else None for x in shown],
        "high": [round(x.ci_high * 100, 2) if x.ci_high is not None else None for x in shown],
        "interval": gettext("Confidence interval"),
    }

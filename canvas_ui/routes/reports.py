"""``/reports/attribution``: sales by region → store → guide (store- and guide-attributed)
and by journey / version / variant; ``/workbench/results``: a guide's month.

Numbers and scopes come from :mod:`services.attribution` (HQ: the chain; a store manager:
their store; a guide: their own credit). A period the service refuses (``from`` after
``to``, over 400 days) re-renders the filters with the message and a 422, which the app's
htmx setup swaps like a 200.

The page's chart shows the top rows of one level (``group_by``: region, store or guide;
by default stores for HQ, guides for a store manager or a guide) with store- and
guide-attributed sales stacked; its rows are the report's, so it shows what the table
shows in the viewer's scope. ``static/charts.js`` draws it, also after an htmx swap.
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from canvas_ui.deps import CurrentPrincipal, ReadSessionDep, SettingsDep
from canvas_ui.i18n import gettext
from canvas_ui.templating import render
from services import attribution
from services.attribution import GROUP_BYS, GroupBy, OrgRow, PeriodError, Report

#: bars in the attribution chart (the table below lists every row)
CHART_TOP = 10
#: the chart's level when the page does not say, by the viewer's scope
DEFAULT_GROUP_BY: dict[str, GroupBy] = {"chain": "store", "store": "guide", "guide": "guide"}

router = APIRouter(include_in_schema=False)


def _day(value: str, field: str) -> date | None:
    """A ``YYYY-MM-DD`` form value (empty: not given); :class:`PeriodError` naming
    ``field`` for anything else."""
    value = value.strip()
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        message = f"'{field}' is not a date (YYYY-MM-DD): {value!r}"
        raise PeriodError(field, message, "not_a_date") from None


@router.get("/reports/attribution")
def attribution_page(
    request: Request,
    session: ReadSessionDep,
    actor: CurrentPrincipal,
    settings: SettingsDep,
    from_: str = Query(default="", alias="from", max_length=10),
    to: str = Query(default="", max_length=10),
    group_by: str = Query(default="", max_length=10),
) -> Response:
    """The attribution report and its chart; htmx (the filters) gets the ``report`` block."""
    form = {"from": from_, "to": to, "group_by": group_by}
    ctx: dict[str, Any] = {
        "me": actor,
        "form": form,
        "error": None,
        "group_by": group_by,
        "chart": None,
    }
    status = 200
    if group_by and group_by not in GROUP_BYS:
        message = f"'group_by' is not one of {', '.join(GROUP_BYS)}: {group_by!r}"
        ctx["error"] = {"field": "group_by", "code": "group_by", "message": message}
        return render(request, "reports_attribution.html", ctx, block="report", status_code=422)
    try:
        first = _day(from_, "from")
        last = _day(to, "to")
        rep = attribution.report(
            session=session, actor=actor, settings=settings, first=first, last=last
        )
        level = cast(GroupBy, group_by) if group_by else DEFAULT_GROUP_BY.get(rep.scope, "store")
        ctx["rep"] = rep
        ctx["query"] = f"from={rep.period.first}&to={rep.period.last}"
        ctx["group_by"] = level
        ctx["chart"] = _chart(rep, level)
    except PeriodError as exc:
        ctx["error"] = {"field": exc.field, "code": exc.code, "message": exc.message}
        status = 422
    return render(request, "reports_attribution.html", ctx, block="report", status_code=status)


def _chart(rep: Report, level: GroupBy) -> dict[str, Any] | None:
    """What ``charts.js`` needs for the ``attribution`` chart: the :data:`CHART_TOP` rows
    of ``level`` with the most sales, biggest first (None without sales: the table says
    so). Names are the org's own; two rows of one name get their parent's beside it."""
    rows = sorted(
        (r for r in rep.rows(level) if r.total.orders), key=lambda r: (-r.total.revenue, r.id)
    )[:CHART_TOP]
    if not rows:
        return None
    parents = {r.id: r.name for r in rep.regions} | {s.id: s.name for s in rep.rows("store")}
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.name] = counts.get(r.name, 0) + 1

    def name(row: OrgRow) -> str:
        if counts[row.name] == 1:
            return row.name
        parent = {"guide": row.store_id, "store": row.region_id}.get(row.level, "")
        return f"{row.name} · {parents.get(parent) or row.id}"

    def money(value: float) -> str:
        return f"{value:,.2f}"

    titles = {
        "region": gettext("Sales by region (top %(n)d)"),
        "store": gettext("Sales by store (top %(n)d)"),
        "guide": gettext("Sales by guide (top %(n)d)"),
    }
    return {
        "type": "attribution",
        "title": titles[level] % {"n": len(rows)},
        "names": [name(r) for r in rows],
        "series": [gettext("Store-attributed"), gettext("Guide-attributed")],
        "store": [round(r.store.revenue, 2) for r in rows],
        "guide": [round(r.guide.revenue, 2) for r in rows],
        "money": [[money(r.store.revenue) for r in rows], [money(r.guide.revenue) for r in rows]],
        "total": gettext("Total"),
        "totals": [money(r.total.revenue) for r in rows],
        "height": 56 + 32 * len(rows),
    }


@router.get("/workbench/results")
def workbench_results(
    request: Request,
    session: ReadSessionDep,
    actor: CurrentPrincipal,
    settings: SettingsDep,
    summary: bool = Query(default=False),
) -> Response:
    """This month's attributed orders and sales (a guide: their own; a manager: the store's
    guides; HQ: all) and the month's completed tasks, converted or not. ``summary`` (htmx,
    from the workbench) answers with the one-line card only."""
    res = attribution.guide_results(session=session, actor=actor, settings=settings)
    ctx = {"me": actor, "res": res}
    if summary:
        return render(request, "workbench_results.html", ctx, block="summary", force_block=True)
    return render(request, "workbench_results.html", ctx)

"""``/reports/attribution``: sales by region → store → guide (store- and guide-attributed)
and by journey / version / variant; ``/workbench/results``: a guide's month.

Numbers and scopes come from :mod:`services.attribution` (HQ: the chain; a store manager:
their store; a guide: their own credit). A period the service refuses (``from`` after
``to``, over 400 days) re-renders the filters with the message and a 422, which the app's
htmx setup swaps like a 200.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from canvas_ui.deps import CurrentPrincipal, ReadSessionDep, SettingsDep
from canvas_ui.templating import render
from services import attribution
from services.attribution import PeriodError

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
) -> Response:
    """The attribution report; htmx (the filters) gets the ``report`` block."""
    ctx: dict[str, Any] = {"me": actor, "form": {"from": from_, "to": to}, "error": None}
    status = 200
    try:
        first = _day(from_, "from")
        last = _day(to, "to")
        rep = attribution.report(
            session=session, actor=actor, settings=settings, first=first, last=last
        )
        ctx["rep"] = rep
        ctx["query"] = f"from={rep.period.first}&to={rep.period.last}"
    except PeriodError as exc:
        ctx["error"] = {"field": exc.field, "code": exc.code, "message": exc.message}
        status = 422
    return render(request, "reports_attribution.html", ctx, block="report", status_code=status)


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

"""``/journeys/{id}/results``: a journey's report page — entries, conversions and revenue per
day, customers at each step (the funnel), and each split's variants against the holdout
with confidence intervals (ECharts).

Its numbers are the variants API's (:mod:`canvas_ui.api.variants`) and, for the steps, the
results API's (:func:`services.results.journey_results`, the numbers the canvas's Results
toggle shows); the page adds the period form, the tables and the charts' data
(``static/charts.js`` draws them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
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
from canvas_ui.diagnostics import node_labels
from canvas_ui.i18n import gettext
from canvas_ui.kinds import kind_title
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from services import periods, results
from services.results import JourneyResults, NodeResult

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
        report = build_report(session, journey_id, chosen, start, end, settings)
    except RequestValidationError as exc:
        for e in exc.errors():
            errors[str(e["loc"][-1])] = _period_message(str(e["loc"][-1]), str(e["msg"]))
        report = build_report(session, journey_id, chosen, None, None, settings)
    if errors:
        code = status.HTTP_422_UNPROCESSABLE_CONTENT
    out = report_out(report)
    tz = ZoneInfo(settings.timezone)
    versions = crud.list_versions(session=session, journey_id=journey_id)
    # the steps of the same cohort: customers who entered in the report's period
    steps = results.journey_results(
        session=session, journey_id=journey_id, version=chosen, start=out.start, end=out.end
    )
    totals = _totals(out)
    documents = [v.document or {} for v in versions if chosen is None or v.version == chosen]
    return render(
        request,
        "journey_results.html",
        {
            "journey": journey,
            "versions": versions,
            "version": chosen,
            "report": out,
            "first_day": report.start.astimezone(tz).date(),
            "last_day": (report.end.astimezone(tz) - timedelta(seconds=1)).date(),
            "form": {"from": from_, "to": to},
            "errors": errors,
            "totals": totals,
            "daily_chart": _daily_chart(out),
            "funnel_chart": _funnel_chart(steps, documents, totals),
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


def path_order(nodes: Sequence[NodeResult], documents: Sequence[Mapping[str, Any]]) -> list[str]:
    """The node ids in the order a customer meets them: from each entry, depth first along
    the output ports in their order, so a branch's steps stay together (its first port's
    side first) and a step after a merge comes once, where it is first reached. Edges of
    all ``documents`` count (newest first); steps no path reaches follow in ``nodes``'s
    order."""
    ports = {n.node_id: [p.port for p in n.ports] for n in nodes}
    targets: dict[str, list[tuple[str, str]]] = defaultdict(list)
    known: set[tuple[str, str, str]] = set()
    for doc in documents:
        edges = doc.get("edges")
        for e in edges if isinstance(edges, list) else []:
            if not isinstance(e, dict):
                continue
            edge = (str(e.get("source")), str(e.get("source_port") or "next"), str(e.get("target")))
            if edge not in known:
                known.add(edge)
                targets[edge[0]].append((edge[1], edge[2]))

    def rank(source: str, port: str) -> int:
        order = ports.get(source, [])
        return order.index(port) if port in order else len(order)

    order: list[str] = []
    seen: set[str] = set()
    for start in [n.node_id for n in nodes if n.kind == "entry"]:
        stack = [start]
        while stack:
            node_id = stack.pop()
            if node_id in seen:
                continue
            seen.add(node_id)
            order.append(node_id)
            after = sorted(targets.get(node_id, []), key=lambda pt: rank(node_id, pt[0]))
            stack.extend(target for _port, target in reversed(after))
    return order + [n.node_id for n in nodes if n.node_id not in seen]


def _funnel_chart(
    res: JourneyResults, documents: Sequence[Mapping[str, Any]], totals: Mapping[str, Any]
) -> dict[str, Any] | None:
    """What ``charts.js`` needs for the steps chart (None when no step has a visit: the
    page then says nobody entered).

    Horizontal bars in path order rather than an ECharts ``funnel``: a funnel draws each
    stage as a slice of the one before, which holds for a straight chain but not for a
    journey that branches (the two sides of a split would read as a drop and then a rise,
    and a funnel sorts or resizes them by value). A bar per step, first step on top, with
    its share of the entries reads the same for both. The steps of the newest version
    asked for are all shown (a step nobody reached is news too); older versions' steps
    only when someone went there.

    The last bar is the page's Conversions figure (the variant report's), so the chart
    ends on the number shown above it.
    """
    if not any(n.entered for n in res.nodes):
        return None
    labels: dict[str, str] = {}
    for doc in documents:  # newest first: its words win
        for node_id, label in node_labels(doc).items():
            labels.setdefault(node_id, label)
    current = set(node_labels(documents[0])) if documents else set()
    by_id = {n.node_id: n for n in res.nodes}
    shown = [by_id[i] for i in path_order(res.nodes, documents) if i in current or by_id[i].entered]
    base = int(totals["entries"])
    names: list[str] = []
    uses: dict[str, int] = defaultdict(int)
    for n in shown:
        name = labels.get(n.node_id) or (kind_title(n.kind) if n.kind else gettext("Step"))
        uses[name] += 1
        # two steps of one name (two waits, say) stay two bars
        names.append(name if uses[name] == 1 else f"{name} ({uses[name]})")

    def share(count: int) -> str | None:
        return f"{100 * count / base:.1f}".removesuffix(".0") if base else None

    values = [n.entered for n in shown]
    conversions = int(totals["conversions"])
    tips: list[list[str]] = []
    for n in shown:
        count, pct = f"{n.entered:,}", share(n.entered)
        tip = [
            gettext("%(n)s reached this step (%(share)s%% of entries)") % {"n": count, "share": pct}
            if pct is not None
            else gettext("%(n)s reached this step") % {"n": count}
        ]
        if n.waiting:
            tip.append(gettext("%(n)s waiting here now") % {"n": f"{n.waiting:,}"})
        tips.append(tip)
    count, pct = f"{conversions:,}", share(conversions)
    tips.append(
        [
            gettext("%(n)s converted (%(share)s%% of entries)") % {"n": count, "share": pct}
            if pct is not None
            else gettext("%(n)s converted") % {"n": count}
        ]
    )
    return {
        "type": "funnel",
        "name": gettext("Customers"),
        "steps": [*names, gettext("Converted")],
        "values": [*values, conversions],
        "kinds": [*("exit" if n.kind == "exit" else "step" for n in shown), "conversion"],
        "labels": [f"{v:,} · {share(v)}%" if base else f"{v:,}" for v in [*values, conversions]],
        "tips": tips,
        "height": 24 + 32 * (len(shown) + 1),
    }

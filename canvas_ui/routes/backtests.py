"""``/journeys/{id}/backtest``: the what-if backtest pages (issue 17 item 1).

The form (what to compare, which period, whose history) posts with htmx; a request the
backtest cannot run — a period nobody entered in included — comes back as the form with the
sentence saying why (422), a good one redirects to the backtest's page. That page polls the
progress block while the backtest runs and reloads once it is done; the report is side by
side and as a difference, its charts drawn by ``static/charts.js`` from data the server
writes (words translated here).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Path, Request, status
from fastapi.responses import Response
from sqlmodel import Session

from canvas_ui import backtest_words as words
from canvas_ui.api.backtests import RunnerDep, again, start
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.i18n import gettext
from canvas_ui.kinds import kind_title
from canvas_ui.summaries import port_label
from canvas_ui.templating import is_htmx, render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.crud import backtests as backtest_crud
from db.models import Journey
from db.models.backtests import JourneyBacktest
from services.backtest import (
    INTERRUPTED,
    MAX_DAYS,
    BacktestInputError,
    BacktestRequest,
    CandidateInvalidError,
)

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

TEMPLATE = "journey_backtest.html"


def _journey(session: Session, journey_id: str) -> Journey:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    return journey


def _form_context(session: Session, journey: Journey, **extra: Any) -> dict[str, Any]:
    versions = crud.list_versions(session=session, journey_id=journey.id)
    return {
        "journey": journey,
        "versions": [v.version for v in versions],
        "max_days": MAX_DAYS,
        "form": {
            "candidate": "draft",
            "since_days": "30",
            "from": "",
            "to": "",
            **extra.pop("form", {}),
        },
        "errors": {},
        "diagnostics": [],
        **extra,
    }


@router.get("/journeys/{journey_id}/backtest")
def backtest_form(journey_id: str, request: Request, session: ReadSessionDep) -> Response:
    """The form, and the journey's latest backtest under it."""
    journey = _journey(session, journey_id)
    latest = backtest_crud.latest_backtest(session=session, journey_id=journey_id)
    return render(request, TEMPLATE, _form_context(session, journey, latest=latest, bt=None))


@router.post("/journeys/{journey_id}/backtest")
def backtest_start(
    journey_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    runner: RunnerDep,
    candidate: str = Form(default="draft", max_length=12),
    since_days: str = Form(default="30", max_length=6),
    from_: str = Form(default="", alias="from", max_length=10),
    to: str = Form(default="", max_length=10),
) -> Response:
    """Start a backtest: to its page (``HX-Redirect``), or the form with what is wrong (422)."""
    journey = _journey(session, journey_id)
    form = {"candidate": candidate, "since_days": since_days, "from": from_, "to": to}
    errors: dict[str, str] = {}
    req = _request(form, errors)
    if req is not None:
        try:
            row = start(
                session=session,
                request=request,
                runner=runner,
                journey_id=journey_id,
                req=req,
                user=user,
                timezone=settings.timezone,
            )
        except BacktestInputError as exc:
            field = {"start": "from", "end": "to"}.get(exc.field, exc.field)
            errors[field if field in form else "candidate"] = words.problem(exc)
        except CandidateInvalidError as exc:
            labels = node_labels(journey.draft_document)
            errors["candidate"] = gettext("The draft has errors; fix them and backtest again.")
            diagnostics = [localize(d.to_dict(), labels) for d in exc.diagnostics]
            ctx = _form_context(session, journey, form=form, errors=errors, diagnostics=diagnostics)
            return render(request, TEMPLATE, ctx, block="form", status_code=422)
        else:
            url = f"/journeys/{journey_id}/backtest/{row.id}"
            if is_htmx(request):
                return Response(
                    status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url}
                )
            return Response(status_code=status.HTTP_303_SEE_OTHER, headers={"Location": url})
    ctx = _form_context(session, journey, form=form, errors=errors, latest=None, bt=None)
    return render(request, TEMPLATE, ctx, block="form", status_code=422)


@router.post("/journeys/{journey_id}/backtest/{backtest_id}/again")
def backtest_again(
    journey_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    runner: RunnerDep,
    backtest_id: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """ "Run again" of a failed or interrupted backtest: to the new one's page."""
    _journey(session, journey_id)
    try:
        row = again(
            session=session,
            request=request,
            runner=runner,
            journey_id=journey_id,
            backtest_id=backtest_id,
            user=user,
            timezone=settings.timezone,
        )
    except BacktestInputError as exc:
        raise HTTPException(exc.status, words.problem(exc)) from exc
    url = f"/journeys/{journey_id}/backtest/{row.id}"
    if is_htmx(request):
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return Response(status_code=status.HTTP_303_SEE_OTHER, headers={"Location": url})


def _request(form: dict[str, str], errors: dict[str, str]) -> BacktestRequest | None:
    candidate: str | int = form["candidate"] or "draft"
    if candidate != "draft":
        try:
            candidate = int(str(candidate).lstrip("v"))
        except ValueError:
            errors["candidate"] = gettext("Write 'draft' or a version number, e.g. 2.")
    try:
        since = int(form["since_days"] or 30)
    except ValueError:
        since = 0
    if not 1 <= since <= MAX_DAYS:
        errors["since_days"] = gettext("Choose 1 to %(days)s days.") % {"days": MAX_DAYS}
    days: dict[str, date | None] = {}
    for key in ("from", "to"):
        try:
            days[key] = date.fromisoformat(form[key]) if form[key] else None
        except ValueError:
            errors[key] = gettext("Not a date: write YYYY-MM-DD.")
    if errors:
        return None
    return BacktestRequest(
        candidate=candidate, since_days=since, start=days["from"], end=days["to"]
    )


@router.get("/journeys/{journey_id}/backtest/{backtest_id}")
def backtest_page(
    journey_id: str,
    request: Request,
    session: ReadSessionDep,
    backtest_id: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """One backtest: its progress while it runs (the block htmx polls), then its report."""
    journey = _journey(session, journey_id)
    row = backtest_crud.get_backtest(
        session=session, journey_id=journey_id, backtest_id=backtest_id
    )
    if row is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("No backtest %(id)s of this journey.") % {"id": backtest_id},
        )
    if is_htmx(request) and row.status in ("done", "failed"):
        # the poll sees the end: the whole page, with the report, replaces the progress
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Refresh": "true"})
    ctx = _form_context(
        session,
        journey,
        latest=None,
        bt=row,
        interrupted=row.status == "failed" and row.error == INTERRUPTED,
        report=report_view(row, _raw_nodes(session, row)),
        last_day=row.period_end - timedelta(seconds=1),  # the period's end is exclusive
    )
    return render(request, TEMPLATE, ctx, block="progress")


# ---------------------------------------------------------------- the report, as shown


def _raw_nodes(session: Session, row: JourneyBacktest) -> dict[str, dict[str, Any]]:
    """node id → its document node, the candidate's over the baseline's (for port words)."""
    docs = [row.candidate_document]
    for version in (row.candidate_version, row.baseline_version):
        if version is not None:
            found = crud.get_version(session=session, journey_id=row.journey_id, version=version)
            docs.append(found.document if found is not None else {})
    out: dict[str, dict[str, Any]] = {}
    for doc in docs:
        for node in (doc or {}).get("nodes") or []:
            out.setdefault(str(node.get("id", "")), node)
    return out


def report_view(
    row: JourneyBacktest, raw_nodes: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The stored report as the page shows it: numbers, charts' data, notes in words."""
    if row.status != "done" or not row.result:
        return None
    r = row.result
    b, c = r["baseline"], r["candidate"]
    base, cand = f"v{row.baseline_version}", _candidate_name(row.candidate)
    kpis = [
        (gettext("Coupons issued"), b["coupons"], c["coupons"], "coupons"),
        (gettext("Coupon face value"), b["coupon_value"], c["coupon_value"], "coupon_value"),
        (gettext("Messages"), sum(b["messages"].values()), sum(c["messages"].values()), "messages"),
        (gettext("Guide tasks"), sum(b["tasks"].values()), sum(c["tasks"].values()), "tasks"),
        (gettext("Conversions"), b["conversions"], c["conversions"], "conversions"),
        (gettext("Revenue"), b["revenue"], c["revenue"], "revenue"),
        (
            gettext("Waiting past history"),
            b["beyond_history"],
            c["beyond_history"],
            "beyond_history",
        ),
    ]
    nodes = []
    for n in r["nodes"]:
        port = n["port"]
        port_word = {
            "(ended)": gettext("ended here"),
            "(waiting)": gettext("waiting when history ends"),
        }.get(port) or _port_word(raw_nodes or {}, n["node_id"], port)
        name = n["label"] or kind_title(n["kind"]) if n["kind"] else n["label"] or n["node_id"]
        nodes.append(
            {**n, "name": name, "port_word": port_word, "diff": n["candidate"] - n["baseline"]}
        )
    node_chart = {
        "rows": [f"{n['name']} · {n['port_word']}" for n in nodes],
        "series": [
            {"name": base, "data": [n["baseline"] for n in nodes]},
            {"name": cand, "data": [n["candidate"] for n in nodes]},
        ],
        "height": 60 + 34 * len(nodes),
    }
    messages = _per_day(r["messages"], "channel")
    tasks = _per_day(r["tasks"], "guide")
    over = [
        t
        for t in r["tasks"]
        if t["capacity"] and max(t["baseline"], t["candidate"]) > t["capacity"]
    ]
    return {
        "base": base,
        "cand": cand,
        "customers": r["customers"],
        "runs": r["runs"],
        "kpis": [
            {"label": label, "baseline": bv, "candidate": cv, "diff": round(cv - bv, 2), "key": key}
            for label, bv, cv, key in kpis
        ],
        "nodes": nodes,
        "node_chart": node_chart,
        "message_chart": _daily_chart(messages, base, cand, gettext("Messages")),
        "task_chart": _daily_chart(tasks, base, cand, gettext("Guide tasks")),
        "channels": _by(r["messages"], "channel"),
        "guides": _guides(r["tasks"]),
        "over": over,
        "over_capacity": r["over_capacity"],
        "waiting": [n for n in nodes if n["port"] == "(waiting)"],
        "notes": [words.note(k) for k in r["notes"]],
        "horizon": r["horizon"][:16].replace("T", " "),
        "zero": not any(v for v in r["diff"].values()),
        "timing": r.get("timing", {}),
    }


def _port_word(raw_nodes: dict[str, dict[str, Any]], node_id: str, port: str) -> str:
    raw = raw_nodes.get(node_id)
    if raw is None:
        return port
    try:
        return port_label(raw, port) or port
    except Exception:  # a node of an older schema: its port id is still a name
        return port


def _candidate_name(candidate: str) -> str:
    return gettext("Draft") if candidate == "draft" else candidate


def _per_day(rows: list[dict[str, Any]], _key: str) -> dict[str, tuple[int, int]]:
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        days[row["day"]][0] += row["baseline"]
        days[row["day"]][1] += row["candidate"]
    return {d: (v[0], v[1]) for d, v in sorted(days.items())}


def _daily_chart(
    days: dict[str, tuple[int, int]], base: str, cand: str, axis: str
) -> dict[str, Any]:
    return {
        "days": list(days),
        "axes": [axis, ""],
        "series": [
            {"name": base, "kind": "bar", "data": [v[0] for v in days.values()]},
            {"name": cand, "kind": "bar", "data": [v[1] for v in days.values()]},
        ],
    }


def _by(rows: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        sums[row[key]][0] += row["baseline"]
        sums[row[key]][1] += row["candidate"]
    return [
        {"name": k, "baseline": v[0], "candidate": v[1], "diff": v[1] - v[0]}
        for k, v in sorted(sums.items())
    ]


def _guides(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per guide: tasks in all, the busiest day of each side, and the daily capacity."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        g = out.setdefault(
            row["guide_id"],
            {
                "name": row["guide"],
                "capacity": row["capacity"],
                "baseline": 0,
                "candidate": 0,
                "peak_baseline": 0,
                "peak_candidate": 0,
            },
        )
        for side in ("baseline", "candidate"):
            g[side] += row[side]
            g[f"peak_{side}"] = max(g[f"peak_{side}"], row[side])
    return [
        {"guide_id": k, **v, "diff": v["candidate"] - v["baseline"]} for k, v in sorted(out.items())
    ]

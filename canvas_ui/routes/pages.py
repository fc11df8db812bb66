"""HTML pages: journey list, editor (draft and read-only versions), customer lookup, language.

Each handler gathers data and renders one page template; an htmx request gets only the named
block it swaps (see :func:`canvas_ui.templating.render`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response

from audiences.metrics import stored_metrics_of
from canvas_ui import delivery, i18n, queries
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentPrincipal, CurrentUser, SessionDep
from canvas_ui.drafts import starter_document
from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import KINDS, palette
from canvas_ui.routes.approvals import launch_context
from canvas_ui.summaries import document_meta, node_meta
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.crud import points as points_crud
from db.errors import NotFoundError
from db.models import Journey, JourneyCreate, JourneyVersion, utcnow
from engine.metrics import STORED_METRICS
from services import contact_ids, opt_outs, priority_groups

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

STATUS_LABELS = {
    "draft": lazy("Draft"),
    "live": lazy("Live"),
    "paused": lazy("Paused"),
    "archived": lazy("Archived"),
}
RUN_LABELS = {
    "running": lazy("In journey"),
    "exited": lazy("Finished"),
    "stopped": lazy("Stopped"),
    "failed": lazy("Failed"),
}
LEVEL_LABELS = {
    "regular": lazy("Regular member"),
    "silver": lazy("Silver"),
    "gold": lazy("Gold"),
    "diamond": lazy("Diamond"),
}


def _translated(labels: dict[str, str]) -> dict[str, str]:
    return {key: gettext(value) for key, value in labels.items()}


@router.get("/")
def home() -> RedirectResponse:
    """The journey list is the home page."""
    return RedirectResponse("/journeys", status_code=status.HTTP_303_SEE_OTHER)


@router.post("/lang")
def switch_language(lang: str = Form(...)) -> Response:
    """Remember the UI language in a cookie and reload the page (htmx ``HX-Refresh``)."""
    if lang not in i18n.LOCALES:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            gettext("lang must be one of %(choices)s.") % {"choices": ", ".join(i18n.LOCALES)},
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Refresh": "true"})
    response.set_cookie(i18n.COOKIE_NAME, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response


@router.get("/journeys")
def journeys_page(
    request: Request,
    session: SessionDep,
    q: str = Query(default="", max_length=100),
    status_: str = Query(default="", alias="status"),
) -> Response:
    """The journey list with search and status filter; htmx gets the ``table`` block."""
    filter_status = status_ if status_ in STATUS_LABELS else ""
    journeys = crud.list_journeys(
        session=session, status=filter_status or None, search=q.strip() or None
    )
    return render(
        request,
        "journeys.html",
        {
            "journeys": journeys,
            "group_places": priority_groups.journey_places(session=session),
            "q": q,
            "status": filter_status,
            "statuses": list(STATUS_LABELS),
            "status_labels": _translated(STATUS_LABELS),
        },
        block="table",
    )


@router.post("/journeys")
def create_journey_form(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    name: str = Form(default=""),
    description: str = Form(default=""),
) -> Response:
    """Create a journey from the "new journey" dialog and open it in the editor."""
    name, description = name.strip(), description.strip()
    error = ""
    if not name:
        error = gettext("Give the journey a name.")
    elif len(name) > 120 or len(description) > 2000:
        error = gettext("The name is limited to 120 characters, the description to 2000.")
    if error:
        return render(
            request,
            "journeys.html",
            {
                "journeys": [],
                "q": "",
                "status": "",
                "statuses": list(STATUS_LABELS),
                "status_labels": _translated(STATUS_LABELS),
                "form_error": error,
                "form_name": name,
                "form_description": description,
            },
            block="new_form",
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(
            name=name,
            description=description,
            draft_document=starter_document(name, description),
        ),
        by=user,
    )
    url = f"/journeys/{journey.id}/edit"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=status.HTTP_204_NO_CONTENT, headers={"HX-Redirect": url})
    return RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)


def journey_or_404(session: Any, journey_id: str) -> Journey:
    """The journey, or a 404 naming the id."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    return journey


def _kinds_boot() -> dict[str, Any]:
    """Per-kind display data and starting config for the canvas (dropping new nodes)."""
    result: dict[str, Any] = {}
    for kind, info in KINDS.items():
        starter = {"id": "new", "kind": kind.value, "config": info.default_config}
        result[kind.value] = {
            "title": gettext(info.title),
            "color": info.color,
            "icon": info.icon,
            "group": info.group,
            "config": info.default_config,
            "meta": node_meta(starter, queries.SummaryContext()),
        }
    return result


def _strings() -> dict[str, str]:
    """UI strings ``canvas.js`` shows, already translated."""
    msgs = {
        "saving": lazy("Saving…"),
        "saved": lazy("All changes saved"),
        "unsaved": lazy("Unsaved changes"),
        "saveFailed": lazy("Could not save: %s"),
        "valid": lazy("No problems found. Ready to publish."),
        "problems": lazy("%d problem(s) to fix before publishing."),
        "warnings": lazy("%d warning(s)."),
        "published": lazy("Published version %s."),
        "publishRefused": lazy("Not published: fix the problems listed on the right."),
        "confirmPublish": lazy(
            "Publish this draft as a new version? New customers will follow it."
        ),
        "paused": lazy("Journey paused."),
        "resumed": lazy("Journey resumed."),
        "confirmArchive": lazy(
            "Archive this journey? It leaves the journey list and takes no one in; "
            "customers still in it are stopped."
        ),
        "confirmImport": lazy("Replace the current draft with the imported file?"),
        # the buttons of the app's confirmation dialog say what they do
        "publishOk": lazy("Publish"),
        "archiveOk": lazy("Archive"),
        "importOk": lazy("Replace the draft"),
        "cancel": lazy("Cancel"),
        "imported": lazy("Imported."),
        "importFailed": lazy("Import failed: %s"),
        "noEntryTarget": lazy("An entry step cannot have incoming connections."),
        "selfLoop": lazy("A step cannot connect to itself."),
        "deleteConfirm": lazy("Delete %d selected item(s)?"),
        "hint": lazy("Hint"),
        "error": lazy("Error"),
        "warning": lazy("Warning"),
        "focus": lazy("Show on canvas"),
        "draft": lazy("Draft"),
        "live": lazy("Live"),
        "paused_status": lazy("Paused"),
        "archived": lazy("Archived"),
        "requestFailed": lazy("Request failed: %s"),
        "edgesRemoved": lazy(
            "Connections removed from outputs that no longer exist: %s (Undo brings them back)."
        ),
        "listSep": lazy(", "),
        "edgeReplaced": lazy(
            "Connection replaced: “{port}” now leads to “{to}” instead of “{from}”."
        ),
        "insertStep": lazy("Insert a step"),
        # the Results toggle: a step's badge, an output's count, the bar's summary
        "resEntered": lazy("{n} entered"),
        "resWaiting": lazy("{n} waiting"),
        "resEnded": lazy("{n} ended"),
        "resConverted": lazy("{n} converted"),
        "resSummary": lazy(
            "{entered} entered · {conversions} converted ({rate}%) · revenue {revenue}"
        ),
        "resNoGoal": lazy("{entered} entered · no goal set, so no conversions"),
        "resEmpty": lazy("No customers entered in this period."),
    }
    return {key: gettext(value) for key, value in msgs.items()}


def editor_response(
    request: Request,
    session: Any,
    journey: Journey,
    *,
    version: JourneyVersion | None,
    panel: Any = None,
) -> Response:
    """The editor page on the draft, or read-only on ``version``; ``panel`` opens a panel."""
    document = version.document if version else journey.draft_document
    ctx = queries.summary_context(session=session)
    meta = document_meta(document, ctx)
    boot = {
        "journeyId": journey.id,
        "readonly": version is not None,
        "version": version.version if version else None,
        "status": journey.status,
        "document": document,
        "meta": meta,
        "kinds": _kinds_boot(),
        "strings": _strings(),
        "statusLabels": _translated(STATUS_LABELS),
    }
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "document": document,
            "version": version,
            "readonly": bool(version),
            "versions": crud.list_versions(session=session, journey_id=journey.id),
            "palette": palette(),
            "boot": boot,
            "panel": panel,
            "choices": panel.choices if panel is not None else None,
            "status_labels": _translated(STATUS_LABELS),
            "entry_status": queries.segment_entry_status(session=session, journey=journey),
            "journey_group": priority_groups.editor_settings(
                session=session, journey_id=journey.id
            ),
            "launch": launch_context(session, journey),
        },
    )


@router.get("/journeys/{journey_id}/edit")
def editor_page(journey_id: str, request: Request, session: SessionDep) -> Response:
    """The canvas editor on the journey's draft."""
    journey = journey_or_404(session, journey_id)
    return editor_response(request, session, journey, version=None)


@router.get("/journeys/{journey_id}/versions")
def versions_fragment(journey_id: str, request: Request, session: SessionDep) -> Response:
    """The version list (the editor's ``versions`` block; the full editor without htmx)."""
    journey = journey_or_404(session, journey_id)
    if request.headers.get("hx-request") != "true":
        return editor_response(request, session, journey, version=None)
    return render(
        request,
        "editor.html",
        {
            "journey": journey,
            "version": None,
            "versions": crud.list_versions(session=session, journey_id=journey.id),
            "status_labels": _translated(STATUS_LABELS),
        },
        block="versions",
    )


@router.get("/journeys/{journey_id}/versions/{version}")
def version_page(
    journey_id: str, request: Request, session: SessionDep, version: int = Path(ge=1, le=MAX_ID)
) -> Response:
    """A published version, read-only."""
    journey = journey_or_404(session, journey_id)
    found = crud.get_version(session=session, journey_id=journey_id, version=version)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("Journey %(id)s has no version %(version)d.")
            % {"id": journey_id, "version": version},
        )
    return editor_response(request, session, journey, version=found)


@router.get("/customers")
def customers_page(
    request: Request, session: SessionDep, q: str = Query(default="", max_length=64)
) -> Response:
    """Customer lookup by id, phone or name, with the journeys each one is in."""
    return _customers(request, session, q)


def _customers(
    request: Request,
    session: SessionDep,
    q: str,
    *,
    ids_form: IdsForm | None = None,
    notice: tuple[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The customer cards of the search ``q`` (``ids_form``: a refused WeCom / WeChat ids
    form, shown again with its errors on its card; ``notice``: customer id, text)."""
    query = q.strip()
    customers = crud.search_customers(session=session, query=query, limit=20) if query else []
    runs_by_customer = {
        c.id: crud.list_runs(session=session, customer_id=c.id, limit=20) for c in customers
    }
    # the points balance now and the newest ledger rows (journey awards name their journey)
    now = utcnow()
    points_by_customer = {
        c.id: (
            points_crud.points_balance(session=session, customer_id=c.id, as_of=now),
            points_crud.list_points(session=session, customer_id=c.id, limit=5),
        )
        for c in customers
    }
    # the stored metrics (engine.metrics): purchase cycle, purchases, average order …
    metrics_by_customer = stored_metrics_of(session=session, customer_ids=[c.id for c in customers])
    journey_ids = {r.journey_id for runs in runs_by_customer.values() for r in runs}
    journey_ids |= {
        e.journey_id for _, entries in points_by_customer.values() for e in entries if e.journey_id
    }
    names = {
        jid: j.name
        for jid in journey_ids
        if (j := crud.get_journey(session=session, journey_id=jid)) is not None
    }
    # people read store and guide names; the ids stay in the title
    store_names = {
        sid: store.name
        for sid in {c.store_id for c in customers if c.store_id}
        if (store := crud.get_store(session=session, store_id=sid)) is not None
    }
    guide_names = {
        gid: guide.name
        for gid in {c.guide_id for c in customers if c.guide_id}
        if (guide := crud.get_guide(session=session, guide_id=gid)) is not None
    }
    # the channels each one left (how, when) and their last messages with delivery status;
    # test sends from the message panel went to the sender, not to the customer
    opt_outs_by_customer = {c.id: opt_outs.list_opt_outs(session, customer=c) for c in customers}
    messages_by_customer = {
        c.id: [
            (m, delivery.delivery(m))
            for m in crud.list_messages(session=session, customer_id=c.id, limit=10)
            if not m.is_test
        ][:5]
        for c in customers
    }
    names.update(
        (jid, j.name)
        for jid in {m.journey_id for ms in messages_by_customer.values() for m, _ in ms}
        if jid and jid not in names
        if (j := crud.get_journey(session=session, journey_id=jid)) is not None
    )
    return render(
        request,
        "customers.html",
        {
            "q": query,
            "customers": customers,
            "opt_outs_by_customer": opt_outs_by_customer,
            "messages_by_customer": messages_by_customer,
            "channel_name": delivery.channel_name,
            "source_name": delivery.source_name,
            "store_names": store_names,
            "guide_names": guide_names,
            "runs_by_customer": runs_by_customer,
            "points_by_customer": points_by_customer,
            "stored_metrics": STORED_METRICS,
            "metrics_by_customer": metrics_by_customer,
            "journey_names": names,
            "step_names": queries.current_step_names(
                session=session, runs=[r for runs in runs_by_customer.values() for r in runs]
            ),
            "run_labels": _translated(RUN_LABELS),
            "level_labels": _translated(LEVEL_LABELS),
            "ids_form": ids_form,
            "ids_notice": notice,
        },
        block="results",
        status_code=status_code,
    )


@router.post("/customers/{customer_id}/opt-in")
def customer_opt_in(
    customer_id: str,
    request: Request,
    session: SessionDep,
    channel: str = Form(max_length=32),
    q: str = Form(default="", max_length=64),
) -> Response:
    """HQ takes a customer back into a channel they had left (the customer card's action);
    answers the card again (the search it was on)."""
    try:
        opt_outs.opt_in(session, customer_id=customer_id, channel=channel)
    except NotFoundError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except opt_outs.OptOutInputError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/customers?q={quote(q or customer_id)}", status_code=303)
    return customers_page(request, session, q=q or customer_id)


#: What the customer card's ids form says for a refused field (the service's text is English).
IDS_ERRORS = {
    "wecom_external_userid": lazy(
        "A WeCom external contact id starts with wm or wo, then 4–62 letters, digits, - or _."
    ),
    "wechat_openid": lazy("An openid is 10–64 letters, digits, - or _."),
}


@dataclass(frozen=True)
class IdsForm:
    """The ids form of one customer card as submitted, with its errors by field."""

    customer_id: str
    values: dict[str, str]
    errors: dict[str, str]


@router.post("/customers/{customer_id}/ids")
def customer_ids(
    customer_id: str,
    request: Request,
    session: SessionDep,
    actor: CurrentPrincipal,
    wecom_external_userid: str = Form(default="", max_length=64),
    wechat_openid: str = Form(default="", max_length=64),
    q: str = Form(default="", max_length=64),
) -> Response:
    """HQ sets the customer's WeCom external contact id and WeChat openid (the customer
    card's form; ``services.contact_ids``): the next WeCom / WeChat message uses them.
    Answers the cards again; a refused id is a 422 with the form and its error inline."""
    ids = contact_ids.CustomerIds(wecom_external_userid, wechat_openid)
    try:
        contact_ids.set_customer_ids(
            session=session, customer_id=customer_id, ids=ids, actor=actor.username
        )
    except NotFoundError as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("Customer %(id)s does not exist.") % {"id": customer_id},
        ) from exc
    except contact_ids.ContactIdInputError as exc:
        message = (
            gettext("Customer %(other)s already has this id.") % {"other": exc.taken_by}
            if exc.taken_by
            else gettext(IDS_ERRORS[exc.field])
        )
        form = IdsForm(
            customer_id,
            {"wecom_external_userid": wecom_external_userid, "wechat_openid": wechat_openid},
            {exc.field: message},
        )
        if request.headers.get("hx-request") != "true":
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, message) from exc
        return _customers(request, session, q or customer_id, ids_form=form, status_code=422)
    if request.headers.get("hx-request") != "true":
        return RedirectResponse(f"/customers?q={quote(q or customer_id)}", status_code=303)
    return _customers(
        request,
        session,
        q or customer_id,
        notice=(customer_id, gettext("WeCom / WeChat ids saved.")),
    )

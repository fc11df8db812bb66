"""Segment pages: list, builder (live count + sample as rules change), where used; and a
journey's segment enrollment page with a live progress bar.

The builder keeps the rules as JSON in a hidden field that ``static/segments.js`` edits
(add / remove / drag rules and groups); htmx posts it to ``/segments/preview`` on every
change and swaps the ``preview`` block. Bad rules answer 422 with the problems listed, each
naming its rule, and ``app.js`` swaps 422 like a 200.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import Response

from audiences import FIELDS, SegmentValidationError
from audiences.fields import RELATIVE_MONTHS
from canvas_ui import queries
from canvas_ui.deps import CurrentUser, SessionDep, TemporalDep
from canvas_ui.forms.labels import STAGE_LABELS
from canvas_ui.i18n import current_locale, gettext, lazy, ngettext
from canvas_ui.routes.pages import LEVEL_LABELS
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.models import utcnow
from db.session import end_transaction, in_thread
from engine.rfm import RFM_CLASS_EN
from services import segment_counts as counts
from services import segments as service

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

EMPTY = {"match": "all", "rules": []}

#: audiences.fields labels, marked here so pybabel extracts them (translated at render).
FIELD_LABELS = (
    lazy("Member level"),
    lazy("Gender"),
    lazy("Birthday month"),
    lazy("Store"),
    lazy("Region"),
    lazy("Bound guide"),
    lazy("Days since joining"),
    lazy("RFM class"),
    lazy("R: days since last purchase"),
    lazy("F: purchases in the RFM period"),
    lazy("M: spend in the RFM period"),
    lazy("L: days between first and last purchase"),
    lazy("Days since first purchase"),
    lazy("Purchases (all time)"),
    lazy("Days since last store visit"),
    lazy("Days since last browse"),
    lazy("Days since last contact"),
    lazy("Last contacted by"),
    lazy("Contacts in the last 7 days"),
    lazy("Contacts in the last 30 days"),
)


#: Words of the builder's operators and coupon states (msgids; translated per request).
OP_LABELS = {
    "between": lazy("between"),
    "in": lazy("is one of"),
    "not_in": lazy("is none of"),
    "contains": lazy("contains"),
    "exists": lazy("has a value"),
    "not_exists": lazy("has no value"),
}
COUPON_STATES = {
    "held": lazy("holds one"),
    "expiring": lazy("expiring within"),
    "redeemed": lazy("redeemed within"),
}
#: Labels of stored choice values, by field (values without one are shown as they are).
CHOICE_LABELS = {
    "member_level": LEVEL_LABELS,
    "gender": {"F": lazy("Female"), "M": lazy("Male")},
    "lifecycle_stage": STAGE_LABELS,
    "last_contact_channel": {
        "sms": lazy("SMS"),
        "wecom": lazy("WeCom"),
        "wechat_template": lazy("WeChat template"),
        "wechat_subscribe": lazy("WeChat subscribe message"),
        "email": lazy("Email"),
        "webhook": lazy("Webhook"),
        "guide_task": lazy("A guide's completed task"),
    },
}


def _builder_meta(session: Any) -> dict[str, Any]:
    """What the builder's pickers offer: fields, operators, choices, ids of the chain."""
    return {
        "fields": [
            {
                "name": f.name,
                "label": gettext(f.label),
                "kind": f.kind.value,
                "ops": [o.value for o in f.ops],
                "choices": list(f.choices),
                "ref": f.ref,
            }
            for f in FIELDS.values()
        ],
        "refs": {
            "store": [[s.id, s.name] for s in crud.list_stores(session=session)],
            "region": [[r.id, r.name] for r in crud.list_regions(session=session)],
            "guide": [[g.id, g.name] for g in crud.list_guides(session=session)],
        },
        "months": list(RELATIVE_MONTHS),
        # the English names of the RFM classes help an English reader; a Chinese one reads
        # the class itself
        "rfm_en": RFM_CLASS_EN if current_locale() == "en" else {},
        "coupon_templates": [t.id for t in crud.list_coupon_templates(session=session)],
        "ops": {op: gettext(label) for op, label in OP_LABELS.items()},
        "coupon_states": {state: gettext(label) for state, label in COUPON_STATES.items()},
        "choice_labels": {
            name: {value: gettext(label) for value, label in labels.items()}
            for name, labels in CHOICE_LABELS.items()
        },
        "text": {
            "all": gettext("all of"),
            "any": gettext("any of"),
            "none": gettext("none of"),
            "add_rule": gettext("Add rule"),
            "add_group": gettext("Add group"),
            "remove": gettext("Remove"),
            "field": gettext("Profile / value"),
            "tag": gettext("Tags"),
            "event": gettext("Events in a window"),
            "coupon": gettext("Coupon"),
            "days": gettext("days"),
            "times_in_last": gettext("times in the last"),
            "group": gettext("Group"),
            "drag": gettext("Drag to reorder"),
        },
    }


def count_age(at: datetime | None, now: datetime) -> str:
    """How old a cached count is, in words: "counted 5 minutes ago"."""
    if at is None:
        return ""
    minutes = max(0, int((now - at).total_seconds()) // 60)
    if minutes < 1:
        return gettext("counted just now")
    if minutes < 60:
        return ngettext("counted %(num)d minute ago", "counted %(num)d minutes ago", minutes) % {
            "num": minutes
        }
    hours = minutes // 60
    if hours < 48:
        return ngettext("counted %(num)d hour ago", "counted %(num)d hours ago", hours) % {
            "num": hours
        }
    days = hours // 24
    return ngettext("counted %(num)d day ago", "counted %(num)d days ago", days) % {"num": days}


def _count_cell(c: counts.SegmentCount, now: datetime) -> dict[str, Any]:
    """What ``_segment_count.html`` shows of one segment's count."""
    return {"c": c, "age": count_age(c.counted_at, now)}


@router.get("/segments")
def segments_page(request: Request, session: SessionDep) -> Response:
    """Saved segments with their last known size (and its age) and how many journeys use
    them. Nothing is counted here: stale counts are fetched by each row as it loads."""
    segments = crud.list_segments(session=session)
    used = service.usage_by_segment(session=session)
    usage = {s.id: len(used.get(s.id, [])) for s in segments}
    now = utcnow()
    cells = {s.id: _count_cell(counts.cached(s, now=now), now) for s in segments}
    return render(request, "segments.html", {"segments": segments, "usage": usage, "cells": cells})


@router.post("/segments/{segment_id}/count")
def count_segment(
    segment_id: str,
    request: Request,
    session: SessionDep,
    only_if_stale: bool = Form(default=False),
) -> Response:
    """Count the segment now (a plain def: in the thread pool) and answer its list cell;
    ``only_if_stale`` keeps a count that is still fresh (the list's automatic refresh)."""
    c = counts.refresh(session=session, segment_id=segment_id, only_if_stale=only_if_stale)
    return render(request, "_segment_count.html", _count_cell(c, utcnow()))


def _builder(
    request: Request,
    session: Any,
    segment: Any,
    *,
    is_new: bool,
    status_code: int = 200,
    saved: bool = False,
) -> Response:
    definition = segment.definition if segment is not None else EMPTY
    usage = (
        service.where_used(session=session, segment_id=segment.id)
        if segment is not None and not is_new
        else []
    )
    return render(
        request,
        "segment_builder.html",
        {
            "segment": segment,
            "is_new": is_new,
            "definition_json": json.dumps(definition, ensure_ascii=False),
            "meta_json": json.dumps(_builder_meta(session), ensure_ascii=False),
            "usage": usage,
            "problems": [],
            "saved_message": _saved_message(segment) if saved and segment is not None else "",
        },
        status_code=status_code,
    )


@router.get("/segments/new")
def new_segment_page(request: Request, session: SessionDep) -> Response:
    """An empty builder."""
    return _builder(request, session, None, is_new=True)


@router.get("/segments/{segment_id}")
def segment_page(
    segment_id: str, request: Request, session: SessionDep, saved: bool = False
) -> Response:
    """The builder on a saved segment, with where it is used (``saved``: just created)."""
    segment = service.require_segment(session, segment_id)
    return _builder(request, session, segment, is_new=False, saved=saved)


def _saved_message(segment: Any) -> str:
    return gettext("Segment “%(name)s” saved.") % {"name": segment.name}


def _parse_json(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise HTTPException(400, gettext("The rules are not valid JSON.")) from exc


@router.post("/segments/preview")
def preview_fragment(
    request: Request, session: SessionDep, definition: str = Form(...)
) -> Response:
    """The live count and sample of the rules being edited (the ``preview`` block)."""
    context: dict[str, Any] = {
        "problems": [],
        "preview": None,
        "level_labels": {k: gettext(v) for k, v in LEVEL_LABELS.items()},
        "store_names": {s.id: s.name for s in crud.list_stores(session=session)},
    }
    status_code = 200
    try:
        context["preview"] = service.preview(session=session, definition=_parse_json(definition))
    except SegmentValidationError as exc:
        context["problems"] = exc.problems
        status_code = 422
    return render(
        request,
        "segment_builder.html",
        context,
        block="preview",
        force_block=True,
        status_code=status_code,
    )


@router.post("/segments/save")
def save_segment(
    request: Request,
    session: SessionDep,
    user: CurrentUser,
    segment_id: str = Form(..., alias="id"),
    name: str = Form(...),
    description: str = Form(""),
    definition: str = Form(...),
    is_new: bool = Form(False),
) -> Response:
    """Save; on success HX-Redirect to the segment, else the ``save_status`` block (422)."""
    problems: list[Any] = []
    message = ""
    try:
        if not name.strip():
            message = gettext("Give the segment a name.")
        elif is_new and not _valid_id(segment_id):
            message = gettext(
                "The id takes lower-case letters, digits, - and _ (e.g. dormant_90d)."
            )
        else:
            saved = service.save_segment(
                session=session,
                segment_id=segment_id,
                name=name.strip(),
                description=description,
                definition=_parse_json(definition),
                by=user,
                create=is_new,
            )
            if is_new:  # a new address: the segment's page says it was saved
                return Response(
                    status_code=204, headers={"HX-Redirect": f"/segments/{segment_id}?saved=1"}
                )
            return render(
                request,
                "segment_builder.html",
                {"problems": [], "save_message": "", "saved_message": _saved_message(saved)},
                block="save_status",
                force_block=True,
            )
    except SegmentValidationError as exc:
        problems = exc.problems
        message = gettext("The segment has invalid rules; fix them and try again.")
    except crud.SegmentExistsError:
        message = gettext("A segment with this id exists already; pick another id.")
    return render(
        request,
        "segment_builder.html",
        {"problems": problems, "save_message": message, "saved_message": ""},
        block="save_status",
        force_block=True,
        status_code=422,
    )


def _valid_id(value: str) -> bool:
    import re

    return bool(re.match(r"^[a-z0-9][a-z0-9_\-]{0,63}$", value))


# --------------------------------------------------------------------------- enrollment


def _enrollment_context(session: Any, journey_id: str) -> dict[str, Any]:
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(404, gettext("Journey not found."))
    enrollments = crud.list_enrollments(session=session, journey_id=journey_id, limit=10)
    entry = queries.segment_entry_status(session=session, journey=journey, enrollments=enrollments)
    return {
        "journey": journey,
        "enrollments": enrollments,
        "latest": entry.latest,
        "percent": entry.percent,
        "limits": crud.get_entry_limits(session=session, journey_id=journey_id),
        "segment_id": entry.segment_id,
    }


@router.get("/journeys/{journey_id}/enrollment")
def enrollment_page(journey_id: str, request: Request, session: SessionDep) -> Response:
    """Segment entry of a journey: progress of the latest pass (polled), history, limits."""
    return render(
        request,
        "journey_enrollment.html",
        _enrollment_context(session, journey_id),
        block="progress",
    )


@router.get("/journeys/{journey_id}/enrollment/chip")
def enrollment_chip(journey_id: str, request: Request, session: SessionDep) -> Response:
    """The editor toolbar's segment-entry link with the latest pass's progress (polled
    while a pass runs)."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(404, gettext("Journey not found."))
    context = {
        "journey": journey,
        "entry_status": queries.segment_entry_status(session=session, journey=journey),
    }
    return render(request, "editor.html", context, block="enrollment_chip", force_block=True)


@router.post("/journeys/{journey_id}/enrollment/start")
async def start_enrollment(
    journey_id: str, request: Request, session: SessionDep, temporal: TemporalDep
) -> Response:
    """Enter the segment's audience now; → the progress block."""
    journey = await in_thread(crud.get_journey, session=session, journey_id=journey_id)
    await in_thread(end_transaction, session)
    if journey is None:
        raise HTTPException(404, gettext("Journey not found."))
    error = ""
    if journey.status != "live":
        error = gettext("Only a live journey can take in its segment.")
    elif temporal is None:
        error = gettext("Temporal is not configured.")
    else:
        try:
            await service.start_enrollment(
                client=await temporal.client(),
                task_queue=temporal.enrollment_queue,
                journey_id=journey_id,
            )
        except Exception as exc:  # noqa: BLE001 - shown to the operator
            error = str(exc)

    def page() -> Response:
        context = {
            **_enrollment_context(session, journey_id),
            "error": error,
            "starting": not error,
        }
        return render(
            request,
            "journey_enrollment.html",
            context,
            block="progress",
            force_block=True,
            status_code=422 if error else 200,
        )

    return await in_thread(page)


@router.post("/journeys/{journey_id}/enrollment/limits")
def save_limits(
    journey_id: str,
    request: Request,
    session: SessionDep,
    max_per_run: str = Form(""),
    max_per_hour: str = Form(""),
) -> Response:
    """Entry limits (empty = unlimited); → the limits block."""

    def number(raw: str) -> int | None:
        raw = raw.strip()
        if not raw:
            return None
        if not raw.isdigit() or not 1 <= int(raw) <= service.MAX_ENTRY_LIMIT:
            raise ValueError(raw)
        return int(raw)

    error = ""
    try:
        crud.set_entry_limits(
            session=session,
            journey_id=journey_id,
            max_per_run=number(max_per_run),
            max_per_hour=number(max_per_hour),
        )
    except ValueError:
        error = gettext("Limits are whole numbers of at least 1, or empty for no limit.")
    context = {**_enrollment_context(session, journey_id), "limits_error": error}
    return render(
        request,
        "journey_enrollment.html",
        context,
        block="limits",
        force_block=True,
        status_code=422 if error else 200,
    )

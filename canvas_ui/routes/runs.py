"""Run pages: find runs, a run on its journey's canvas (path, notes, step-through), replay
against the current code, and test runs of a draft. Thin: the work is in services.runs,
services.replay and services.test_runs; notes are worded in canvas_ui.run_notes."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Form, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from canvas_ui import delivery, queries, replay_jobs, words
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import SessionDep, SettingsDep, TemporalDep
from canvas_ui.diagnostics import problem_sentences
from canvas_ui.i18n import gettext, lazy
from canvas_ui.kinds import KINDS
from canvas_ui.routes.pages import LEVEL_LABELS, RUN_LABELS, _kinds_boot, _strings, _translated
from canvas_ui.run_notes import boot_steps, current_note
from canvas_ui.summaries import CHANNEL_LABELS, document_meta
from canvas_ui.templating import is_htmx, render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.models import Journey
from db.session import in_thread
from services import contact_policy, replay, runs, test_runs
from services.run_explain import RunExplanation

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)


def _labels(document: dict[str, Any]) -> dict[str, str]:
    titles = {k.value: gettext(info.title) for k, info in KINDS.items()}
    return {
        n["id"]: n.get("label") or titles.get(n.get("kind", ""), n["id"])
        for n in document.get("nodes", [])
    }


def _canvas_boot(session: Any, journey: Journey, document: dict[str, Any]) -> dict[str, Any]:
    """What canvas.js needs to draw ``document`` read-only (as the version page does)."""
    return {
        "journeyId": journey.id,
        "readonly": True,
        "version": None,
        "status": journey.status,
        "document": document,
        "meta": document_meta(document, queries.summary_context(session=session)),
        "kinds": _kinds_boot(),
        "strings": _strings(),
        "statusLabels": {},
    }


def _run_boot(exp: RunExplanation | None, labels: dict[str, str]) -> dict[str, Any]:
    if exp is None:
        return {"steps": [], "current": None, "currentNote": "", "status": ""}
    return {
        "steps": boot_steps(exp),
        "current": exp.current,
        "status": exp.status,
        "currentNote": current_note(exp, labels),
        "labels": labels,
        "source": exp.source,
        "timezone": exp.timezone,  # the step pane shows recorded moments in it
    }


#: Recorded keys of steps' results, inputs and context, as the step pane names them.
VALUE_KEYS = {
    "code": lazy("Coupon code"),
    "coupon_id": lazy("Coupon"),
    "template_id": lazy("Coupon template"),
    "expires_at": lazy("Expires"),
    "issued_at": lazy("Issued"),
    "issued": lazy("Issued"),
    "face_value": lazy("Face value"),
    "redeemed_at": lazy("Redeemed"),
    "task_id": lazy("Task"),
    "due_at": lazy("Due"),
    "outcome": lazy("Outcome"),
    "status": lazy("Status"),
    "message_id": lazy("Message"),
    "delivery": lazy("Delivery"),
    "channel": lazy("Channel"),
    "until": lazy("Until"),
    "occurred_at": lazy("Happened"),
    "event_type": lazy("Event"),
    "variant": lazy("Variant"),
    "rule": lazy("Rule"),
    "trigger": lazy("Trigger"),
    "type": lazy("Type"),
    "amount": lazy("Amount"),
    "holdout": lazy("Holdout"),
    "tags": lazy("Tags"),
    "add_tags": lazy("Add tags"),
    "remove_tags": lazy("Remove tags"),
    "rfm_class": lazy("RFM class"),
    "member_level": lazy("Member level"),
    "event_id": lazy("Event"),
    "guide_id": lazy("Guide"),
    "store_id": lazy("Store"),
    "customer_id": lazy("Customer"),
    "note": lazy("Note"),
    "script": lazy("Script"),
    "since": lazy("Since"),
    "properties": lazy("Properties"),
    # the contact policy's decisions at an action (engine.contact_policy)
    "policy": lazy("Contact policy"),
    "decision": lazy("Decision"),
    "detail": lazy("Detail"),
    "at": lazy("At"),
    "capped": lazy("Capped"),
    "cap": lazy("Frequency cap"),
    "frees_at": lazy("Allowed again"),
}
#: Recorded values a reader meets most (a task's outcome, a message's status).
VALUE_WORDS = {
    "issued": lazy("issued"),
    "open": lazy("open"),
    "manual": lazy("Manual"),
    "event": lazy("Event"),
    "segment": lazy("Segment"),
    "script": lazy("Test script"),
    "deferred": lazy("deferred"),
    "waited": lazy("waited"),
    "skipped": lazy("skipped"),
    "quiet_hours": lazy("Quiet hours"),
}


def _run_strings() -> dict[str, Any]:
    return {
        "step": gettext("Step %(n)s of %(total)s"),
        "context": gettext("Context"),
        "events": gettext("Buffered events"),
        "none": gettext("None"),
        "consumed": gettext("consumed"),
        "inputs": gettext("Decision inputs"),
        "result": gettext("Result"),
        "running": gettext("Running test…"),
        "failed": gettext("The test did not run: %s"),
        "message": gettext("Message text"),
        "task": gettext("Task for the guide"),
        "raw": gettext("Raw data (JSON)"),
        "channels": {key: gettext(label) for key, label in CHANNEL_LABELS.items()},
        # the names of recorded values, and of the values a reader meets most
        "keys": {key: gettext(label) for key, label in VALUE_KEYS.items()},
        "values": {
            **{key: gettext(label) for key, label in VALUE_WORDS.items()},
            **words.all_words(),  # event types, outcomes, message statuses
        },
    }


@router.get("/runs")
def runs_page(
    request: Request,
    session: SessionDep,
    q: str = Query(default="", max_length=64),
    journey_id: str = Query(default="", max_length=64),
    node_id: str = Query(default="", max_length=64),
) -> Response:
    """Find runs by customer (id, phone or name) or "who is in this journey / at this step"
    (the steps of the chosen journey by name, with how many customers are at each now)."""
    journey = crud.get_journey(session=session, journey_id=journey_id) if journey_id else None
    steps = queries.journey_steps(session=session, journey=journey) if journey else []
    # A step of another journey (the journey was just switched) or one nobody can be at
    # any more is no filter: the journey's customers are listed.
    step = next((s for s in steps if s.node_id == node_id), None)
    if journey is not None:
        hits = runs.waiting_at(
            session=session, journey_id=journey.id, node_id=step.node_id if step else None
        )
    elif journey_id:
        hits = []
    else:
        hits = runs.search_runs(session=session, query=q)
    return render(
        request,
        "runs.html",
        {
            "q": q,
            "journey_id": journey.id if journey else journey_id,
            "node_id": step.node_id if step else "",
            "steps": steps,
            "step": step,
            "hits": hits,
            "step_names": queries.current_step_names(session=session, runs=[h.run for h in hits]),
            "run_labels": _translated(RUN_LABELS),
            "exit_words": words.exit_reason,  # why an ended run ended (e.g. preempted)
            "journeys": crud.list_journeys(session=session),
            # the step select follows the chosen journey: swapped out of band with the results
            "steps_oob": is_htmx(request),
        },
        block="results",
    )


@router.get("/runs/{workflow_id}")
async def run_page(
    workflow_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> Response:
    """One run on the canvas of the version it runs on."""
    view = await runs.load_run_view(
        session=session,
        temporal=temporal,
        workflow_id=workflow_id,
        ui_url=settings.temporal_ui_url,
        namespace=settings.temporal_namespace,
    )
    if view is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("No journey run with workflow id %(id)s.") % {"id": workflow_id},
        )

    def page() -> Response:
        journey = crud.get_journey(session=session, journey_id=view.run.journey_id)
        if journey is None or view.version is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, gettext("The run's journey is gone."))
        document = view.version.document
        labels = _labels(document)
        boot = _canvas_boot(session, journey, document)
        boot["run"] = _run_boot(view.explanation, labels)
        # messages' delivery status as it is now (receipts come after the step was recorded)
        delivery.annotate_steps(session, boot["run"]["steps"], boot["run"].get("timezone", ""))
        boot["runStrings"] = _run_strings()
        return render(
            request,
            "run.html",
            {
                "view": view,
                "journey": journey,
                "boot": boot,
                "test_mode": False,
                "run_labels": _translated(RUN_LABELS),
                "current_note": boot["run"]["currentNote"],
            },
        )

    return await in_thread(page)


@router.post("/runs/{workflow_id}/replay")
async def replay_run(workflow_id: str, request: Request, temporal: TemporalDep) -> Response:
    """Replay this run's history against the current workflow code."""
    result: replay.ReplayResult | None = None
    error = ""
    try:
        client = await temporal.client()
        history = await replay.fetch_history(client, workflow_id)
        result = await replay.replay_one(history)
    except Exception as exc:  # Temporal down or history gone: say so in the panel
        error = str(exc)
    return render(
        request,
        "run.html",
        {"result": result, "error": error},
        block="replay_result",
        force_block=True,
    )


@router.post("/journeys/{journey_id}/replay")
async def replay_journey(
    journey_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    version: int | None = Form(default=None, ge=1, le=MAX_ID),
    limit: int = Form(default=200, ge=1, le=5000),
) -> Response:
    """Start replaying the runs of a journey (or one version) against the current code."""
    ids = await in_thread(
        replay.workflow_ids_for_journey,
        session=session,
        journey_id=journey_id,
        version=version,
        limit=limit,
    )
    error = ""
    job = None
    try:
        client = await temporal.client()
        title = f"{journey_id}" + (f" v{version}" if version else "")
        job = replay_jobs.start_job(client=client, workflow_ids=ids, title=title)
    except Exception as exc:
        error = str(exc)
    return render(
        request, "run.html", {"job": job, "error": error}, block="replay_job", force_block=True
    )


@router.get("/replay-jobs/{job_id}")
def replay_job(job_id: str, request: Request) -> Response:
    """A bulk replay's progress (polled by the page until it is finished)."""
    job = replay_jobs.JOBS.get(job_id)
    if job is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, gettext("No such replay job."))
    return render(
        request, "run.html", {"job": job, "error": ""}, block="replay_job", force_block=True
    )


@router.get("/journeys/{journey_id}/test-run")
def test_run_page(journey_id: str, request: Request, session: SessionDep) -> Response:
    """The draft on a read-only canvas with the test-run form beside it."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, gettext("No journey with id %(id)s.") % {"id": journey_id}
        )
    boot = _canvas_boot(session, journey, journey.draft_document)
    boot["run"] = _run_boot(None, {})
    boot["runStrings"] = _run_strings()
    boot["testRunUrl"] = f"/journeys/{journey.id}/test-run"
    return render(
        request,
        "run.html",
        {
            "view": None,
            "journey": journey,
            "boot": boot,
            "test_mode": True,
            "run_labels": _translated(RUN_LABELS),
            "current_note": "",
            # an outcome only for a task the draft has: the example form stays a comment
            "default_script": "purchase ¥300 on day 5\n# task outcome interested on day 2",
            "level_labels": _translated(LEVEL_LABELS),
        },
    )


class TestRunIn(BaseModel):
    """The test-run form: a synthetic profile (or a real customer to copy) and a script."""

    customer_id: str = Field(default="", max_length=32)
    name: str = Field(default="测试客户", max_length=60)
    member_level: str = Field(default="silver", max_length=20)
    rfm_class: str = Field(default="", max_length=10)
    tags: str = Field(default="", max_length=200)
    birthday: str = Field(default="", max_length=10)
    guide_id: str = Field(default="G1", max_length=32)
    segments: str = Field(default="", max_length=400)
    purchases_days_ago: str = Field(default="", max_length=100)
    #: the customer's earlier contacts the contact policy counts: "sms 2, coupon 5"
    earlier_contacts: str = Field(default="", max_length=300)
    script: str = Field(default="", max_length=5000)


@router.post("/journeys/{journey_id}/test-run")
def run_test_run(journey_id: str, body: TestRunIn, session: SessionDep) -> JSONResponse:
    """Run the draft in the sandbox; answers the run view's steps (422 names the problem,
    e.g. a template going past a rendering limit). A plain ``def``: FastAPI runs it in a
    worker thread, so the simulation and its template rendering never hold the event loop."""
    journey = crud.get_journey(session=session, journey_id=journey_id)
    if journey is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    coupons = test_runs.sandbox_coupons(session=session)
    try:
        compiled = test_runs.compile_draft(
            journey.draft_document,
            journey_id=journey.id,
            coupon_templates=set(coupons),
            max_points_per_step=contact_policy.max_points_per_step(session=session),
        )
        script = test_runs.parse_script(body.script)
        facts = test_runs.facts_for(
            session=session,
            segment_ids=compiled.branch_segments(),
            **body.model_dump(exclude={"script", "earlier_contacts"}),
        )
        contacts = test_runs.parse_contacts(body.earlier_contacts)
        contacts += test_runs.customer_contacts(session=session, customer_id=body.customer_id)
        past = [
            (float(d), "purchase")
            for d in body.purchases_days_ago.replace("，", ",").split(",")
            if d.strip()
        ]
    except test_runs.DraftInvalidError as exc:
        problems = problem_sentences(exc.diagnostics, journey.draft_document)
        return JSONResponse({"detail": problems}, status_code=422)
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    try:
        result = test_runs.run_test_blocking(
            compiled,
            facts,
            coupon_templates=coupons,
            script=script,
            past_events=past,
            template_customer=test_runs.template_customer(session=session, facts=facts),
            policy=test_runs.live_policy(session=session),
            contacts=contacts,
        )
    except test_runs.ScriptOutcomeError as exc:  # an outcome no open task can take
        return JSONResponse({"detail": str(exc)}, status_code=422)
    if result.limit_errors:
        detail = "; ".join(result.limit_errors)
        return JSONResponse(
            {
                "detail": f"A template goes past a limit: {detail} (a live run would take the "
                "node's on_failure path)."
            },
            status_code=422,
        )
    labels = _labels(journey.draft_document)
    return JSONResponse(
        {
            "run": _run_boot(result.explanation, labels),
            "elapsed_ms": round(result.elapsed_ms, 1),
            "stalled": result.stalled,
            "coupons": result.coupons,
            "messages": [
                {k: v for k, v in m.items() if k != "rendered"} | {"text": m["rendered"][:120]}
                for m in result.messages
            ],
            "tasks": result.tasks,
            "explanation": asdict(result.explanation),
        }
    )

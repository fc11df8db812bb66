"""The "Move waiting customers" dialog of a published version (issue 17 item 3).

The read-only version view opens it (``version_move.html``, block ``dialog``; the same URL
without htmx is a page of its own): the dry run's table — per node where customers wait,
how many, a select of where they land in the chosen later version (or "stay"), what is not
done again —, *Check again* re-plans with the selects, *Move* starts the pass and the
dialog shows its progress bar until done (block ``progress``, polled). An invalid target
re-renders the table with the node named (422, swapped like every form error).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import Response

from canvas_ui.api.params import MAX_ID
from canvas_ui.api.version_moves import temporal_client
from canvas_ui.deps import CurrentUser, ReadSessionDep, SessionDep, TemporalDep
from canvas_ui.i18n import gettext
from canvas_ui.kinds import kind_title
from canvas_ui.move_words import problem, refused
from canvas_ui.routes.pages import journey_or_404
from canvas_ui.templating import render
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db import crud
from db.crud import version_moves as moves_crud
from db.models import Journey, JourneyVersion
from db.session import end_transaction, in_thread
from services import version_moves as service
from services.version_moves import MoveInputError, MovePlan, MoveRefusedError

router = APIRouter(include_in_schema=False, route_class=UnitOfWorkRoute)

#: A select's value for "stay on the old version".
STAY = service.STAY


def _version_or_404(session: Any, journey_id: str, version: int) -> JourneyVersion:
    found = crud.get_version(session=session, journey_id=journey_id, version=version)
    if found is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            gettext("Journey %(id)s has no version %(version)d.")
            % {"id": journey_id, "version": version},
        )
    return found


def _context(
    session: Any,
    journey: Journey,
    version: int,
    plan: MovePlan | None,
    *,
    error: str = "",
    move: Any = None,
) -> dict[str, Any]:
    later = [
        v.version
        for v in crud.list_versions(session=session, journey_id=journey.id)
        if v.version > version
    ]
    moves = [
        service.move_json(m)
        for m in moves_crud.list_moves(session=session, journey_id=journey.id, limit=5)
        if m.from_version == version
    ]
    end_transaction(session)
    return {
        "journey": journey,
        "from_version": version,
        "later": sorted(later),
        "plan": plan,
        "problems": {r.node.node_id: problem(plan, r) for r in plan.problems} if plan else {},
        "kind_title": kind_title,
        "error": error,
        "move": move or (moves[0] if moves else None),
        "stay": STAY,
    }


def _plan(
    session: Any, journey_id: str, version: int, to: int | None, mapping: dict[str, str]
) -> tuple[MovePlan | None, str]:
    try:
        plan = service.plan_move(
            session=session,
            journey_id=journey_id,
            from_version=version,
            to_version=to,
            mapping=mapping,
        )
    except MoveInputError as exc:
        return None, exc.message
    return plan, ""


async def _form(request: Request) -> tuple[int | None, dict[str, str]]:
    form = await request.form()
    raw_to = str(form.get("to_version") or "")
    to = int(raw_to) if raw_to.isdigit() else None
    mapping = {
        str(k)[len("map.") :]: str(v) for k, v in form.multi_items() if str(k).startswith("map.")
    }
    return to, mapping


@router.get("/journeys/{journey_id}/versions/{version}/move")
def move_dialog(
    journey_id: str,
    request: Request,
    session: ReadSessionDep,
    version: int = Path(ge=1, le=MAX_ID),
    to_version: int | None = None,
) -> Response:
    """The dialog (or, without htmx, the page) with the dry run of the defaults."""
    journey = journey_or_404(session, journey_id)
    _version_or_404(session, journey_id, version)
    plan, error = _plan(session, journey_id, version, to_version, {})
    ctx = _context(session, journey, version, plan, error=error)
    return render(request, "version_move.html", ctx, block="dialog")


@router.post("/journeys/{journey_id}/versions/{version}/move/preview")
async def move_preview(
    journey_id: str,
    request: Request,
    session: ReadSessionDep,
    version: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """The dry run again, with the marketer's picks."""
    to, mapping = await _form(request)

    def build() -> dict[str, Any]:
        journey = journey_or_404(session, journey_id)
        plan, error = _plan(session, journey_id, version, to, mapping)
        return _context(session, journey, version, plan, error=error)

    ctx = await in_thread(build)
    return render(request, "version_move.html", ctx, block="dialog", force_block=True)


@router.post("/journeys/{journey_id}/versions/{version}/move")
async def move_apply(
    journey_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    user: CurrentUser,
    version: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """Start the pass; an invalid plan comes back as the table naming the node (422)."""
    to, mapping = await _form(request)
    args: dict[str, Any] = {
        "session": session,
        "journey_id": journey_id,
        "from_version": version,
        "to_version": to,
        "mapping": mapping,
    }

    def refusal() -> dict[str, Any] | None:
        journey = journey_or_404(session, journey_id)
        try:
            service.check_move(**args)
        except MoveRefusedError as exc:
            return _context(session, journey, version, exc.plan, error=refused(exc.plan))
        except MoveInputError as exc:
            return _context(session, journey, version, None, error=exc.message)
        end_transaction(session)
        return None

    def create() -> tuple[dict[str, Any], int | None]:
        journey = journey_or_404(session, journey_id)
        row = service.start_move(**args, by=user)
        session.commit()
        plan, _ = _plan(session, journey_id, version, to, mapping)
        return _context(session, journey, version, plan, move=service.move_json(row)), row.id

    refused_ctx = await in_thread(refusal)
    if refused_ctx is not None:
        return render(
            request,
            "version_move.html",
            refused_ctx,
            block="dialog",
            status_code=422,
            force_block=True,
        )
    client = await temporal_client(temporal)  # unreachable: 503, nothing stored
    ctx, move_id = await in_thread(create)
    if move_id is not None:
        service.start_in_background(engine=request.app.state.engine, client=client, move_id=move_id)
        ctx["move"] = {**ctx["move"], "active": True}
    ctx["applied"] = True  # the table is what was applied: no second button for it
    return render(request, "version_move.html", ctx, block="dialog", force_block=True)


@router.get("/journeys/{journey_id}/moves/{move_id}/progress")
def move_progress(
    journey_id: str,
    request: Request,
    session: ReadSessionDep,
    move_id: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """A pass's progress bar (polled while it runs)."""
    row = moves_crud.get_move(session=session, move_id=move_id)
    if row is None or row.journey_id != journey_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, gettext("No such move."))
    return render(
        request,
        "version_move.html",
        {"journey": {"id": journey_id}, "move": service.move_json(row)},
        block="progress",
        force_block=True,
    )


@router.post("/journeys/{journey_id}/moves/{move_id}/resume")
async def move_resume(
    journey_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    move_id: int = Path(ge=1, le=MAX_ID),
) -> Response:
    """Go on with a pass a restart or a failure cut off."""
    client = await temporal_client(temporal)

    def mark() -> dict[str, Any]:
        row = moves_crud.get_move(session=session, move_id=move_id)
        if row is None or row.journey_id != journey_id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, gettext("No such move."))
        try:
            row = service.resume_move(session=session, move_id=move_id)
        except MoveInputError as exc:
            raise HTTPException(exc.status, exc.message) from exc
        session.commit()
        return service.move_json(row)

    move = await in_thread(mark)
    service.start_in_background(engine=request.app.state.engine, client=client, move_id=move_id)
    return render(
        request,
        "version_move.html",
        {"journey": {"id": journey_id}, "move": {**move, "active": True}},
        block="progress",
        force_block=True,
    )

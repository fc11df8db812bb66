"""JSON API of moving waiting customers to a newer version (issue 17 item 3): the dry run,
apply (a background pass with progress), the passes and resuming one.

Thin: the plan and the pass are ``services.version_moves``. A bad field is a 422 naming it
(``to_version``, ``mapping.<node>``); a plan whose mapped node is invalid in the new version
is refused with 409, naming each such node in ``errors`` with the dry run in ``plan``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from canvas_ui.api.journeys import require_journey
from canvas_ui.api.params import MAX_ID
from canvas_ui.api.responses import TEMPORAL_UNAVAILABLE
from canvas_ui.deps import CurrentUser, ReadSessionDep, SessionDep, TemporalDep
from canvas_ui.move_words import input_problem, plan_json, refused, refused_errors
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.crud import version_moves as moves_crud
from db.session import end_transaction, in_thread
from services import version_moves as service
from services.temporal import TemporalUnavailableError
from services.version_moves import MoveInputError, MoveRefusedError

router = APIRouter(prefix="/api", tags=["version moves"], route_class=UnitOfWorkRoute)

REFUSED: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "A mapped node is invalid in the new version (``errors`` names each "
        "``mapping.<node>``, ``plan`` is the dry run), or nobody waits at a node that moves."
    }
}


class MoveIn(BaseModel):
    """Body of the dry run and of apply."""

    to_version: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="The version to move to (default: the next)."
    )
    mapping: dict[str, str] = Field(
        default_factory=dict,
        description="Old node id → node id of the new version, or '' to stay on the old "
        "version. A node left out lands on the same node when the new version has it with "
        "the same kind, else stays.",
    )


async def temporal_client(temporal: Any) -> Any:
    """The gateway's client; 503 (``TemporalUnavailableError``) without one."""
    if temporal is None:
        raise TemporalUnavailableError("no Temporal server is configured for this app")
    return await temporal.client()


def _input_error(exc: MoveInputError) -> JSONResponse:
    return JSONResponse(input_problem(exc), status_code=exc.status)


@router.post("/journeys/{journey_id}/versions/{version}/move/dry-run")
def dry_run(
    journey_id: str,
    body: MoveIn,
    session: ReadSessionDep,
    version: int = Path(ge=1, le=MAX_ID),
) -> Any:
    """Where the customers waiting in ``version`` would land: per node, how many, the
    target, what is not done again, and any target that cannot take them."""
    require_journey(session, journey_id)
    try:
        plan = service.plan_move(
            session=session,
            journey_id=journey_id,
            from_version=version,
            to_version=body.to_version,
            mapping=body.mapping,
        )
    except MoveInputError as exc:
        return _input_error(exc)
    return plan_json(plan)


@router.post(
    "/journeys/{journey_id}/versions/{version}/move",
    status_code=status.HTTP_202_ACCEPTED,
    responses={**REFUSED, **TEMPORAL_UNAVAILABLE},
)
async def apply(
    journey_id: str,
    body: MoveIn,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    user: CurrentUser,
    version: int = Path(ge=1, le=MAX_ID),
) -> Any:
    """Move the waiting customers: each run continues on the new version at its mapped
    node. Runs in the background; ``GET .../moves/{id}`` reports its progress."""
    await in_thread(require_journey, session, journey_id)
    args: dict[str, Any] = {
        "session": session,
        "journey_id": journey_id,
        "from_version": version,
        "to_version": body.to_version,
        "mapping": body.mapping,
    }

    def check() -> None:
        service.check_move(**args)
        end_transaction(session)

    def create() -> Any:
        row = service.start_move(**args, by=user)
        session.commit()
        return row

    try:
        await in_thread(check)  # a refused plan is a 409 whether Temporal is up or not
        client = await temporal_client(temporal)  # unreachable: 503, nothing stored
        row = await in_thread(create)
    except MoveInputError as exc:
        return _input_error(exc)
    except MoveRefusedError as exc:
        return JSONResponse(
            {
                "detail": refused(exc.plan),
                "errors": refused_errors(exc.plan),
                "plan": plan_json(exc.plan),
            },
            status_code=status.HTTP_409_CONFLICT,
        )
    service.start_in_background(engine=request.app.state.engine, client=client, move_id=row.id)
    return service.move_json(row)


@router.get("/journeys/{journey_id}/moves")
def list_moves(journey_id: str, session: ReadSessionDep) -> list[dict[str, Any]]:
    """The journey's move passes, newest first."""
    require_journey(session, journey_id)
    rows = moves_crud.list_moves(session=session, journey_id=journey_id)
    return [service.move_json(r) for r in rows]


def _move_or_404(session: Any, journey_id: str, move_id: int) -> Any:
    row = moves_crud.get_move(session=session, move_id=move_id)
    if row is None or row.journey_id != journey_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"journey {journey_id} has no move {move_id}"
        )
    return row


@router.get("/journeys/{journey_id}/moves/{move_id}")
def get_move(
    journey_id: str, session: ReadSessionDep, move_id: int = Path(ge=1, le=MAX_ID)
) -> dict[str, Any]:
    """One pass: status, how many were told and skipped of how many, who, when."""
    return service.move_json(_move_or_404(session, journey_id, move_id))


@router.post(
    "/journeys/{journey_id}/moves/{move_id}/resume",
    status_code=status.HTTP_202_ACCEPTED,
    responses=TEMPORAL_UNAVAILABLE,
)
async def resume(
    journey_id: str,
    request: Request,
    session: SessionDep,
    temporal: TemporalDep,
    move_id: int = Path(ge=1, le=MAX_ID),
) -> Any:
    """Go on with a pass a restart or a failure cut off, after the last run it told."""
    await in_thread(_move_or_404, session, journey_id, move_id)
    client = await temporal_client(temporal)

    def mark() -> Any:
        row = service.resume_move(session=session, move_id=move_id)
        session.commit()
        return row

    try:
        row = await in_thread(mark)
    except MoveInputError as exc:
        return _input_error(exc)
    service.start_in_background(engine=request.app.state.engine, client=client, move_id=move_id)
    return service.move_json(row)

"""``/api/journeys/{id}/backtest``: what-if backtests of a draft or version against the live
version on recorded customers (issue 17 item 1).

``POST`` checks the request and starts the backtest in the background (202 with its id and
where to poll); ``GET`` gives the newest backtest's status, progress and, when done, its
report; ``GET …/backtest/{backtest_id}`` one backtest; ``POST …/{backtest_id}/again`` the
same question once more (a backtest that failed, or that a restart interrupted: its
``error`` is ``services.backtest.INTERRUPTED``). Bad input names its field (422, the
API's ``Problem`` shape): a period with nobody in it is a 422 on ``since_days`` (or
``from``) explaining when customers did enter; a draft that does not compile is a 422 with
its diagnostics; no live version to compare with is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator
from sqlmodel import Session

from canvas_ui import backtest_words as words
from canvas_ui.api.params import MAX_ID
from canvas_ui.deps import CurrentUser, ReadSessionDep, SessionDep, SettingsDep
from canvas_ui.diagnostics import localize, node_labels
from canvas_ui.i18n import gettext
from canvas_ui.unit_of_work import UnitOfWorkRoute
from db.crud import backtests as backtest_crud
from db.models.backtests import JourneyBacktest
from services import backtest as service
from services.backtest import BacktestInputError, BacktestRequest, CandidateInvalidError

router = APIRouter(prefix="/api", tags=["backtests"], route_class=UnitOfWorkRoute)

#: starts a stored backtest: (engine, backtest id, timezone) → None
Runner = Callable[[Any, int, str], None]


def _start_thread(engine: Any, backtest_id: int, timezone: str) -> None:
    service.start_in_background(engine=engine, backtest_id=backtest_id, timezone=timezone)


def get_runner(request: Request) -> Runner:
    """How this app runs a backtest (tests put an inline one on ``app.state``)."""
    runner: Runner | None = getattr(request.app.state, "backtest_runner", None)
    return runner or _start_thread


RunnerDep = Annotated[Runner, Depends(get_runner)]


class BacktestIn(BaseModel):
    """What to backtest. The period: ``from``/``to`` (days in the brand's zone, ``to``
    included) or else the last ``since_days``."""

    candidate: str | int = Field(default="draft", description='"draft" or a version number')
    baseline: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="the version to compare with; the live one"
    )
    since_days: int = Field(default=30, ge=1, le=service.MAX_DAYS)
    from_: date | None = Field(default=None, alias="from")
    to: date | None = None
    source: Literal["entered", "segment"] = Field(
        default="entered",
        description="entered: who entered the baseline in the period; segment: a saved "
        "segment's members (or the entry's segment), entering at the period's start",
    )
    segment_id: str | None = Field(default=None, max_length=64)

    model_config = {"populate_by_name": True}

    @field_validator("candidate")
    @classmethod
    def _candidate(cls, value: str | int) -> str | int:
        if value == "draft":
            return value
        if isinstance(value, int) and 1 <= value <= MAX_ID:
            return value
        if isinstance(value, str) and value.isdigit() and 1 <= int(value) <= MAX_ID:
            return int(value)
        raise ValueError("write 'draft' or a version number, e.g. 2")

    def request(self) -> BacktestRequest:
        return BacktestRequest(
            candidate=self.candidate,
            baseline=self.baseline,
            since_days=self.since_days,
            start=self.from_,
            end=self.to,
            source=self.source,
            segment_id=self.segment_id,
        )


class BacktestOut(BaseModel):
    id: int
    journey_id: str
    status: str
    baseline_version: int
    candidate: str
    source: str
    segment_id: str | None
    period_start: datetime
    period_end: datetime
    total: int
    done: int
    error: str
    #: failed because a restart of the app cut it off (``POST …/again`` runs it again)
    interrupted: bool = False
    created_by: str
    created_at: datetime
    finished_at: datetime | None
    #: the page that shows it
    url: str
    #: the report (``done`` only): side by side (``baseline``, ``candidate``), ``diff``,
    #: ``nodes``, ``messages``, ``tasks``, ``notes``
    result: dict[str, Any] | None


def backtest_out(row: JourneyBacktest) -> BacktestOut:
    assert row.id is not None
    return BacktestOut(
        id=row.id,
        journey_id=row.journey_id,
        status=row.status,
        baseline_version=row.baseline_version,
        candidate=row.candidate,
        source=row.source,
        segment_id=row.segment_id,
        period_start=row.period_start,
        period_end=row.period_end,
        total=row.total,
        done=row.done,
        error=row.error,
        interrupted=row.status == "failed" and row.error == service.INTERRUPTED,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
        url=f"/journeys/{row.journey_id}/backtest/{row.id}",
        result=row.result if row.status == "done" else None,
    )


_FIELDS = {"start": "from", "end": "to"}


def start(
    *,
    session: Session,
    request: Request,
    runner: Runner,
    journey_id: str,
    req: BacktestRequest,
    user: str,
    timezone: str,
) -> JourneyBacktest:
    """Store the backtest, commit, and start it (shared by the API and the editor's button).
    Raises :class:`BacktestInputError` / :class:`CandidateInvalidError`."""
    row = service.prepare(
        session=session, journey_id=journey_id, req=req, by=user, timezone=timezone
    )
    session.commit()  # the background job reads the row from its own session
    assert row.id is not None
    runner(request.app.state.engine, row.id, timezone)
    return row


def again(
    *,
    session: Session,
    request: Request,
    runner: Runner,
    journey_id: str,
    backtest_id: int,
    user: str,
    timezone: str,
) -> JourneyBacktest:
    """Store a new backtest with ``backtest_id``'s question, commit, and start it (the API
    and the page's "Run again"). Raises :class:`BacktestInputError`."""
    row = service.run_again(
        session=session, journey_id=journey_id, backtest_id=backtest_id, by=user
    )
    session.commit()
    assert row.id is not None
    runner(request.app.state.engine, row.id, timezone)
    return row


def input_problem(exc: BacktestInputError) -> Exception:
    """The API's answer to a request the backtest cannot run."""
    message = words.problem(exc)
    if exc.status != 422:
        return HTTPException(exc.status, message)
    field = _FIELDS.get(exc.field, exc.field)
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


@router.post(
    "/journeys/{journey_id}/backtest",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestOut,
    responses={
        404: {"description": "No such journey"},
        409: {"description": "No live version to compare with"},
    },
)
def post_backtest(
    journey_id: str,
    body: BacktestIn,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    runner: RunnerDep,
) -> Any:
    """Backtest the draft (or a version) against the live version on the customers who
    entered it in the period; runs in the background — poll the ``GET``."""
    try:
        row = start(
            session=session,
            request=request,
            runner=runner,
            journey_id=journey_id,
            req=body.request(),
            user=user,
            timezone=settings.timezone,
        )
    except BacktestInputError as exc:
        raise input_problem(exc) from exc
    except CandidateInvalidError as exc:
        labels = node_labels(body.candidate == "draft" and _draft(session, journey_id) or {})
        return JSONResponse(
            {
                "detail": gettext("The draft has errors; fix them and backtest again."),
                "diagnostics": [localize(d.to_dict(), labels) for d in exc.diagnostics],
            },
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    session.refresh(row)
    return backtest_out(row)


def _draft(session: Session, journey_id: str) -> dict[str, Any]:
    from db import crud

    journey = crud.get_journey(session=session, journey_id=journey_id)
    return journey.draft_document if journey is not None else {}


@router.get(
    "/journeys/{journey_id}/backtest",
    response_model=BacktestOut,
    responses={404: {"description": "No backtest of this journey yet"}},
)
def latest_backtest(journey_id: str, session: ReadSessionDep) -> BacktestOut:
    """The journey's newest backtest: status, progress (``done`` of ``total`` customers)
    and, once ``done``, its report."""
    row = backtest_crud.latest_backtest(session=session, journey_id=journey_id)
    if row is None:
        raise HTTPException(404, gettext("No backtest of journey %(id)s yet.") % {"id": journey_id})
    return backtest_out(row)


@router.get(
    "/journeys/{journey_id}/backtest/{backtest_id}",
    response_model=BacktestOut,
    responses={404: {"description": "No such backtest"}},
)
def get_backtest(
    journey_id: str,
    session: ReadSessionDep,
    backtest_id: int = Path(ge=1, le=MAX_ID),
) -> BacktestOut:
    """One backtest of the journey."""
    row = backtest_crud.get_backtest(
        session=session, journey_id=journey_id, backtest_id=backtest_id
    )
    if row is None:
        raise HTTPException(
            404, gettext("No backtest %(id)s of this journey.") % {"id": backtest_id}
        )
    return backtest_out(row)


@router.post(
    "/journeys/{journey_id}/backtest/{backtest_id}/again",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=BacktestOut,
    responses={
        404: {"description": "No such backtest"},
        409: {"description": "Nobody is in the backtest's period any more"},
    },
)
def post_again(
    journey_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    runner: RunnerDep,
    backtest_id: int = Path(ge=1, le=MAX_ID),
) -> Any:
    """Run a backtest again: a new backtest with the same versions (a draft as it was
    then), period and customers — for one that failed or was interrupted by a restart."""
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
        raise input_problem(exc) from exc
    session.refresh(row)
    return backtest_out(row)

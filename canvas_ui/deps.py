"""FastAPI dependencies: database session, settings, Temporal gateway, current user.

Everything a route needs arrives through these ``Annotated`` aliases, so tests swap any of
them with ``app.dependency_overrides`` (see ``tests/canvas_ui/conftest.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session

from journeys.settings import Settings, get_settings

USER_HEADER = "x-journeys-user"
USER_COOKIE = "journeys_user"
DEFAULT_USER = "hq"
_USER_RE = re.compile(r"^[\w.@\-]{1,64}$")


def get_db(request: Request) -> Iterator[Session]:
    """One session per request, on the engine the app was created with."""
    with Session(request.app.state.engine, expire_on_commit=False) as session:
        yield session


def get_temporal(request: Request) -> Any:
    """The app's lazily-connected :class:`services.temporal.TemporalGateway` (or None)."""
    return getattr(request.app.state, "temporal", None)


def get_current_user(request: Request) -> str:
    """The acting user's name.

    Placeholder until accounts arrive: taken from the ``X-Journeys-User`` header or the
    ``journeys_user`` cookie, else ``"hq"``. Swap this one dependency for real sessions.
    """
    raw = request.headers.get(USER_HEADER) or request.cookies.get(USER_COOKIE) or ""
    return raw if _USER_RE.match(raw) else DEFAULT_USER


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
TemporalDep = Annotated[Any, Depends(get_temporal)]
CurrentUser = Annotated[str, Depends(get_current_user)]

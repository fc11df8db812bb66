"""The journey services the API calls (``services.journeys``), imported on first use.

``services/`` is written alongside this package; until it is importable, publishing and
pausing answer 503 instead of breaking the whole app at import time.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from fastapi import HTTPException, status

from canvas_ui.i18n import gettext


def _journeys() -> ModuleType:
    try:
        return importlib.import_module("services.journeys")
    except ImportError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            gettext("The journey service is not available: %(error)s") % {"error": exc},
        ) from exc


def validate_draft(*, session: Any, document: dict[str, Any]) -> Any:
    """``services.journeys.validate_draft``: compile with the known coupon templates."""
    return _journeys().validate_draft(session=session, document=document)


async def publish_journey(*, session: Any, temporal: Any, journey_id: str, by: str) -> Any:
    """``services.journeys.publish_journey``: a new immutable version, or diagnostics."""
    return await _journeys().publish_journey(
        session=session, temporal=temporal, journey_id=journey_id, by=by
    )


async def set_paused(
    *, session: Any, temporal: Any, journey_id: str, paused: bool, by: str
) -> None:
    """``services.journeys.set_paused``."""
    await _journeys().set_paused(
        session=session, temporal=temporal, journey_id=journey_id, paused=paused, by=by
    )

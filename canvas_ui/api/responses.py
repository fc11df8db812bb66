"""OpenAPI ``responses=`` declarations shared by the API routes.

Their bodies are the API's one error shape (``Problem``), added by
``canvas_ui.app._document_errors``.
"""

from __future__ import annotations

from typing import Any

#: Routes that must reach Temporal: while it is unreachable they answer 503 with
#: ``Retry-After`` (the handler in ``canvas_ui.app``) instead of doing half the work.
TEMPORAL_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "Temporal is unavailable; try again later (``Retry-After``)."}
}

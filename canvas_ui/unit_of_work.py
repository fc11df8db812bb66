"""Routes whose database work ends in the thread that did it.

A plain ``def`` endpoint runs in the thread pool; FastAPI then validates and serialises
its return value in *another* pool thread. A transaction the endpoint left open (a
``refresh`` after a commit starts one, and on a writer session that is ``BEGIN IMMEDIATE``)
would hold SQLite's write lock while the request waits for that second thread — and when
every pool thread is itself waiting for the lock, nothing moves until the busy timeouts
expire (found by ``bench.web_load``). :class:`UnitOfWorkRoute` ends the request session's
transaction (commit, or rollback when the endpoint raised) before the endpoint's thread is
given back. Async endpoints do their database work through ``db.session.in_thread``, which
does the same for the sessions it is handed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute

from db.session import end_sessions


class UnitOfWorkRoute(APIRoute):
    """An ``APIRoute`` whose sync endpoint ends its sessions' transactions on return."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        call = self.dependant.call
        if call is not None and not inspect.iscoroutinefunction(call):
            self.dependant.call = _ending_sessions(call)


def _ending_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    def run(**values: Any) -> Any:
        try:
            result = endpoint(**values)
        except BaseException:
            end_sessions(values.values(), commit=False)
            raise
        end_sessions(values.values(), commit=True)
        return result

    return run

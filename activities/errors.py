"""How permanent business failures cross the Temporal boundary."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

#: A task id an activity was asked about does not exist (a caller bug, not a business rule).
TASK_NOT_FOUND = "TaskNotFound"
INVALID_REQUEST = "InvalidRequest"


def business_failure(type_: str, message: str) -> ApplicationError:
    """A non-retryable failure of ``type_`` (one of ``engine.effects``' failure types)."""
    return ApplicationError(message, type=type_, non_retryable=True)

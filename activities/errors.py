"""How permanent business failures cross the Temporal boundary."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

#: A task id an activity was asked about does not exist (a caller bug, not a business rule).
TASK_NOT_FOUND = "TaskNotFound"
INVALID_REQUEST = "InvalidRequest"


def business_failure(type_: str, message: str) -> ApplicationError:
    """A non-retryable failure of ``type_`` (one of ``engine.effects``' failure types).

    Benign: an opted-out customer or an exhausted coupon is an outcome the journey handles
    (``on_failure``), not an error, so the worker logs it at DEBUG instead of a traceback.
    Caller bugs (:data:`TASK_NOT_FOUND`, :data:`INVALID_REQUEST`) keep the warning.
    """
    bug = type_ in (TASK_NOT_FOUND, INVALID_REQUEST)
    category = ApplicationErrorCategory.UNSPECIFIED if bug else ApplicationErrorCategory.BENIGN
    return ApplicationError(message, type=type_, non_retryable=True, category=category)

"""Typed failures of the persistence layer; callers map them to HTTP codes or activity errors."""

from __future__ import annotations


class DbError(Exception):
    """Base class of the errors below."""


class NotFoundError(DbError):
    """``entity`` with ``key`` does not exist."""

    def __init__(self, entity: str, key: object) -> None:
        super().__init__(f"{entity} {key!r} not found")
        self.entity = entity
        self.key = key


class CouponStockExhaustedError(DbError):
    """Every coupon of ``template_id`` (``stock`` in all) has been issued."""

    def __init__(self, template_id: str, stock: int) -> None:
        super().__init__(f"coupon template {template_id!r} is out of stock ({stock} issued)")
        self.template_id = template_id
        self.stock = stock


class CouponTemplateInactiveError(DbError):
    """``template_id`` exists but HQ has switched it off."""

    def __init__(self, template_id: str) -> None:
        super().__init__(
            f"coupon template {template_id!r} is inactive; activate it or pick another"
        )
        self.template_id = template_id


class RunAlreadyRunningError(DbError):
    """``workflow_id`` already has a running run (``existing_id`` is its row id)."""

    def __init__(self, workflow_id: str, existing_id: int | None) -> None:
        super().__init__(f"workflow {workflow_id!r} already has a running run (row {existing_id})")
        self.workflow_id = workflow_id
        self.existing_id = existing_id


class ImmutableVersionError(DbError):
    """Published journey versions are never rewritten."""

    def __init__(self, journey_id: str, version: int) -> None:
        super().__init__(
            f"journey {journey_id!r} version {version} is published and immutable; "
            "publish a new version instead"
        )
        self.journey_id = journey_id
        self.version = version


class InvalidStatusError(DbError):
    """``value`` is not one of ``allowed`` for ``field``."""

    def __init__(self, field: str, value: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{field} {value!r} is not one of {', '.join(allowed)}")
        self.field = field
        self.value = value
        self.allowed = allowed


class TaskClosedError(DbError):
    """Task ``task_id`` is ``status`` already, so it can no longer be completed or chased."""

    def __init__(self, task_id: str, status: str) -> None:
        super().__init__(f"task {task_id!r} is {status}; only open tasks can change")
        self.task_id = task_id
        self.status = status

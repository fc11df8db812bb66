"""Requests and results that cross the boundary between the interpreter and the world.

The shared part (the :class:`Effect` descriptor, the visit context, business failures, the
interpreter's own ``load_facts``/``record_run``) is :mod:`engine.effect_parts`; each node
kind's effects live in its module under ``engine/kinds``. This module re-exports both, so
activities and tests import every request and result from one place.

Every side effect carries an ``idempotency_key`` derived from workflow id + enrollment +
node id + visit (see :func:`idempotency_key`), so a retried or replayed activity never
issues a second coupon, message or task.
"""

# No "from __future__ import annotations": Temporal resolves these types on every
# payload, and string annotations would be eval()-compiled each time (measured: most of the
# worker CPU in bench.throughput). The same holds in every kind module.

from engine.effect_parts import (
    BUSINESS_FAILURES,
    COUPON_STOCK_EXHAUSTED,
    CUSTOMER_NOT_FOUND,
    CUSTOMER_OPTED_OUT,
    LOAD_FACTS,
    MESSAGE_REJECTED,
    NO_GUIDE_AVAILABLE,
    RECORD_RUN,
    TEMPLATE_RENDER_FAILED,
    UNKNOWN_COUPON_TEMPLATE,
    CouponState,
    CustomerFacts,
    Effect,
    EffectContext,
    EffectFailed,
    EventCountQuery,
    FactsRequest,
    RunRecord,
    idempotency_key,
)
from engine.kinds import EFFECTS
from engine.kinds.assign_guide_task import (
    CREATE_TASK,
    TASK_NOTICE,
    CreateTaskRequest,
    TaskCreated,
    TaskNoticeRequest,
    TaskNoticeResult,
)
from engine.kinds.send_coupon import ISSUE_COUPON, CouponIssued, IssueCouponRequest
from engine.kinds.send_message import SEND_MESSAGE, MessageSent, SendMessageRequest
from engine.kinds.update_customer import UPDATE_CUSTOMER, CustomerUpdated, UpdateCustomerRequest

__all__ = [
    "BUSINESS_FAILURES",
    "COUPON_STOCK_EXHAUSTED",
    "CREATE_TASK",
    "CUSTOMER_NOT_FOUND",
    "CUSTOMER_OPTED_OUT",
    "EFFECTS",
    "ISSUE_COUPON",
    "LOAD_FACTS",
    "MESSAGE_REJECTED",
    "NO_GUIDE_AVAILABLE",
    "RECORD_RUN",
    "SEND_MESSAGE",
    "TASK_NOTICE",
    "TEMPLATE_RENDER_FAILED",
    "UNKNOWN_COUPON_TEMPLATE",
    "UPDATE_CUSTOMER",
    "CouponIssued",
    "CouponState",
    "CreateTaskRequest",
    "CustomerFacts",
    "CustomerUpdated",
    "Effect",
    "EffectContext",
    "EffectFailed",
    "EventCountQuery",
    "FactsRequest",
    "IssueCouponRequest",
    "MessageSent",
    "RunRecord",
    "SendMessageRequest",
    "TaskCreated",
    "TaskNoticeRequest",
    "TaskNoticeResult",
    "UpdateCustomerRequest",
    "idempotency_key",
]

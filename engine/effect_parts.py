"""What every effect shares: the :class:`Effect` descriptor, the visit context, business
failures, and the two effects of the interpreter itself (``load_facts``, ``record_run``).

One dataclass in, one out, per effect (samples-python ``hello_activity``). Stdlib only:
workflows pass these through the sandbox, activities implement them (activities/), and a
virtual-clock runtime (test runs, backtests) can implement them without Temporal. A node
kind's own effects (``issue_coupon`` …) live in its module under ``engine/kinds``;
:mod:`engine.effects` re-exports them all.

Every side effect carries an ``idempotency_key`` derived from workflow id + enrollment +
node id + visit (see :func:`idempotency_key`), so a retried or replayed activity never
issues a second coupon, message or task.
"""

# No "from __future__ import annotations": Temporal resolves these types on every
# payload, and string annotations would be eval()-compiled each time (measured: most of the
# worker CPU in bench.throughput).

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# Permanent business failures: activities raise ApplicationError(type=<one of these>,
# non_retryable=True); the interpreter records them and follows the node's on_failure.
COUPON_STOCK_EXHAUSTED = "CouponStockExhausted"
UNKNOWN_COUPON_TEMPLATE = "UnknownCouponTemplate"
CUSTOMER_OPTED_OUT = "CustomerOptedOut"
CUSTOMER_NOT_FOUND = "CustomerNotFound"
NO_GUIDE_AVAILABLE = "NoGuideAvailable"
MESSAGE_REJECTED = "MessageRejected"  # a provider's permanent 4xx, or a template that fails
TEMPLATE_RENDER_FAILED = "TemplateRenderFailed"

BUSINESS_FAILURES = frozenset(
    {
        COUPON_STOCK_EXHAUSTED,
        UNKNOWN_COUPON_TEMPLATE,
        CUSTOMER_OPTED_OUT,
        CUSTOMER_NOT_FOUND,
        NO_GUIDE_AVAILABLE,
        MESSAGE_REJECTED,
        TEMPLATE_RENDER_FAILED,
    }
)


class EffectFailed(Exception):
    """A permanent business failure of a side effect, as the interpreter sees it."""

    def __init__(self, type: str, message: str) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message


Rq = TypeVar("Rq")
Rs = TypeVar("Rs")


@dataclass(frozen=True, eq=False)
class Effect(Generic[Rq, Rs]):
    """One side effect or read the interpreter asks of the world: ``await
    runtime.effect(EFFECT, request)`` → its result.

    ``name`` is the activity type Temporal records in every history: never rename one (the
    replay corpus would break). Each runtime implements effects once, generically: Temporal
    runs the activity of that name (a *local* activity when ``local``: fast reads and
    bookkeeping, no business failures), the simulation and the sandbox call ``simulate``
    over their in-memory world, and ``activities.JourneyActivities`` holds the real one.
    """

    name: str
    request: type[Rq]
    result: type[Rs]
    local: bool = False
    #: a side effect that only writes the database (no provider, no rate limit) runs as a
    #: *local* activity in runs that took this release (``engine.runtime.PATCHES``): no
    #: round trip through the server, no workflow task of its own; its retries and
    #: business failures stay those of an activity
    local_since: str | None = None
    #: the sandbox implementation: ``(SimulatedRuntime, request) -> result``, raising
    #: :class:`EffectFailed` for a business failure (see :mod:`engine.simulation`)
    simulate: Callable[[Any, Rq], Awaitable[Rs]] | None = None


def idempotency_key(workflow_id: str, enrollment_id: str, node_id: str, visit: int) -> str:
    return f"{workflow_id}/{enrollment_id}/{node_id}/{visit}"


@dataclass
class EffectContext:
    """Who and where: identifies one visit of one node by one customer's run."""

    idempotency_key: str
    workflow_id: str
    journey_id: str
    journey_version: int
    node_id: str
    visit: int
    customer_id: str
    #: the workflow's time of the visit (ISO-8601): activities date what they create with it,
    #: so a coupon issued on the journey's day 12 expires relative to day 12 even when a
    #: test server skips time
    at: str = ""


# ------------------------------------------------------------------ reads


@dataclass
class EventCountQuery:
    event_type: str
    window_days: int

    @property
    def key(self) -> str:
        return f"{self.event_type}:{self.window_days}"


@dataclass
class CouponState:
    coupon_id: str
    redeemed: bool
    expires_at: str | None = None


@dataclass
class FactsRequest:
    """Read the customer's current profile and the counts a branch needs, as of ``as_of``."""

    customer_id: str
    as_of: str  # ISO-8601 UTC (workflow time, so counts are reproducible)
    event_counts: list[EventCountQuery] = field(default_factory=list)
    coupon_ids: list[str] = field(default_factory=list)
    segment_ids: list[str] = field(default_factory=list)  # membership asked about


@dataclass
class CustomerFacts:
    customer_id: str
    found: bool = True
    name: str = ""
    member_level: str = ""
    store_id: str | None = None
    guide_id: str | None = None
    tags: list[str] = field(default_factory=list)
    attributes: dict[str, Any] = field(default_factory=dict)
    rfm_class: str | None = None
    birthday: str | None = None  # YYYY-MM-DD
    timezone: str = "Asia/Shanghai"
    store_timezone: str = "Asia/Shanghai"
    opted_out_channels: list[str] = field(default_factory=list)
    event_counts: dict[str, int] = field(default_factory=dict)  # EventCountQuery.key -> n
    coupons: dict[str, CouponState] = field(default_factory=dict)
    as_of: str = ""
    segments: dict[str, bool] = field(default_factory=dict)  # segment id -> member as of as_of
    #: Joined the brand (YYYY-MM-DD, the customer's zone) — ``member_since`` anniversaries.
    member_since: str | None = None
    #: Last purchase (ISO instant) and the customer's own purchase cycle in days (median
    #: of the days between their purchases; ``None`` with fewer than two purchases).
    last_purchase_at: str | None = None
    purchase_interval_median_days: float | None = None
    #: identify / develop / stable / decline (audiences.lifecycle), ``None`` before the
    #: first metrics rebuild.
    lifecycle_stage: str | None = None
    #: Points balance as of ``as_of`` (db.crud.points).
    points_balance: int = 0
    #: 智能回访 (engine.contact_policy.recency) as of ``as_of``: the last contact (ISO
    #: instant, channel; ``None``: never contacted) and the contacts in the last 7 / 30
    #: days — messages sent and guide contacts completed, across every journey.
    last_contacted_at: str | None = None
    last_contacted_channel: str | None = None
    contacts_7d: int = 0
    contacts_30d: int = 0
    #: The stored customer metrics (engine.metrics.STORED_METRICS) by name: ``None`` where
    #: the customer has no value (absent: the customer has no metrics row yet).
    metrics: dict[str, float | int | None] = field(default_factory=dict)


# ------------------------------------------------------------------ side effects


@dataclass
class NodeVisit:
    """One finished node visit, for the per-step funnel (``node_visit`` rows).

    ``port`` is the output taken; ``None`` when the run ended at the node (an exit, a goal
    or a stop while waiting there, the visit limit).
    """

    node_id: str
    visit: int
    port: str | None
    at: str


@dataclass
class RunRecord:
    """The run's state as the database keeps it for lists and dashboards.

    ``visits``: the node visits finished since the run's last record (release
    ``journey-node-visits``; empty before it), written by the same group commit;
    ``enrollment_id`` tells a re-entry's visits from an earlier entry's.
    """

    workflow_id: str
    journey_id: str
    journey_version: int
    customer_id: str
    status: str  # "running" | "exited" | "stopped" | "failed"
    current_node: str | None = None
    exit_reason: str | None = None
    goal_reached: bool = False
    at: str = ""
    enrollment_id: str = ""
    visits: list[NodeVisit] = field(default_factory=list)
    #: split node id -> variant taken so far in this run (empty before SEMANTICS_V4).
    variants: dict[str, str] = field(default_factory=dict)
    #: the version the run just left (its first record after a move to ``journey_version``,
    #: issue 17): the run's row follows it to the new version; None on every other record
    moved_from: int | None = None


#: Read the customer's profile, counts, coupons and segment membership (a local activity).
LOAD_FACTS: Effect[FactsRequest, CustomerFacts] = Effect(
    "load_facts", FactsRequest, CustomerFacts, local=True
)
#: Upsert the run's row for lists and dashboards (a local activity).
RECORD_RUN: Effect[RunRecord, None] = Effect("record_run", RunRecord, type(None), local=True)

"""The side-effect activities of a journey run, one method per effect.

Dependencies are injected (samples-python ``hello_activity_method``): a session factory,
settings, an ``httpx.Client`` for webhooks and a message-provider registry, plus a clock so
tests can pin time. Each method is registered under the name of the effect it implements
(:data:`engine.kinds.EFFECTS`: ``issue_coupon`` is ``send_coupon``'s ``ISSUE_COUPON``), and
workflows call it by that name through ``TemporalRuntime.effect`` — a new kind's effect adds
its method here and to :func:`all_activities`.

Every method is idempotent. The database work is synchronous SQLAlchemy, so each method is
``async`` and hands that work to a thread: the worker's event loop never blocks and no
activity executor needs configuring. Permanent business failures are raised as
``ApplicationError(type=<engine.effects failure>, non_retryable=True)``; anything else
(database locked, webhook 5xx) is an ordinary exception that Temporal retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities import facts, messaging, tasks
from activities._time import effect_time, iso, parse_instant
from activities.channels import ChannelSettings, build_providers
from activities.contact_batch import ContactChecks
from activities.errors import INVALID_REQUEST, business_failure
from activities.guide_notices import GuideNoticePusher, guide_notice_pusher
from activities.providers import (
    AwaitingReportError,
    MessageProvider,
    OutboxProvider,
    ProviderRegistry,
    ThrottledError,
)
from activities.run_recorder import RunRecorder
from db import crud
from db.crud import RunReport
from db.crud import contact_policy as policy_crud
from db.crud import points as points_crud
from db.crud.visits import VisitReport
from db.errors import CouponStockExhaustedError, CouponTemplateInactiveError, NotFoundError
from db.models import utcnow
from db.session import session_factory, write_session_factory
from engine.contact_policy import ALLOW, PolicyCheckRequest, PolicyDecision, denied_result
from engine.effects import (
    COUPON_STOCK_EXHAUSTED,
    CUSTOMER_NOT_FOUND,
    UNKNOWN_COUPON_TEMPLATE,
    CouponIssued,
    CreateTaskRequest,
    CustomerFacts,
    CustomerUpdated,
    EffectContext,
    FactsRequest,
    IssueCouponRequest,
    MessageSent,
    RunRecord,
    SendMessageRequest,
    TaskCreated,
    TaskNoticeRequest,
    TaskNoticeResult,
    UpdateCustomerRequest,
)
from engine.kinds.award_points import AwardPointsRequest, PointsAwarded, pack_failure, pack_key
from settings import Settings

WEBHOOK_TIMEOUT_SECONDS = 10.0
_T = TypeVar("_T")


class JourneyActivities:
    """All journey activities, bound to one database and one set of providers."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        settings: Settings,
        http_client: httpx.Client | None = None,
        providers: ProviderRegistry | None = None,
        channels: ChannelSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
        notices: GuideNoticePusher | None = None,
    ) -> None:
        self._reads = sessions
        # every side effect reads (its idempotency key) before it writes: take the write
        # lock up front (see db.session.write_session_factory)
        self._sessions = write_session_factory(sessions.kw["bind"])
        self._runs = RunRecorder(self._sessions)
        self._settings = settings
        self._http = http_client or httpx.Client(timeout=WEBHOOK_TIMEOUT_SECONDS)
        # channel -> provider (activities.channels.build_providers reads the environment
        # unless ``channels`` is given; a bad configuration raises ProviderConfigError)
        self._providers = (
            providers
            if providers is not None
            else build_providers(
                webhook_secret=settings.webhook_secret,
                http=self._http,
                sessions=self._sessions,
                channels=channels,
            )
        )
        self._now = clock
        # checks waiting at once share one write transaction (activities.contact_batch)
        self._contact_checks = ContactChecks(
            reads=self._reads, writes=self._sessions, default_zone=settings.timezone
        )
        # task notices pushed to the guide's WeCom after their commit (recorded without WeCom)
        self._notices = notices or guide_notice_pusher(
            sessions=self._sessions, reads=self._reads, http=self._http, clock=clock
        )

    @classmethod
    def from_engine(cls, engine: Engine, settings: Settings, **kwargs: Any) -> JourneyActivities:
        """Build from an engine (the worker's usual entry point)."""
        return cls(sessions=session_factory(engine), settings=settings, **kwargs)

    # ------------------------------------------------------------------ reads

    @activity.defn
    async def load_facts(self, request: FactsRequest) -> CustomerFacts:
        """Customer profile, event counts and coupon states as of ``request.as_of``.

        Read-only and fast: meant to run as a *local* activity.
        """
        return await asyncio.to_thread(self._read, facts.load_facts, request)

    # ------------------------------------------------------------------ contact policy

    @activity.defn
    async def check_contact_policy(self, request: PolicyCheckRequest) -> PolicyDecision:
        """May this action contact the customer now (quiet hours, frequency caps)? Decided
        and recorded in the contact ledger atomically per customer, once per decision key
        (a *local* activity; see db.crud.contact_policy). Runs of release
        ``journey-contact-in-effect`` carry the check on the action's request instead
        (:meth:`_held_back`)."""
        return await self._decide(request)

    async def _held_back(self, check: PolicyCheckRequest | None) -> PolicyDecision | None:
        """The action's own contact check, decided before it acts: ``None`` when it may go
        out (or carries no check), else the policy's answer (the action then does nothing
        and answers ``denied``)."""
        if check is None:
            return None
        decision = await self._decide(check)
        return None if decision.outcome == ALLOW else decision

    async def _decide(self, request: PolicyCheckRequest) -> PolicyDecision:
        return await self._contact_checks.decide(self._contact_check(request))

    def _contact_check(self, request: PolicyCheckRequest) -> policy_crud.ContactCheck:
        ctx = request.ctx
        return policy_crud.ContactCheck(
            decision_key=request.key,
            customer_id=ctx.customer_id,
            channel=request.channel,
            category=request.category,
            at=effect_time(ctx, self._now),
            journey_id=ctx.journey_id,
            node_id=ctx.node_id,
            workflow_id=ctx.workflow_id,
        )

    async def _uncounted_if_refused(self, ctx: EffectContext, work: Awaitable[_T]) -> _T:
        """``work``; when it fails for good (a business failure: opted out, no such customer,
        a refused number, no stock), the contact the policy counted for this visit is taken
        back (``void``): a message that never went out uses up no cap and is no contact."""
        try:
            return await work
        except ApplicationError as exc:
            if exc.non_retryable:
                await asyncio.to_thread(self._void_contacts, ctx.idempotency_key)
            raise

    def _void_contacts(self, idempotency_key: str) -> None:
        with self._sessions() as session:
            policy_crud.void_contacts(session=session, idempotency_key=idempotency_key)

    # ------------------------------------------------------------------ side effects

    @activity.defn
    async def issue_coupon(self, request: IssueCouponRequest) -> CouponIssued:
        """Issue one coupon, exactly once per idempotency key, never beyond stock."""
        if (held := await self._held_back(request.policy)) is not None:
            return denied_result(CouponIssued, held)
        issued = await self._uncounted_if_refused(
            request.ctx, asyncio.to_thread(self._issue_coupon, request)
        )
        await self._then_record(request.then_record)
        return issued

    def _issue_coupon(
        self, request: IssueCouponRequest, idempotency_key: str | None = None
    ) -> CouponIssued:
        ctx = request.ctx
        with self._sessions() as session:
            try:
                coupon, _created = crud.issue_coupon(
                    session=session,
                    template_id=request.coupon_template_id,
                    customer_id=ctx.customer_id,
                    idempotency_key=idempotency_key or ctx.idempotency_key,
                    issued_at=effect_time(ctx, self._now),
                    journey_id=ctx.journey_id,
                    node_id=ctx.node_id,
                    workflow_id=ctx.workflow_id,
                )
            except CouponStockExhaustedError as exc:
                raise business_failure(COUPON_STOCK_EXHAUSTED, str(exc)) from exc
            except CouponTemplateInactiveError as exc:
                raise business_failure(UNKNOWN_COUPON_TEMPLATE, str(exc)) from exc
            except NotFoundError as exc:
                kind = CUSTOMER_NOT_FOUND if exc.entity == "customer" else UNKNOWN_COUPON_TEMPLATE
                raise business_failure(kind, str(exc)) from exc
            template = crud.get_coupon_template(session=session, template_id=coupon.template_id)
            return CouponIssued(
                coupon_id=coupon.id,
                code=coupon.code,
                template_id=coupon.template_id,
                face_value=template.face_value if template else 0.0,
                min_spend=template.min_spend if template else 0.0,
                issued_at=iso(coupon.issued_at),
                expires_at=iso(coupon.expires_at),
            )

    @activity.defn
    async def award_points(self, request: AwardPointsRequest) -> PointsAwarded:
        """Add points to the customer's ledger and issue the benefit pack's coupons, each
        exactly once per visit (the points by the visit's key, a pack coupon by
        ``<key>:<template id>``). A pack coupon that cannot be issued is a business failure
        after the points were awarded: they stay, and the same visit run again completes
        the pack without awarding them twice (see engine/kinds/award_points.py)."""
        awarded = await asyncio.to_thread(self._award_points, request)
        await self._then_record(request.then_record)
        return awarded

    def _award_points(self, request: AwardPointsRequest) -> PointsAwarded:
        ctx = request.ctx
        at = effect_time(ctx, self._now)
        with self._sessions() as session:
            try:
                row, _created = points_crud.award_points(
                    session=session,
                    customer_id=ctx.customer_id,
                    points=request.points,
                    idempotency_key=ctx.idempotency_key,
                    created_at=at,
                    expires_at=(
                        at + timedelta(days=request.expires_in_days)
                        if request.expires_in_days
                        else None
                    ),
                    reason=request.reason or "journey",
                    journey_id=ctx.journey_id,
                    node_id=ctx.node_id,
                    workflow_id=ctx.workflow_id,
                )
            except NotFoundError as exc:
                raise business_failure(CUSTOMER_NOT_FOUND, str(exc)) from exc
            except ValueError as exc:  # 0 points: the compiler refuses it, a caller bug
                raise business_failure(INVALID_REQUEST, str(exc)) from exc
            # as of the visit's time, from the first award's row (a retry answers the same)
            balance = points_crud.points_balance(
                session=session, customer_id=ctx.customer_id, as_of=row.created_at
            )
        awarded = PointsAwarded(
            points=row.delta,
            balance=balance,
            awarded_at=iso(row.created_at),
            expires_at=iso(row.expires_at) if row.expires_at else None,
            entry_id=str(row.id),
        )
        for template_id in request.coupon_template_ids:
            one = IssueCouponRequest(ctx=ctx, coupon_template_id=template_id)
            try:
                awarded.coupons.append(
                    self._issue_coupon(one, pack_key(ctx.idempotency_key, template_id))
                )
            except ApplicationError as exc:
                raise business_failure(
                    exc.type or UNKNOWN_COUPON_TEMPLATE,
                    pack_failure(awarded, template_id, exc.message),
                ) from exc
        return awarded

    @activity.defn
    async def send_message(self, request: SendMessageRequest) -> MessageSent:
        """Render and send one message through the channel's provider, exactly once; its
        contact check (``request.policy``) is decided in the same write transaction as its
        outbox row (``messaging.send_message``)."""
        provider = self._provider_for(request.channel)
        check = self._contact_check(request.policy) if request.policy is not None else None
        try:
            sent = await self._uncounted_if_refused(
                request.ctx,
                asyncio.to_thread(
                    messaging.send_message,
                    self._sessions,
                    provider,
                    request,
                    self._now,
                    check=check,
                    default_zone=self._settings.timezone,
                ),
            )
        except ThrottledError as exc:
            # the provider said "too fast": come back after its pause, not the next backoff
            raise ApplicationError(
                str(exc),
                type="ProviderThrottled",
                next_retry_delay=timedelta(seconds=max(exc.retry_after, 1.0)),
            ) from exc
        except AwaitingReportError as exc:
            # an earlier attempt may have got through and its report is not in yet: ask
            # again after the pause (sending now could send it twice)
            raise ApplicationError(
                str(exc),
                type="DeliveryAwaitingReport",
                next_retry_delay=timedelta(seconds=max(exc.retry_after, 1.0)),
            ) from exc
        if sent.denied is None:  # held back: the run goes on (no end to record)
            await self._then_record(request.then_record)
        return sent

    def _provider_for(self, channel: str) -> MessageProvider:
        """The channel's provider (activities.channels.build_providers); a channel it does
        not know stays in the outbox."""
        provider = self._providers.get(channel)
        if provider is None:
            return self._providers.get("outbox") or OutboxProvider()
        return provider

    @activity.defn
    async def create_task(self, request: CreateTaskRequest) -> TaskCreated:
        """Create a guide task for the bound guide (fallback: store manager), once."""
        if (held := await self._held_back(request.policy)) is not None:
            return denied_result(TaskCreated, held)
        at = effect_time(request.ctx, self._now)
        created: TaskCreated = await self._uncounted_if_refused(
            request.ctx, asyncio.to_thread(self._in_session, tasks.create_task, request, at)
        )
        await self._push_notices(created.task_id)
        return created

    @activity.defn
    async def task_notice(self, request: TaskNoticeRequest) -> TaskNoticeResult:
        """Remind, escalate or expire a task, once per key; nothing for closed tasks."""
        done: TaskNoticeResult = await asyncio.to_thread(
            self._in_session, tasks.task_notice, request, self._now()
        )
        await self._push_notices(request.task_id)
        return done

    async def _push_notices(self, task_id: str) -> None:
        """Push the task's new notices now; what fails stays due for the worker's sweep
        (activities.guide_notices), so the activity itself never fails over a push."""
        try:
            await asyncio.to_thread(self._notices.push_task, task_id)
        except Exception:
            activity.logger.warning("task %s: notices left to the sweep", task_id, exc_info=True)

    @activity.defn
    async def update_customer(self, request: UpdateCustomerRequest) -> CustomerUpdated:
        """Add/remove tags and set attributes (set semantics: repeating changes nothing)."""
        updated = await asyncio.to_thread(self._update_customer, request)
        await self._then_record(request.then_record)
        return updated

    def _update_customer(self, request: UpdateCustomerRequest) -> CustomerUpdated:
        with self._sessions() as session:
            try:
                customer = crud.update_tags(
                    session=session,
                    customer_id=request.ctx.customer_id,
                    add=request.add_tags,
                    remove=request.remove_tags,
                    set_attributes=request.set_attributes,
                )
            except NotFoundError as exc:
                raise business_failure(CUSTOMER_NOT_FOUND, str(exc)) from exc
            return CustomerUpdated(
                customer_id=customer.id,
                tags=list(customer.tags),
                attributes=dict(customer.attributes),
            )

    @activity.defn
    async def record_run(self, record: RunRecord) -> None:
        """Upsert the run row of ``record.workflow_id`` (a *local* activity; reports from
        concurrent runs are group-committed, see :mod:`activities.run_recorder`)."""
        await self._then_record(record)

    async def _then_record(self, record: RunRecord | None) -> None:
        """Record a run's state (also the end a side effect carries when an exit follows
        it: idempotent, so a retried effect records it again harmlessly)."""
        if record is None:
            return
        report = RunReport(
            workflow_id=record.workflow_id,
            journey_id=record.journey_id,
            journey_version=record.journey_version,
            customer_id=record.customer_id,
            status=record.status,
            current_node=record.current_node,
            exit_reason=record.exit_reason,
            goal_reached=record.goal_reached,
            at=parse_instant(record.at) if record.at else self._now(),
            enrollment_id=record.enrollment_id,
            visits=tuple(
                VisitReport(v.node_id, v.visit, v.port, parse_instant(v.at)) for v in record.visits
            ),
            variants=tuple(sorted(record.variants.items())),
            moved_from=record.moved_from,
        )
        await asyncio.wrap_future(self._runs.submit(report))

    # ------------------------------------------------------------------ plumbing

    def _in_session(self, work: Callable[..., Any], *args: Any) -> Any:
        with self._sessions() as session:
            return work(session, *args)

    def _read(self, work: Callable[..., Any], *args: Any) -> Any:
        with self._reads() as session:
            return work(session, *args)


def all_activities(instance: JourneyActivities) -> list[Callable[..., Any]]:
    """The bound activity methods of ``instance``, for ``Worker(activities=...)``."""
    return [
        instance.load_facts,
        instance.check_contact_policy,
        instance.issue_coupon,
        instance.award_points,
        instance.send_message,
        instance.create_task,
        instance.task_notice,
        instance.update_customer,
        instance.record_run,
    ]

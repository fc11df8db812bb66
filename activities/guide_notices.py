"""Guide task notices pushed to the guide's phone as WeCom app messages.

A notice row (``task_notice``) is written ``pending`` with the decision it reports: a task
created (``created``, by ``create_task``), reminded, escalated (``task_notice``) or chased
(一键催办, a web request). Nothing is pushed inside those transactions: after the commit,

* the activity that wrote it pushes it at once (:meth:`GuideNoticePusher.push_task`), and
* the worker's sweep (:class:`NoticeSweep`, every few seconds) pushes whatever is still due:
  chases from the web app, pushes that failed transiently (retried with backoff), and
  notices whose sender died mid-push (its claim's lease ran out).

Each push first claims the row (``db.crud.notice_push``): two senders never both push it;
WeCom's duplicate check (same member, same text, within ``duplicate_check_seconds``) also
drops the one repeat a crash between "WeCom took it" and "stored as sent" could cause.

Without WeCom configured (:class:`~activities.channels.wecom.WeComSettings`), a notice is
marked ``recorded`` — it stays in the database as before, and ``make run`` needs no
credentials. Expired and cancelled notices are recorded, not pushed: the guide's list
already drops those tasks.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session

from activities.channels.ratelimit import SendRateLimiter
from activities.channels.wecom import WeComClient, WeComSettings
from activities.providers import MessageRejectedError, ThrottledError
from db.crud import notice_push
from db.crud._util import aware
from db.models import Customer, Guide, GuideTask, Store, TaskNotice, utcnow

log = logging.getLogger(__name__)

#: The rate bucket of app messages to guides (apart from the customer-message bucket).
APP_PROVIDER = "wecom_app"
#: Notice kinds that reach the guide's phone; the others are only recorded.
PUSHED_KINDS = ("created", "reminder", "escalation", "chase")
#: How long a claimed notice is held before another sender may take it.
LEASE = timedelta(minutes=2)
#: Transient failures are retried this many times (backoff doubles from RETRY_BASE).
MAX_ATTEMPTS = 8
RETRY_BASE = timedelta(seconds=15)


class AppMessenger(Protocol):
    """Sends one text app message to a WeCom member; → the platform's message id."""

    def send_app_text(self, *, userid: str, content: str) -> str: ...


@dataclass
class PushResult:
    sent: int = 0
    recorded: int = 0
    failed: int = 0
    retrying: int = 0


class GuideNoticePusher:
    """Pushes due notices through ``messenger`` (``None``: WeCom is not configured)."""

    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        messenger: AppMessenger | None,
        reads: sessionmaker[Session] | None = None,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = LEASE,
    ) -> None:
        self._sessions = sessions
        # finding due notices only reads: no need to queue for SQLite's write lock
        self._reads = reads or sessions
        self._messenger = messenger
        self._now = clock
        self._lease = lease

    def push_task(self, task_id: str) -> PushResult:
        """Push the due notices of ``task_id`` (right after the activity's commit)."""
        return self._push(task_id=task_id, limit=20)

    def push_due(self, limit: int = 100) -> PushResult:
        """Push every notice due now (the sweep)."""
        return self._push(task_id=None, limit=limit)

    def _push(self, *, task_id: str | None, limit: int) -> PushResult:
        result = PushResult()
        if self._messenger is None:
            # nothing to push: the sweep records them in one statement; an activity adds
            # no write of its own
            if task_id is None and self._any_due():  # the write lock only when needed
                with self._sessions() as session:
                    result.recorded = notice_push.record_all_pending(
                        session=session, detail="WeCom is not configured", limit=limit
                    )
            return result
        with self._reads() as session:
            ids = notice_push.due_notice_ids(
                session=session, now=self._now(), task_id=task_id, limit=limit
            )
        for notice_id in ids:
            self._push_one(notice_id, result)
        return result

    def _any_due(self) -> bool:
        with self._reads() as session:
            return bool(notice_push.due_notice_ids(session=session, now=self._now(), limit=1))

    def _push_one(self, notice_id: int, result: PushResult) -> None:
        now = self._now()
        with self._sessions() as session:
            if not notice_push.claim_notice(
                session=session, notice_id=notice_id, now=now, lease=self._lease
            ):
                return
            notice = session.get(TaskNotice, notice_id)
            if notice is None:
                return
            attempts = notice.push_attempts
            try:
                userid, text = self._compose(session, notice)
            except MessageRejectedError as exc:
                self._finish(session, notice_id, "failed", exc.reason)
                result.failed += 1
                return
            session.commit()  # end the read before the network call
        messenger = self._messenger
        if userid is None or messenger is None:
            with self._sessions() as session:
                self._finish(session, notice_id, "recorded", text)
            result.recorded += 1
            return
        try:
            msgid = messenger.send_app_text(userid=userid, content=text)
        except MessageRejectedError as exc:
            with self._sessions() as session:
                self._finish(session, notice_id, "failed", exc.reason)
            result.failed += 1
            return
        except Exception as exc:  # transient: WeCom away, throttled, 5xx
            detail = f"{type(exc).__name__}: {exc}"
            with self._sessions() as session:
                if attempts >= MAX_ATTEMPTS:
                    self._finish(session, notice_id, "failed", f"gave up: {detail}")
                    result.failed += 1
                else:
                    retry_at = self._now() + RETRY_BASE * (2 ** (attempts - 1))
                    notice_push.finish_push(
                        session=session,
                        notice_id=notice_id,
                        status="pending",
                        at=self._now(),
                        detail=detail,
                        retry_at=retry_at,
                    )
                    result.retrying += 1
            log.warning("guide notice %s not pushed yet: %s", notice_id, detail)
            return
        with self._sessions() as session:
            self._finish(session, notice_id, "sent", "", message_id=msgid)
        result.sent += 1

    def _finish(
        self,
        session: Session,
        notice_id: int,
        status: str,
        detail: str,
        *,
        message_id: str | None = None,
    ) -> None:
        notice_push.finish_push(
            session=session,
            notice_id=notice_id,
            status=status,
            at=self._now(),
            detail=detail,
            message_id=message_id,
        )

    def _compose(self, session: Session, notice: TaskNotice) -> tuple[str | None, str]:
        """(the WeCom userid to push to — ``None``: only record —, the text or the reason
        it is only recorded)."""
        if notice.kind not in PUSHED_KINDS:
            return None, f"{notice.kind} notices are recorded, not pushed"
        if self._messenger is None:
            return None, "WeCom is not configured"
        guide = session.get(Guide, notice.to_guide_id) if notice.to_guide_id else None
        if guide is None:
            raise MessageRejectedError(f"the notice's guide {notice.to_guide_id} does not exist")
        if not guide.wecom_userid:
            raise MessageRejectedError(f"guide {guide.id} has no WeCom userid")
        task = session.get(GuideTask, notice.task_id)
        if task is None:
            raise MessageRejectedError(f"task {notice.task_id} does not exist")
        if task.status != "open":
            return None, f"the task is {task.status}: nothing to push"
        return guide.wecom_userid, notice_text(session, notice, task)


def notice_text(session: Session, notice: TaskNotice, task: GuideTask) -> str:
    """The words the guide reads on the phone (Chinese: the guides' language)."""
    customer = session.get(Customer, task.customer_id)
    who = customer.name if customer is not None else task.customer_id
    store = session.get(Store, task.store_id) if task.store_id else None
    zone = ZoneInfo(store.timezone if store is not None else "Asia/Shanghai")
    due_at = aware(task.due_at)
    due = due_at.astimezone(zone).strftime("%m-%d %H:%M") if due_at else ""
    if notice.kind == "created":
        lines = [f"【新任务】{task.title}", f"客户：{who}", f"截止：{due}"]
        if task.instructions:
            lines.append(task.instructions[:300])
    elif notice.kind == "reminder":
        lines = [f"【任务提醒】{task.title}", f"客户 {who} 的任务将于 {due} 到期，请尽快跟进。"]
    elif notice.kind == "escalation":
        owner = session.get(Guide, task.guide_id)
        lines = [
            f"【任务升级】{task.title}",
            f"{owner.name if owner else task.guide_id} 负责的客户 {who} 的任务已到期未完成"
            f"（截止 {due}），请跟进。",
        ]
    else:  # chase
        lines = [f"【催办】{task.title}", f"请尽快完成客户 {who} 的任务（截止 {due}）。"]
    lines.append("打开导购工作台处理。")
    return "\n".join(lines)


class RateLimitedMessenger:
    """``messenger`` behind the shared rate bucket of ``limiter`` (every worker's pushes
    count against one rate; a throttling answer holds them all back)."""

    def __init__(self, messenger: AppMessenger, limiter: SendRateLimiter) -> None:
        self._messenger = messenger
        self._limiter = limiter

    def send_app_text(self, *, userid: str, content: str) -> str:
        self._limiter.acquire()
        try:
            return self._messenger.send_app_text(userid=userid, content=content)
        except ThrottledError as exc:
            self._limiter.hold_back(exc.retry_after)
            raise


def guide_notice_pusher(
    *,
    sessions: sessionmaker[Session],
    reads: sessionmaker[Session] | None = None,
    http: httpx.Client | None = None,
    clock: Callable[[], datetime] = utcnow,
    wecom: WeComSettings | None = None,
) -> GuideNoticePusher:
    """The pusher the environment configures: WeCom app messages when
    ``JOURNEYS_WECOM_CORP_ID``, ``_SECRET`` and ``_AGENT_ID`` are set, else recording only."""
    wecom = wecom or WeComSettings()
    messenger: AppMessenger | None = None
    if wecom.app_configured:
        limiter = SendRateLimiter(sessions, APP_PROVIDER, wecom.rate_per_second)
        messenger = RateLimitedMessenger(WeComClient(wecom, http), limiter)
    return GuideNoticePusher(sessions=sessions, reads=reads, messenger=messenger, clock=clock)


class NoticeSweep:
    """Runs :meth:`GuideNoticePusher.push_due` every ``interval`` seconds (in the worker
    process), in a thread so the event loop never blocks; and ``receipts`` (asking WeCom
    about its group messages, ``activities.channels.wecom_receipts``) every
    ``receipts_every`` rounds."""

    def __init__(
        self,
        pusher: GuideNoticePusher,
        *,
        interval: float = 3.0,
        receipts: Callable[[], int] | None = None,
        receipts_every: int = 20,
    ) -> None:
        self._pusher = pusher
        self._interval = interval
        self._receipts = receipts
        self._receipts_every = receipts_every

    async def run(self) -> None:
        rounds = 0
        while True:
            await self._guarded(self._pusher.push_due)
            if self._receipts is not None and rounds % self._receipts_every == 0:
                await self._guarded(self._receipts)
            rounds += 1
            await asyncio.sleep(self._interval)

    async def _guarded(self, job: Callable[[], object]) -> None:
        try:
            await asyncio.to_thread(job)
        except Exception:  # a database or network hiccup must not end the sweep
            log.exception("guide notice sweep: %s failed; next round in %.0fs", job, self._interval)

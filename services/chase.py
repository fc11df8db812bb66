"""一键催办: which open tasks a chase reaches, and the chase itself.

A chase reminds the guides of the open tasks of a journey, a region, a store or a guide,
within the actor's scope (a store manager chases only their store; only HQ a whole region).
By default it reaches the tasks that need doing now: overdue or due today in their store's
time zone; those due later are left out unless asked for. A task chased within the last
:data:`COOLDOWN` is skipped, so two clicks (or two managers) do not remind a guide twice.
:func:`plan` says all of this before anything is sent (the dashboard's confirmation);
:func:`chase` sends it and records who chased whom and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from db import crud
from db.errors import InvalidStatusError, NotFoundError
from db.models import GuideTask, TaskChase
from services.accounts import Principal
from services.tasks import ForbiddenError, store_zone

#: A task chased this recently is not chased again.
COOLDOWN = timedelta(hours=1)
CHASE_SCOPES = ("journey", "region", "store", "guide")


@dataclass(frozen=True)
class ChasePlan:
    """What a chase of ``scope``/``scope_id`` would do now."""

    scope: str
    scope_id: str
    #: the scope as people read it: the journey's, region's, store's or guide's name
    scope_name: str
    #: the tasks it reminds (open, due today or overdue unless ``include_not_due``, not
    #: chased within the cool-down)
    tasks: list[GuideTask]
    #: open tasks it skips because they were chased within the cool-down
    recently_chased: int
    #: open tasks due after today, left out (0 when ``include_not_due``)
    not_due: int
    include_not_due: bool
    #: open tasks due after today in the scope, whether left out or not (to offer them)
    later: int = 0

    @property
    def count(self) -> int:
        """How many tasks the chase reminds."""
        return len(self.tasks)


@dataclass(frozen=True)
class ChaseResult:
    """A chase done: ``chase`` is None when there was nothing to chase (nothing recorded)."""

    chase: TaskChase | None
    chased: int
    recently_chased: int
    not_due: int
    guides: list[str] = field(default_factory=list)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _scope(
    session: Session, actor: Principal, scope: str, scope_id: str
) -> tuple[str, dict[str, str | list[str]]]:
    """The scope's name and the task filters it stands for; refuses what the actor may not
    chase (NotFound for what they cannot see, Forbidden for what their role cannot do)."""
    if scope not in CHASE_SCOPES:
        raise InvalidStatusError("chase scope", scope, CHASE_SCOPES)
    if actor.role == "guide":
        raise ForbiddenError("guides cannot chase")
    if scope == "journey":
        journey = crud.get_journey(session=session, journey_id=scope_id)
        if journey is None:
            raise NotFoundError("journey", scope_id)
        return journey.name, {"journey_id": scope_id}
    if scope == "region":
        if not actor.sees_everything:
            raise ForbiddenError("only HQ can chase a whole region")
        region = next((r for r in crud.list_regions(session=session) if r.id == scope_id), None)
        if region is None:
            raise NotFoundError("region", scope_id)
        stores = [s.id for s in crud.list_stores(session=session, region_id=scope_id)]
        return region.name, {"store_ids": stores}
    if scope == "store":
        store = crud.get_store(session=session, store_id=scope_id)
        if store is None or not actor.can_manage_store(scope_id):
            raise NotFoundError("store", scope_id)
        return store.name, {"store_id": scope_id}
    guide = crud.get_guide(session=session, guide_id=scope_id)
    if guide is None or not actor.can_manage_store(guide.store_id):
        raise NotFoundError("guide", scope_id)
    return guide.name, {"guide_id": scope_id}


def plan(
    *,
    session: Session,
    actor: Principal,
    scope: str,
    scope_id: str,
    include_not_due: bool = False,
    now: datetime | None = None,
) -> ChasePlan:
    """What chasing ``scope_id`` would do now (nothing is sent)."""
    now = now or datetime.now(UTC)
    name, filters = _scope(session, actor, scope, scope_id)
    store_id = filters.get("store_id")
    if actor.role == "store_manager":
        # a manager's journey chase reaches their store's tasks only
        store_id = actor.store_id
    store_ids = filters.get("store_ids")
    open_tasks = crud.list_tasks(
        session=session,
        status="open",
        journey_id=_one(filters.get("journey_id")),
        store_id=_one(store_id),
        store_ids=list(store_ids) if isinstance(store_ids, list) else None,
        guide_id=_one(filters.get("guide_id")),
        limit=None,
    )
    zones: dict[str | None, ZoneInfo] = {}

    def due_by_today(task: GuideTask) -> bool:
        if task.store_id not in zones:
            zones[task.store_id] = store_zone(session, task.store_id)
        zone = zones[task.store_id]
        return _aware(task.due_at).astimezone(zone).date() <= now.astimezone(zone).date()

    later = [t for t in open_tasks if not due_by_today(t)]
    wanted = open_tasks if include_not_due else [t for t in open_tasks if due_by_today(t)]
    recent = [t for t in wanted if t.last_chased_at and now - _aware(t.last_chased_at) < COOLDOWN]
    return ChasePlan(
        scope=scope,
        scope_id=scope_id,
        scope_name=name,
        tasks=[t for t in wanted if t not in recent],
        recently_chased=len(recent),
        not_due=0 if include_not_due else len(later),
        include_not_due=include_not_due,
        later=len(later),
    )


def _one(value: str | list[str] | None) -> str | None:
    return value if isinstance(value, str) else None


def chase(
    *,
    session: Session,
    actor: Principal,
    scope: str,
    scope_id: str,
    include_not_due: bool = False,
    now: datetime | None = None,
) -> ChaseResult:
    """Remind the guides of the tasks :func:`plan` names, one ``chase`` notice per task,
    and record the chase (nothing is recorded when there is nothing to chase)."""
    now = now or datetime.now(UTC)
    todo = plan(
        session=session,
        actor=actor,
        scope=scope,
        scope_id=scope_id,
        include_not_due=include_not_due,
        now=now,
    )
    if not todo.tasks:
        return ChaseResult(None, 0, todo.recently_chased, todo.not_due)
    done = crud.chase_tasks(
        session=session,
        tasks=todo.tasks,
        by_user=actor.username,
        scope=scope,
        scope_id=scope_id,
        at=now,
    )
    return ChaseResult(
        done, done.tasks_chased, todo.recently_chased, todo.not_due, list(done.guides_chased)
    )

"""The backtest's history, read in bulk: one query per table for all customers at once.

Who: the customers who entered a version in a period (their real entry moments), or the
members of a saved segment (entering at the period's start). What they did: their events
from :data:`LOOKBACK` before the period to the end of history, their orders, the guide
task outcomes recorded in this journey and, when the contact policy has caps, their
earlier contacts; every order up to the horizon for the stored metrics as of each moment
(engine.metrics). No per-customer query: a customer set is a subquery every read joins.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, select
from sqlmodel import Session, col

from db.models import Customer, CustomerEvent, GuideTask, JourneyRun, Order
from db.models.contact_policy import ContactLedgerEntry
from engine.contact_policy import Contact
from engine.effects import CustomerFacts
from engine.ir import BranchStep, CompiledJourney, MetricCond
from engine.kinds.wait_purchase_cycle import WaitPurchaseCycleStep
from engine.metrics import METRICS, Purchase
from services.backtest_sim import CustomerCase, Entry

#: how far before the period events are read (what "browsed 3 times in 30 days" counts)
LOOKBACK = timedelta(days=90)
#: customers read (and handed to the simulation) at a time: their ids are the page's
#: queries' ``IN`` list (an index probe per customer; SQLite takes 32,766 parameters)
PAGE = 5_000
#: an entry event is the trigger-type event recorded at most this long before the entry
ENTRY_EVENT_SLACK = timedelta(minutes=10)


@dataclass(frozen=True)
class Population:
    """Who to backtest: ``version``'s entries in [start, end), or ``segment`` members."""

    journey_id: str
    start: datetime
    end: datetime
    version: int | None = None
    segment_select: Select[Any] | None = None  # SELECT customer.id … (a compiled segment)


def _ids(pop: Population) -> Select[Any]:
    if pop.segment_select is not None:
        return pop.segment_select
    return select(col(JourneyRun.customer_id)).where(*_run_filter(pop))


def _run_filter(pop: Population) -> list[Any]:
    return [
        col(JourneyRun.journey_id) == pop.journey_id,
        col(JourneyRun.journey_version) == pop.version,
        col(JourneyRun.entered_at) >= pop.start,
        col(JourneyRun.entered_at) < pop.end,
    ]


def reads_stored_metrics(journeys: Iterable[CompiledJourney]) -> bool:
    """Whether a run of ``journeys`` can read a stored metric (engine.metrics): a branch
    comparing one, or the purchase-cycle wait. Only then does the backtest read every
    order up to the horizon (a year of a chain's orders costs a third more load time)."""
    for journey in journeys:
        for step in journey.steps:
            if isinstance(step, WaitPurchaseCycleStep):
                return True
            if isinstance(step, BranchStep) and any(
                isinstance(c, MetricCond) and c.field in METRICS and METRICS[c.field].stored
                for rule in step.rules
                for c in rule.conditions
            ):
                return True
    return False


def count_entries(*, session: Session, pop: Population) -> int:
    """How many entries (or segment members) the backtest would run."""
    from sqlalchemy import func

    if pop.segment_select is not None:
        sub = pop.segment_select.subquery()
        return int(session.execute(select(func.count()).select_from(sub)).scalar_one())
    return int(
        session.execute(
            select(func.count()).select_from(JourneyRun).where(*_run_filter(pop))
        ).scalar_one()
    )


def first_entry(*, session: Session, journey_id: str, version: int) -> datetime | None:
    """When ``version`` took in its first customer (to explain an empty period)."""
    from sqlalchemy import func

    return session.execute(
        select(func.min(JourneyRun.entered_at)).where(
            col(JourneyRun.journey_id) == journey_id, col(JourneyRun.journey_version) == version
        )
    ).scalar_one()


def load_cases(
    *,
    session: Session,
    pop: Population,
    horizon: datetime,
    entry_event_type: str | None,
    contacts_since: timedelta | None,
    with_purchases: bool = True,
) -> list[CustomerCase]:
    """Every customer's :class:`CustomerCase`, sorted by customer id."""
    return [
        case
        for page in iter_cases(
            session=session,
            pop=pop,
            horizon=horizon,
            entry_event_type=entry_event_type,
            contacts_since=contacts_since,
            with_purchases=with_purchases,
        )
        for case in page
    ]


def iter_cases(
    *,
    session: Session,
    pop: Population,
    horizon: datetime,
    entry_event_type: str | None,
    contacts_since: timedelta | None,
    page_size: int = PAGE,
    with_purchases: bool = True,
) -> Iterator[list[CustomerCase]]:
    """The cases in pages of ``page_size`` customers by id: the simulation of one page runs
    while the next is read. Each page is one query per table for all its customers."""
    ids = _ids(pop)
    entries: dict[str, list[datetime]] = defaultdict(list)
    if pop.segment_select is not None:
        for (cid,) in session.execute(ids):
            entries[cid].append(pop.start)
    else:
        runs = select(col(JourneyRun.customer_id), col(JourneyRun.entered_at)).where(
            *_run_filter(pop)
        )
        for cid, at in session.execute(runs):
            entries[cid].append(at)
    order = sorted(entries)
    for i in range(0, len(order), max(1, page_size)):
        page = order[i : i + page_size]
        yield _page(
            session, pop, entries, page, horizon, entry_event_type, contacts_since, with_purchases
        )


def _page(
    session: Session,
    pop: Population,
    entries: dict[str, list[datetime]],
    ids: list[str],
    horizon: datetime,
    entry_event_type: str | None,
    contacts_since: timedelta | None,
    with_purchases: bool,
) -> list[CustomerCase]:
    members = col(Customer.id).in_(ids)
    cases: dict[str, CustomerCase] = {}
    for row in session.execute(
        select(
            col(Customer.id),
            col(Customer.name),
            col(Customer.member_level),
            col(Customer.store_id),
            col(Customer.guide_id),
            col(Customer.tags),
            col(Customer.attributes),
            col(Customer.rfm_class),
            col(Customer.birthday),
            col(Customer.timezone),
            col(Customer.opted_out_channels),
            col(Customer.created_at),
            col(Customer.last_purchase_at),
        ).where(members)
    ):
        cid = row[0]
        if cid not in entries:
            continue
        cases[cid] = CustomerCase(
            facts=_facts(*row),
            entries=[Entry(at) for at in sorted(entries[cid])],
        )
    since = pop.start - LOOKBACK
    for cid, etype, props, at in session.execute(
        select(
            col(CustomerEvent.customer_id),
            col(CustomerEvent.type),
            col(CustomerEvent.properties),
            col(CustomerEvent.occurred_at),
        ).where(
            col(CustomerEvent.customer_id).in_(ids),
            col(CustomerEvent.occurred_at) >= since,
            col(CustomerEvent.occurred_at) <= horizon,
        )
    ):
        case = cases.get(cid)
        if case is not None:
            case.past_events.append((at, etype, props or {}))
    for cid, amount, at in session.execute(
        select(col(Order.customer_id), col(Order.amount), col(Order.created_at)).where(
            col(Order.customer_id).in_(ids),
            col(Order.created_at) >= pop.start,
            col(Order.created_at) <= horizon,
        )
    ):
        case = cases.get(cid)
        if case is not None:
            case.orders.append((at, float(amount)))
    if with_purchases:
        bought: dict[str, list[Purchase]] = {cid: [] for cid in cases}
        for cid, at, amount in session.execute(
            select(col(Order.customer_id), col(Order.created_at), col(Order.amount))
            .where(col(Order.customer_id).in_(ids), col(Order.created_at) <= horizon)
            .order_by(col(Order.customer_id), col(Order.created_at))
        ):
            if cid in bought:
                bought[cid].append(Purchase(at, float(amount)))
        for cid, case in cases.items():
            case.purchases = bought[cid]
    for cid, node, outcome, at in session.execute(
        select(
            col(GuideTask.customer_id),
            col(GuideTask.node_id),
            col(GuideTask.outcome),
            col(GuideTask.completed_at),
        ).where(
            col(GuideTask.journey_id) == pop.journey_id,
            col(GuideTask.outcome).is_not(None),
            col(GuideTask.completed_at).is_not(None),
            col(GuideTask.customer_id).in_(ids),
        )
    ):
        case = cases.get(cid)
        if case is not None and node and at is not None and at <= horizon:
            case.outcomes.append((at, node, outcome))
    if contacts_since is not None:
        for cid, channel, category, at in session.execute(
            select(
                col(ContactLedgerEntry.customer_id),
                col(ContactLedgerEntry.channel),
                col(ContactLedgerEntry.category),
                col(ContactLedgerEntry.at),
            ).where(
                col(ContactLedgerEntry.customer_id).in_(ids),
                col(ContactLedgerEntry.outcome) == "sent",
                col(ContactLedgerEntry.at) >= pop.start - contacts_since,
                col(ContactLedgerEntry.at) < pop.end,
            )
        ):
            case = cases.get(cid)
            if case is not None:
                case.contacts.append(Contact(at, channel, category))
    out = [cases[cid] for cid in sorted(cases)]
    for case in out:
        _finish(case, entry_event_type)
    return out


def chunks(cases: list[CustomerCase], size: int) -> Iterator[list[CustomerCase]]:
    """``cases`` in lists of ``size``."""
    for i in range(0, len(cases), size):
        yield cases[i : i + size]


def _finish(case: CustomerCase, entry_event_type: str | None) -> None:
    """Sort the history; give each entry the recorded event that brought the customer in."""
    case.past_events.sort(key=lambda e: e[0])
    case.orders.sort()
    case.outcomes.sort()
    if entry_event_type is None:
        return
    for entry in case.entries:
        found = None
        for at, etype, props in case.past_events:
            if at > entry.at:
                break
            if etype == entry_event_type and at >= entry.at - ENTRY_EVENT_SLACK:
                found = (etype, props)
        entry.event = found or (entry_event_type, {})


def _facts(
    cid: str,
    name: str,
    level: str,
    store_id: str | None,
    guide_id: str | None,
    tags: list[str] | None,
    attributes: dict[str, Any] | None,
    rfm_class: str | None,
    birthday: date | None,
    timezone: str,
    opted_out: list[str] | None,
    created_at: datetime | None,
    last_purchase_at: datetime | None,
) -> CustomerFacts:
    # the profile as it is now: the database keeps no history of levels or tags
    return CustomerFacts(
        customer_id=cid,
        name=name,
        member_level=level,
        store_id=store_id,
        guide_id=guide_id,
        tags=list(tags or []),
        attributes=dict(attributes or {}),
        rfm_class=rfm_class,
        birthday=birthday.isoformat() if birthday else None,
        timezone=timezone,
        opted_out_channels=list(opted_out or []),
        member_since=created_at.date().isoformat() if created_at else None,
        last_purchase_at=last_purchase_at.isoformat() if last_purchase_at else None,
    )

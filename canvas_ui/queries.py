"""Read-side lookups the UI needs that are not plain CRUD (kept out of ``db/``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from canvas_ui.diagnostics import node_labels
from canvas_ui.forms.render import ChoiceData
from canvas_ui.i18n import ngettext
from canvas_ui.placeholders import placeholder_groups, upstream_ids
from canvas_ui.summaries import CouponInfo, SummaryContext, node_meta
from db import crud
from db.models import Journey, JourneyRun, SegmentEnrollment
from db.models.customers import RFM_CLASSES
from engine.document_parts import CONTEXT_CONDITION_FIELDS
from engine.kinds import KINDS
from services import runs
from services.segments import draft_segment_trigger

#: Suggestions for event names (free text stays allowed: POS and apps send their own).
COMMON_EVENT_TYPES = (
    "purchase",
    "store_visit",
    "page_view",
    "add_to_cart",
    "coupon_redeemed",
    "coupon_expiring",
    "mini_program_visit",
    "wecom_reply",
    "birthday_month",
    # a customer's lifecycle stage moved (properties from / to: identify, develop, stable,
    # decline), e.g. filter to = decline
    "lifecycle_stage_changed",
)
#: Suggestions for customer tags seen in the field.
COMMON_TAGS = (
    "新客",
    "沉睡",
    "VIP",
    "孕期",
    "宝宝生日",
    "到店未购",
    "仅购一次",
    "高价值",
    "会员日",
)
#: Kinds whose recorded values a branch may compare (a coupon's redemption, a task's outcome,
#: points and balance, whether a step failed): each kind's ``SPEC.context_fields``.
CONTEXT_KINDS = tuple(
    kind.value
    for kind, spec in KINDS.items()
    if set(spec.context_fields) & set(CONTEXT_CONDITION_FIELDS)
)


def coupon_infos(*, session: Session) -> dict[str, CouponInfo]:
    """Coupon templates by id, as summaries show them."""
    return {
        t.id: CouponInfo(name=t.name, face_value=t.face_value, validity_days=t.validity_days)
        for t in crud.list_coupon_templates(session=session)
    }


def summary_context(*, session: Session) -> SummaryContext:
    """Everything :mod:`canvas_ui.summaries` may look up."""
    return SummaryContext(coupons=coupon_infos(session=session))


def choice_data(*, session: Session, document: Mapping[str, Any], node_id: str) -> ChoiceData:
    """Choices for the property panel of ``node_id`` in ``document``."""
    templates = crud.list_coupon_templates(session=session, active_only=True)
    coupons = [
        (
            t.id,
            f"{t.name} · ¥{t.face_value:g} · "
            + ngettext("%(num)d day", "%(num)d days", t.validity_days) % {"num": t.validity_days},
        )
        for t in templates
    ]
    labels = node_labels(document)
    return ChoiceData(
        coupons=coupons,
        rfm_classes=list(RFM_CLASSES.values()),
        steps=earlier_steps(document, node_id, labels, summary_context(session=session)),
        step_names=labels,
        event_types=list(COMMON_EVENT_TYPES),
        tags=list(COMMON_TAGS),
        segments=[(s.id, f"{s.name} · {s.id}") for s in crud.list_segments(session=session)],
        placeholders=placeholder_groups(document, node_id, labels),
    )


def earlier_steps(
    document: Mapping[str, Any], node_id: str, labels: Mapping[str, str], ctx: SummaryContext
) -> list[tuple[str, str]]:
    """What an "earlier step" picker of ``node_id`` offers: the steps of CONTEXT_KINDS with a
    path to it, nearest first, by label (a step downstream, or on a branch that never leads
    here, has recorded nothing yet: the compiler refuses it); steps sharing a label also show
    their summary line."""
    nodes = document.get("nodes")
    by_id = {
        str(n.get("id")): n
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict) and n.get("kind") in CONTEXT_KINDS
    }
    found = [by_id[i] for i in upstream_ids(document, node_id) if i in by_id]
    return distinct_names(found, labels, ctx)


def distinct_names(
    nodes: Sequence[Mapping[str, Any]], labels: Mapping[str, str], ctx: SummaryContext
) -> list[tuple[str, str]]:
    """``(id, name)`` of ``nodes`` by label (else their kind's name); where two share a name,
    their summary line tells them apart (“Wait · 3 days”, “Wait · 7 days”)."""
    names = [labels.get(str(n.get("id")), str(n.get("id"))) for n in nodes]
    out = []
    for node, name in zip(nodes, names, strict=True):
        if names.count(name) > 1:
            summary = node_meta(node, ctx)["summary"]
            name = f"{name} · {summary}" if summary else name
        out.append((str(node.get("id")), name))
    return out


@dataclass(frozen=True)
class StepChoice:
    """A step customers can be at, for "who is waiting here"."""

    node_id: str
    name: str
    waiting: int  # customers at it now


def journey_steps(*, session: Session, journey: Journey) -> list[StepChoice]:
    """The steps of the live version and of every version customers are still on (newest
    first, each step once, in the order of its version's document), by name, with how many
    customers are at each now. Empty for a journey never published."""
    numbers = runs.running_versions(session=session, journey_id=journey.id)
    if journey.live_version and journey.live_version not in numbers:
        numbers = sorted([*numbers, journey.live_version], reverse=True)
    waiting = runs.waiting_counts(session=session, journey_id=journey.id)
    ctx = summary_context(session=session)
    seen: set[str] = set()
    steps: list[StepChoice] = []
    for number in numbers:
        version = crud.get_version(session=session, journey_id=journey.id, version=number)
        if version is None:
            continue
        nodes = version.document.get("nodes")
        fresh = [
            n
            for n in (nodes if isinstance(nodes, list) else [])
            if isinstance(n, dict) and n.get("id") and str(n["id"]) not in seen
        ]
        for node_id, name in distinct_names(fresh, node_labels(version.document), ctx):
            seen.add(node_id)
            steps.append(StepChoice(node_id, name, waiting.get(node_id, 0)))
    return steps


@dataclass(frozen=True)
class WaitingHere:
    """Who is at one step of a published journey now (the editor's panel of that step)."""

    count: int
    first: list[runs.RunHit]  # the newest few


def waiting_here(
    *, session: Session, journey: Journey, node_id: str, limit: int = 5
) -> WaitingHere | None:
    """``None`` when no version customers are on has the step (a draft's new step)."""
    steps = {s.node_id: s for s in journey_steps(session=session, journey=journey)}
    if node_id not in steps:
        return None
    first = runs.waiting_at(session=session, journey_id=journey.id, node_id=node_id, limit=limit)
    return WaitingHere(steps[node_id].waiting, first)


def current_step_names(*, session: Session, runs: Iterable[JourneyRun]) -> dict[int, str]:
    """The name of the step each run is at (by run row id), from the version it runs on:
    its label, else its kind's name."""
    labels: dict[tuple[str, int], dict[str, str]] = {}
    names: dict[int, str] = {}
    for run in runs:
        if not run.current_node or run.id is None:
            continue
        key = (run.journey_id, run.journey_version)
        if key not in labels:
            version = crud.get_version(
                session=session, journey_id=run.journey_id, version=run.journey_version
            )
            labels[key] = node_labels(version.document) if version is not None else {}
        names[run.id] = labels[key].get(run.current_node, run.current_node)
    return names


def known_coupon_ids(*, session: Session) -> set[str]:
    """Ids of all coupon templates (what the compiler checks references against)."""
    return {t.id for t in crud.list_coupon_templates(session=session)}


@dataclass(frozen=True)
class SegmentEntryStatus:
    """A journey's segment entry as the editor and the enrollment page show it."""

    segment_id: str | None  # of the draft's entry; None = the draft does not enter by segment
    latest: SegmentEnrollment | None  # the latest pass, of any version

    @property
    def running(self) -> bool:
        return self.latest is not None and self.latest.status == "running"

    @property
    def percent(self) -> int:
        """Entered + skipped of total, 0..100."""
        latest = self.latest
        if latest is None or not latest.total:
            return 0
        return min(100, round(100 * (latest.entered + latest.skipped) / latest.total))


def segment_entry_status(
    *, session: Session, journey: Journey, enrollments: list[SegmentEnrollment] | None = None
) -> SegmentEntryStatus:
    """``enrollments``: the journey's passes, newest first, when the caller has read them."""
    if enrollments is None:
        enrollments = crud.list_enrollments(session=session, journey_id=journey.id, limit=1)
    trigger = draft_segment_trigger(journey.draft_document)
    return SegmentEntryStatus(
        str(trigger.get("segment_id")) if trigger else None,
        enrollments[0] if enrollments else None,
    )

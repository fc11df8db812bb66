"""Read-side lookups the UI needs that are not plain CRUD (kept out of ``db/``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from canvas_ui.diagnostics import node_labels
from canvas_ui.forms.render import ChoiceData
from canvas_ui.i18n import gettext
from canvas_ui.placeholders import placeholder_groups, upstream_ids
from canvas_ui.summaries import CouponInfo, SummaryContext, node_meta
from db import crud
from db.models import Journey, SegmentEnrollment
from db.models.customers import RFM_CLASSES
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
#: Kinds whose context (coupon expiry, task due time) later steps may refer to.
CONTEXT_KINDS = ("send_coupon", "assign_guide_task")


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
            + gettext("%(days)d days") % {"days": t.validity_days},
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
    """What an "earlier step" picker of ``node_id`` offers: the coupon and guide-task steps
    with a path to it, nearest first, by label (a step downstream, or on a branch that never
    leads here, has recorded nothing yet: the compiler refuses it); steps sharing a label
    also show their summary line."""
    nodes = document.get("nodes")
    by_id = {
        str(n.get("id")): n
        for n in (nodes if isinstance(nodes, list) else [])
        if isinstance(n, dict) and n.get("kind") in CONTEXT_KINDS
    }
    found = [by_id[i] for i in upstream_ids(document, node_id) if i in by_id]
    names = [labels.get(str(n["id"]), str(n["id"])) for n in found]
    steps = []
    for node, name in zip(found, names, strict=True):
        if names.count(name) > 1:
            summary = node_meta(node, ctx)["summary"]
            name = f"{name} · {summary}" if summary else name
        steps.append((str(node["id"]), name))
    return steps


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

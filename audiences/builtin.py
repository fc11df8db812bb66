"""Built-in segments: the audiences of the built-in journey templates, ready to use.

``seed_segments`` saves them with the demo chain; ``builtin_definition`` also recognises
the parametrised ids the templates produce (``dormant_<N>d``), so a template-made journey
publishes without someone building its segment first (``services.segments`` creates a
missing built-in segment at publish).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from db import crud
from db.models import SegmentCreate
from engine.rfm import IMPORTANT_CLASSES

_DORMANT = re.compile(r"^dormant_(\d{1,3})d$")


@dataclass(frozen=True)
class BuiltinSegment:
    id: str
    name: str  # Chinese: what HQ marketers read
    description: str
    definition: dict[str, Any]


def _dormant(days: int) -> BuiltinSegment:
    return BuiltinSegment(
        f"dormant_{days}d",
        f"沉睡{days}天客户",
        f"Bought before, but not in the last {days} days (沉睡唤醒).",
        {
            "match": "all",
            "rules": [{"type": "field", "field": "r_days", "op": "gte", "value": days}],
        },
    )


BUILTIN: tuple[BuiltinSegment, ...] = (
    _dormant(60),
    _dormant(90),
    _dormant(180),
    BuiltinSegment(
        "birthday_this_month",
        "本月生日",
        "Birthday in the current month, in the chain's time zone (生日关怀).",
        {
            "rules": [
                {"type": "field", "field": "birthday_month", "op": "eq", "value": "this_month"}
            ]
        },
    ),
    BuiltinSegment(
        "new_buyers_7d",
        "本周首购新客",
        "First purchase within 7 days and only one purchase so far (新客二回).",
        {
            "match": "all",
            "rules": [
                {"type": "field", "field": "first_purchase_days", "op": "lte", "value": 6},
                {"type": "field", "field": "purchases_count", "op": "eq", "value": 1},
            ],
        },
    ),
    BuiltinSegment(
        "browsed_no_purchase_14d",
        "浏览未购潜客",
        "Browsed in the last 14 days and never bought (潜客激活).",
        {
            "match": "all",
            "rules": [
                {
                    "type": "event",
                    "event_type": "browse",
                    "window_days": 14,
                    "op": "gte",
                    "value": 1,
                },
                {"type": "field", "field": "purchases_count", "op": "eq", "value": 0},
            ],
        },
    ),
    BuiltinSegment(
        "important_dormant_60d",
        "重要客户60天未回",
        "Important RFM classes without a purchase for 60+ days: a call from their guide.",
        {
            "match": "all",
            "rules": [
                {
                    "type": "field",
                    "field": "rfm_class",
                    "op": "in",
                    "value": list(IMPORTANT_CLASSES),
                },
                {"type": "field", "field": "r_days", "op": "gte", "value": 60},
            ],
        },
    ),
)

_BY_ID = {s.id: s for s in BUILTIN}


def builtin_segment(segment_id: str) -> BuiltinSegment | None:
    """The built-in segment ``segment_id`` names (``dormant_<N>d`` for any N ≤ 730)."""
    found = _BY_ID.get(segment_id)
    if found is not None:
        return found
    match = _DORMANT.match(segment_id)
    if match and 1 <= int(match.group(1)) <= 730:
        return _dormant(int(match.group(1)))
    return None


def ensure_segment(*, session: Session, segment: BuiltinSegment, by: str = "system") -> bool:
    """Save ``segment`` unless a segment with its id exists; → True when created."""
    if crud.get_segment(session=session, segment_id=segment.id) is not None:
        return False
    crud.create_segment(
        session=session,
        segment_create=SegmentCreate(
            id=segment.id,
            name=segment.name,
            description=segment.description,
            definition=segment.definition,
        ),
        by=by,
    )
    return True


def seed_segments(*, session: Session) -> int:
    """Save every built-in segment that is missing; → how many were created."""
    return sum(ensure_segment(session=session, segment=s) for s in BUILTIN)


def prepare_demo(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    """After the demo seed: build ``customer_metrics`` (if empty) and save the built-in
    segments; → ``{"metrics_rows": …, "segments_created": …}``."""
    from sqlalchemy import func, select

    from audiences.metrics import rebuild_metrics
    from db.models import CustomerMetrics, utcnow

    rows = int(session.execute(select(func.count()).select_from(CustomerMetrics)).scalar_one())
    if rows == 0:
        rows = rebuild_metrics(session=session, now=now or utcnow())[0]
    return {"metrics_rows": rows, "segments_created": seed_segments(session=session)}

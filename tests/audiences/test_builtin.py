"""The demo chain gives every built-in segment a real audience, and the segment-entered
templates (沉睡唤醒, 生日关怀) publish and find theirs; 新客二回 and 潜客激活 audiences exist
as segments too."""

from __future__ import annotations

from sqlmodel import Session

from audiences.builtin import BUILTIN, prepare_demo
from db import crud
from db.models import JourneyCreate
from db.seed import seed_demo
from services import segments
from services.journeys import publish
from templates_lib import instantiate


def test_demo_data_fills_every_builtin_segment(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=3000)
    assert prepare_demo(session=session) == {"metrics_rows": 3000, "segments_created": len(BUILTIN)}
    sizes = {}
    for builtin in BUILTIN:
        segment = crud.get_segment(session=session, segment_id=builtin.id)
        assert segment is not None
        sizes[builtin.id] = segments.preview(session=session, definition=segment.definition).count
    assert all(n > 0 for n in sizes.values()), sizes
    assert sizes["dormant_60d"] > sizes["dormant_90d"] > sizes["dormant_180d"]
    assert prepare_demo(session=session)["segments_created"] == 0  # idempotent


def test_segment_templates_publish_with_their_audience(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=1500)
    prepare_demo(session=session)
    for template_id, segment_id in (
        ("dormant_wakeup", "dormant_90d"),
        ("birthday_care", "birthday_this_month"),
    ):
        document = instantiate(template_id)
        journey = crud.create_journey(
            session=session,
            journey_create=JourneyCreate(name=document["name"], draft_document=document),
            by="test",
        )
        assert publish(session=session, journey_id=journey.id, by="test").ok
        used = segments.where_used(session=session, segment_id=segment_id)
        assert journey.id in {u.journey_id for u in used}
        segment = crud.get_segment(session=session, segment_id=segment_id)
        assert segment is not None
        assert segments.preview(session=session, definition=segment.definition).count > 0


def test_template_with_other_dormant_days_gets_its_segment(session: Session) -> None:
    seed_demo(session_or_engine=session, customers=300)
    document = instantiate("dormant_wakeup", {"dormant_days": 120})
    assert crud.get_segment(session=session, segment_id="dormant_120d") is None
    journey = crud.create_journey(
        session=session,
        journey_create=JourneyCreate(name=document["name"], draft_document=document),
        by="test",
    )
    assert publish(session=session, journey_id=journey.id, by="test").ok
    made = crud.get_segment(session=session, segment_id="dormant_120d")
    assert made is not None and made.definition["rules"][0]["value"] == 120

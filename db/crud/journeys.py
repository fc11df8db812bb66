"""Journeys: drafts, status changes and immutable published versions."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from db.crud._util import aware, read_back
from db.crud.audit import add_entry
from db.crud.runs import run_counts
from db.errors import InvalidStatusError, NotFoundError
from db.models import (
    JOURNEY_STATUSES,
    Journey,
    JourneyCreate,
    JourneyListItem,
    JourneyPublic,
    JourneyUpdate,
    JourneyVersion,
    utcnow,
)
from engine.document_diff import diff_counts, diff_documents, diff_summary


def new_journey_id(name: str) -> str:
    """A readable unique id: the ASCII words of ``name`` plus 8 hex digits (``wake-up-3f9a…``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "journey"
    return f"{slug}-{uuid.uuid4().hex[:8]}"


def create_journey(
    *, session: Session, journey_create: JourneyCreate, by: str, at: datetime | None = None
) -> Journey:
    """Insert a draft journey created by user ``by``."""
    now = at or utcnow()
    journey = Journey(
        id=new_journey_id(journey_create.name),
        name=journey_create.name,
        description=journey_create.description,
        status="draft",
        draft_document=journey_create.draft_document,
        created_at=now,
        updated_at=now,
        created_by=by,
        updated_by=by,
        source_template_id=journey_create.source_template_id,
        source_journey_id=journey_create.source_journey_id,
        source_version=journey_create.source_version,
    )
    session.add(journey)
    add_entry(
        session,
        actor=by,
        action="create",
        object_type="journey",
        object_id=journey.id,
        after={
            "name": journey.name,
            "source_template_id": journey.source_template_id,
            "source_journey_id": journey.source_journey_id,
        },
        summary=journey.name,
        at=now,
    )
    session.commit()
    read_back(session, journey)
    return journey


def get_journey(*, session: Session, journey_id: str) -> Journey | None:
    """The journey ``journey_id``, or ``None``."""
    return session.get(Journey, journey_id)


def get_journeys(*, session: Session, journey_ids: Sequence[str]) -> list[Journey]:
    """The journeys among ``journey_ids`` that exist (one query, any order)."""
    if not journey_ids:
        return []
    return list(session.exec(select(Journey).where(col(Journey.id).in_(list(journey_ids)))))


def all_journeys(*, session: Session) -> list[Journey]:
    """Every journey, archived ones too, most recently updated first (for scans such as
    segment usage)."""
    return list(session.exec(select(Journey).order_by(col(Journey.updated_at).desc())))


def list_journeys(
    *,
    session: Session,
    status: str | None = None,
    search: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[JourneyListItem]:
    """Journeys, most recently updated first, each with its running/entered/goal counts.

    ``search`` matches the name, description or id (case-insensitive substring). Archived
    journeys are listed only when asked for by ``status="archived"``.
    """
    stmt = select(Journey)
    if status is not None:
        stmt = stmt.where(Journey.status == status)
    else:
        stmt = stmt.where(Journey.status != "archived")
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(col(Journey.name)).like(pattern),
                func.lower(col(Journey.description)).like(pattern),
                func.lower(col(Journey.id)).like(pattern),
            )
        )
    stmt = stmt.order_by(col(Journey.updated_at).desc()).offset(offset).limit(limit)
    journeys = list(session.exec(stmt))
    counts = run_counts(session=session, journey_ids=[j.id for j in journeys])
    items = []
    for journey in journeys:
        c = counts.get(journey.id)
        items.append(
            JourneyListItem(
                **JourneyPublic.model_validate(journey).model_dump(),
                running=c.running if c else 0,
                entered=c.entered if c else 0,
                goal_reached=c.goal_reached if c else 0,
            )
        )
    return items


def update_journey(
    *, session: Session, journey_id: str, journey_update: JourneyUpdate, by: str
) -> Journey:
    """Rename or re-describe a journey."""
    journey = _require(session, journey_id)
    journey.sqlmodel_update(journey_update.model_dump(exclude_unset=True))
    return _touch_and_save(session, journey, by)


def update_draft(
    *, session: Session, journey_id: str, document: dict[str, Any], by: str
) -> Journey:
    """Replace the editable draft document (published versions are unaffected).

    The journey's name/description follow the document's, when it has them.
    """
    journey = _require(session, journey_id)
    # every save is in the log with what it changed in steps (not the whole document)
    diff = diff_documents(journey.draft_document, document)
    add_entry(
        session,
        actor=by,
        action="save",
        object_type="journey",
        object_id=journey_id,
        after=diff_counts(diff),
        summary=diff_summary(diff),
    )
    journey.draft_document = document
    if document.get("name"):
        journey.name = str(document["name"])
    if "description" in document:
        journey.description = str(document.get("description") or "")
    return _touch_and_save(session, journey, by)


def set_status(*, session: Session, journey_id: str, status: str, by: str) -> Journey:
    """Set the journey's status (one of ``JOURNEY_STATUSES``)."""
    if status not in JOURNEY_STATUSES:
        raise InvalidStatusError("journey status", status, JOURNEY_STATUSES)
    journey = _require(session, journey_id)
    if journey.status != status:
        add_entry(
            session,
            actor=by,
            action=_STATUS_ACTIONS.get((journey.status, status), "update"),
            object_type="journey",
            object_id=journey_id,
            before={"status": journey.status},
            after={"status": status},
            summary=f"{journey.name}: {journey.status} → {status}",
        )
    journey.status = status
    return _touch_and_save(session, journey, by)


#: (from, to) status → the audit log's action.
_STATUS_ACTIONS = {
    ("live", "paused"): "pause",
    ("paused", "live"): "resume",
    ("draft", "archived"): "archive",
    ("paused", "archived"): "archive",
    ("archived", "draft"): "restore",
    ("archived", "paused"): "restore",
}


def publish_version(
    *,
    session: Session,
    journey_id: str,
    document: dict[str, Any],
    compiled: dict[str, Any],
    content_hash: str,
    by: str,
    at: datetime | None = None,
    make_live: bool = True,
) -> JourneyVersion:
    """Write the next version (1, 2, ...) of ``journey_id`` and point ``live_version`` at it.

    With ``make_live`` the journey's status becomes ``live``. Two concurrent publishes cannot
    both get the same number: the (journey_id, version) unique constraint rejects the second,
    which the caller may retry.
    """
    journey = _require(session, journey_id)
    current = session.exec(
        select(func.max(JourneyVersion.version)).where(JourneyVersion.journey_id == journey_id)
    ).one()
    now = at or utcnow()
    version = JourneyVersion(
        journey_id=journey_id,
        version=(current or 0) + 1,
        document=document,
        compiled=compiled,
        content_hash=content_hash,
        published_at=now,
        published_by=by,
    )
    status_before = journey.status
    journey.live_version = version.version
    if make_live:
        journey.status = "live"
    journey.updated_at = now
    journey.updated_by = by
    session.add(version)
    session.add(journey)
    add_entry(
        session,
        actor=by,
        action="publish",
        object_type="journey",
        object_id=journey_id,
        before={"live_version": current, "status": status_before},
        after={"live_version": version.version, "status": journey.status},
        summary=f"{journey.name}: version {version.version} live",
        at=now,
    )
    session.commit()
    read_back(session, version)
    return version


def get_version(*, session: Session, journey_id: str, version: int) -> JourneyVersion | None:
    """Version ``version`` of ``journey_id``, or ``None``."""
    stmt = select(JourneyVersion).where(
        JourneyVersion.journey_id == journey_id, JourneyVersion.version == version
    )
    return session.exec(stmt).first()


def list_versions(*, session: Session, journey_id: str) -> list[JourneyVersion]:
    """All published versions of ``journey_id``, newest first."""
    stmt = (
        select(JourneyVersion)
        .where(JourneyVersion.journey_id == journey_id)
        .order_by(col(JourneyVersion.version).desc())
    )
    return list(session.exec(stmt))


def _require(session: Session, journey_id: str) -> Journey:
    journey = session.get(Journey, journey_id)
    if journey is None:
        raise NotFoundError("journey", journey_id)
    return journey


def _touch_and_save(session: Session, journey: Journey, by: str) -> Journey:
    journey.updated_at = utcnow()
    journey.updated_by = by
    session.add(journey)
    session.commit()
    read_back(session, journey)
    return journey


def entry_window_closed(journey: Journey, now: datetime) -> str | None:
    """Why the journey's campaign window keeps customers out at ``now`` (``None``: open).
    Checked by every entry path (events, the enroll API, segment passes), so a late or
    missed schedule tick never lets anyone in outside the window."""
    starts_at, ends_at = aware(journey.starts_at), aware(journey.ends_at)
    if starts_at is not None and now < starts_at:
        return f"campaign starts at {starts_at.isoformat()}"
    if ends_at is not None and now >= ends_at:
        return f"campaign ended at {ends_at.isoformat()}"
    return None


def set_campaign_dates(
    *,
    session: Session,
    journey_id: str,
    starts_at: datetime | None,
    ends_at: datetime | None,
    by: str,
) -> Journey:
    """Store the campaign's entry window (validated by ``services.campaign``), recorded in
    the audit log with the dates before and after."""
    journey = _require(session, journey_id)
    before = _dates(journey.starts_at, journey.ends_at)
    after = _dates(starts_at, ends_at)
    if before != after:
        add_entry(
            session,
            actor=by,
            action="campaign",
            object_type="journey",
            object_id=journey_id,
            before=before,
            after=after,
            summary=f"{journey.name}: entry window",
        )
    journey.starts_at, journey.ends_at = starts_at, ends_at
    return _touch_and_save(session, journey, by)


def _dates(starts_at: datetime | None, ends_at: datetime | None) -> dict[str, str | None]:
    start, end = aware(starts_at), aware(ends_at)
    return {
        "starts_at": start.isoformat() if start else None,
        "ends_at": end.isoformat() if end else None,
    }

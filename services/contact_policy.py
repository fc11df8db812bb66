"""The contact policy page's use cases: read the policy with the guides' daily capacity and
the change log, and change it (admin / HQ only, see ``canvas_ui.access``).

Every input is checked here and refused with :class:`PolicyInputError` naming the field
(``quiet_hours.end``, ``caps[1].window_days`` …), which the page and the API turn into a 422.
A change is read by the next contact check of every run (``db.crud.contact_policy``): runs
already waiting meet the new policy at their next action; an action already sent stays sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, select

from db.crud import contact_policy as crud
from db.models import Guide
from db.models.contact_policy import ContactPolicyRow, PolicyChange
from engine.contact_policy import (
    CAP_CATEGORIES,
    CAP_CHANNELS,
    MAX_CAP_CONTACTS,
    MAX_CAP_WINDOW_DAYS,
    parse_hhmm,
)
from engine.kinds.award_points import MAX_POINTS_PER_STEP_CEILING

#: A cap's id: what the run view and the ledger name it by.
_CAP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
MAX_CAPS = 20
MAX_GUIDE_CAPACITY = 500


class PolicyInputError(ValueError):
    """Bad policy input; ``field`` names it as the form and the API do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass
class CapIn:
    id: str
    channel: str
    max_contacts: int
    window_days: int
    category: str = "all"


@dataclass
class PolicyIn:
    """The whole policy as a form or the API sends it (empty quiet hours: none)."""

    quiet_start: str = ""
    quiet_end: str = ""
    fallback_timezone: str = ""
    caps: list[CapIn] = field(default_factory=list)


@dataclass
class PolicyView:
    policy: ContactPolicyRow
    guides: list[Guide]
    changes: list[PolicyChange]


def view(*, session: Session) -> PolicyView:
    """The policy, every active guide's daily capacity (by store) and the latest changes."""
    guides = session.exec(
        select(Guide).where(col(Guide.active)).order_by(col(Guide.store_id), col(Guide.id))
    ).all()
    return PolicyView(
        policy=crud.get_policy_row(session=session),
        guides=list(guides),
        changes=crud.list_changes(session=session),
    )


def checked(policy: PolicyIn) -> tuple[str | None, str | None, str | None, list[dict[str, Any]]]:
    """``policy`` validated: ``(quiet_start, quiet_end, fallback zone, caps)``."""
    start, end = policy.quiet_start.strip(), policy.quiet_end.strip()
    if bool(start) != bool(end):
        missing = "quiet_hours.end" if start else "quiet_hours.start"
        raise PolicyInputError(missing, "give both a start and an end, or neither (no quiet hours)")
    for name, value in (("quiet_hours.start", start), ("quiet_hours.end", end)):
        if value:
            try:
                parse_hhmm(value)
            except ValueError as exc:
                raise PolicyInputError(name, "use HH:MM, 00:00 to 23:59") from exc
    if start and parse_hhmm(start) == parse_hhmm(end):
        raise PolicyInputError(
            "quiet_hours.end", f"quiet hours start and end at the same time ({start})"
        )
    zone = policy.fallback_timezone.strip()
    if zone:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise PolicyInputError(
                "fallback_timezone", f"unknown time zone {zone!r}; use an IANA name"
            ) from exc
    if len(policy.caps) > MAX_CAPS:
        raise PolicyInputError("caps", f"at most {MAX_CAPS} caps")
    caps: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, cap in enumerate(policy.caps):
        where = f"caps[{i}]"
        if not _CAP_ID.match(cap.id):
            raise PolicyInputError(
                f"{where}.id", "1–40 lower-case letters, digits, '_' or '-', starting with one"
            )
        if cap.id in seen:
            raise PolicyInputError(f"{where}.id", f"two caps are called {cap.id!r}")
        seen.add(cap.id)
        if cap.channel not in CAP_CHANNELS:
            raise PolicyInputError(f"{where}.channel", f"one of {', '.join(CAP_CHANNELS)}")
        if cap.category not in CAP_CATEGORIES:
            raise PolicyInputError(f"{where}.category", f"one of {', '.join(CAP_CATEGORIES)}")
        if not 1 <= cap.max_contacts <= MAX_CAP_CONTACTS:
            raise PolicyInputError(
                f"{where}.max_contacts", f"between 1 and {MAX_CAP_CONTACTS} (a cap of 0 blocks all)"
            )
        if not 1 <= cap.window_days <= MAX_CAP_WINDOW_DAYS:
            raise PolicyInputError(
                f"{where}.window_days", f"between 1 and {MAX_CAP_WINDOW_DAYS} days"
            )
        caps.append(
            {
                "id": cap.id,
                "channel": cap.channel,
                "max_contacts": cap.max_contacts,
                "window_days": cap.window_days,
                "category": cap.category,
            }
        )
    return start or None, end or None, zone or None, caps


def save(*, session: Session, policy: PolicyIn, by: str) -> list[PolicyChange]:
    """Validate and store ``policy``; each change recorded (who, when, old → new)."""
    quiet_start, quiet_end, zone, caps = checked(policy)
    return crud.save_policy(
        session=session,
        quiet_start=quiet_start,
        quiet_end=quiet_end,
        fallback_timezone=zone,
        caps=caps,
        by=by,
    )


def current(*, session: Session) -> PolicyIn:
    """The stored policy as input (the page's forms edit one part and keep the rest)."""
    row = crud.get_policy_row(session=session)
    return PolicyIn(
        quiet_start=row.quiet_start or "",
        quiet_end=row.quiet_end or "",
        fallback_timezone=row.fallback_timezone or "",
        caps=[
            CapIn(
                id=str(c["id"]),
                channel=str(c["channel"]),
                max_contacts=int(c["max_contacts"]),
                window_days=int(c["window_days"]),
                category=str(c.get("category", "all")),
            )
            for c in row.caps
        ],
    )


def set_guide_capacity(
    *, session: Session, guide_id: str, capacity: int, by: str
) -> PolicyChange | None:
    """Set a guide's daily task capacity (0: no limit), recorded with the policy changes."""
    if not 0 <= capacity <= MAX_GUIDE_CAPACITY:
        raise PolicyInputError(
            f"capacity-{guide_id}", f"between 0 (no limit) and {MAX_GUIDE_CAPACITY}"
        )
    try:
        return crud.set_guide_capacity(session=session, guide_id=guide_id, capacity=capacity, by=by)
    except KeyError as exc:
        raise PolicyInputError(f"capacity-{guide_id}", "no such guide") from exc


def max_points_per_step(*, session: Session) -> int:
    """The chain's most points one award_points step may give (the policy row)."""
    return crud.get_policy_row(session=session).max_points_per_step


def set_max_points_per_step(*, session: Session, most: int, by: str) -> PolicyChange | None:
    """Set the chain's most points one award_points step may give (1 – 1,000,000), recorded
    with the policy changes. Journeys are checked against it when they are next compiled (a
    save, a publish, a test run); versions already live keep running as published."""
    if not 1 <= most <= MAX_POINTS_PER_STEP_CEILING:
        raise PolicyInputError(
            "max_points_per_step", f"between 1 and {MAX_POINTS_PER_STEP_CEILING:,}"
        )
    return crud.set_policy_setting(session=session, name="max_points_per_step", value=most, by=by)

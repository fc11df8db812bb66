"""Priority groups (issue 15 item 3, 去重 + 优先级): journeys join a group with a priority;
a customer is in at most one journey of a group at a time (the seat says which)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow

#: What a group does when a journey of higher priority wants a customer already in a
#: lower one: refuse the newcomer, or stop the lower run and let the newcomer in.
GROUP_POLICIES = ("block", "preempt")


class JourneyGroup(SQLModel, table=True):
    __tablename__ = "journey_group"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=80, unique=True)
    policy: str = Field(default="block", max_length=16)  # GROUP_POLICIES
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    created_by: str = Field(default="", max_length=64)


class JourneyGroupMember(SQLModel, table=True):
    """A journey's place in its group (a journey is in one group at most). Priority 1 is the
    highest; two journeys of one group never share a priority."""

    __tablename__ = "journey_group_member"
    __table_args__ = (
        UniqueConstraint("group_id", "priority", name="uq_journey_group_member_priority"),
    )

    journey_id: str = Field(primary_key=True, foreign_key="journey.id", max_length=64)
    group_id: int = Field(foreign_key="journey_group.id", index=True)
    priority: int


class JourneyGroupSeat(SQLModel, table=True):
    """Which run holds a customer's place in a group: the workflow of the journey that last
    took it. The seat is free when that workflow has no running row any more (ended,
    stopped, or its start failed), so nothing has to clear it when a run ends."""

    __tablename__ = "journey_group_seat"

    group_id: int = Field(primary_key=True, foreign_key="journey_group.id")
    customer_id: str = Field(primary_key=True, max_length=32)
    journey_id: str = Field(max_length=64)
    workflow_id: str = Field(max_length=255)
    #: The holder this one stopped to take the seat, given back if the newcomer's start fails.
    preempted_workflow_id: str | None = Field(default=None, max_length=255)
    preempted_journey_id: str | None = Field(default=None, max_length=64)
    taken_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)

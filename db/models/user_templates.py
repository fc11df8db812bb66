"""Journey templates saved by users ("save as template"), shown in the gallery beside the
built-ins. Owned by the user who saved them: only the owner edits or deletes one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from db.models._base import JSONType, UTCDateTime, utcnow


class UserTemplateBase(SQLModel):
    name: str = Field(max_length=120)
    description: str = Field(default="", max_length=2000)
    goal: str = Field(default="", max_length=200)


class UserTemplateCreate(UserTemplateBase):
    document: dict[str, Any] = Field(default_factory=dict)
    source_journey_id: str | None = None
    source_version: int | None = None


class UserTemplateUpdate(SQLModel):
    name: str | None = Field(default=None, max_length=120)
    description: str | None = Field(default=None, max_length=2000)
    goal: str | None = Field(default=None, max_length=200)


class UserTemplate(UserTemplateBase, table=True):
    __tablename__ = "user_template"

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=64, index=True)
    document: dict[str, Any] = Field(default_factory=dict, sa_type=JSONType)
    source_journey_id: str | None = Field(default=None, max_length=64)
    source_version: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class UserTemplatePublic(UserTemplateBase):
    id: str
    owner: str
    source_journey_id: str | None
    source_version: int | None
    created_at: datetime
    updated_at: datetime

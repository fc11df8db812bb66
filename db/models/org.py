"""The chain's organisation: regions, stores and the guides who work in them."""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from db.models import _base  # noqa: F401  (naming convention before any table)

GUIDE_ROLES = ("guide", "store_manager")
#: What happens to a task when its guide's daily capacity is full (db.assignment).
OVERFLOW_POLICIES = ("next_day", "other_guide_same_store")


class Region(SQLModel, table=True):
    __tablename__ = "region"

    id: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)


class StoreBase(SQLModel):
    region_id: str = Field(foreign_key="region.id", index=True, max_length=32)
    name: str = Field(max_length=120)
    city: str = Field(max_length=64)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    # No foreign key: guide.store_id already points here, and a cycle would force
    # ALTER-after-create in migrations. The seed and crud keep it consistent.
    manager_guide_id: str | None = Field(default=None, max_length=32)
    task_overflow_policy: str = Field(default="next_day", max_length=32)  # OVERFLOW_POLICIES


class Store(StoreBase, table=True):
    __tablename__ = "store"

    id: str = Field(primary_key=True, max_length=32)


class StorePublic(StoreBase):
    id: str


class GuideBase(SQLModel):
    store_id: str = Field(foreign_key="store.id", index=True, max_length=32)
    name: str = Field(max_length=64)
    phone: str = Field(default="", max_length=32)
    role: str = Field(default="guide", max_length=16)  # one of GUIDE_ROLES
    daily_capacity: int = 30
    active: bool = True


class Guide(GuideBase, table=True):
    __tablename__ = "guide"

    id: str = Field(primary_key=True, max_length=32)
    #: The guide's WeCom member id (``userid``): where their task notices are pushed, and the
    #: sender of WeCom messages to their customers.
    wecom_userid: str | None = Field(default=None, index=True, max_length=64)


class GuidePublic(GuideBase):
    id: str

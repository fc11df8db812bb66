"""Accounts of the people who use the web app, and their login sessions.

Roles (widest first): ``admin`` (everything, including accounts), ``hq`` (HQ marketer: every
journey, store and task), ``store_manager`` (one store: ``store_id``), ``guide`` (their own
tasks and customers: ``guide_id``). A store manager or guide account is linked to the
:class:`~db.models.org.Guide` row they are in the organisation.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime, utcnow

ACCOUNT_ROLES = ("admin", "hq", "store_manager", "guide")


class UserAccountBase(SQLModel):
    username: str = Field(unique=True, max_length=64)
    display_name: str = Field(default="", max_length=64)
    role: str = Field(max_length=16)  # one of ACCOUNT_ROLES
    guide_id: str | None = Field(default=None, foreign_key="guide.id", max_length=32)
    store_id: str | None = Field(default=None, foreign_key="store.id", max_length=32)
    active: bool = True


class UserAccount(UserAccountBase, table=True):
    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    #: Where the message panel's "send a test to me" goes (issue 16), per channel; empty:
    #: the linked guide's phone, else the test send says what to fill in.
    phone: str = Field(default="", max_length=32)
    wecom_userid: str = Field(default="", max_length=64)
    #: the sender's own openid under the official account (WeChat template / subscribe tests)
    wechat_openid: str = Field(default="", max_length=64)
    email: str = Field(default="", max_length=254)
    password_hash: str = Field(max_length=255)  # argon2id, see services.accounts
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: Extra permissions granted on top of the role, space-separated (``approve_journeys``:
    #: an HQ lead who signs off launches; see services.accounts.PERMISSIONS).
    permissions: str = Field(default="", max_length=200)


class UserAccountPublic(UserAccountBase):
    id: int


class UserSession(SQLModel, table=True):
    """One login. The cookie carries a signed random token; only its SHA-256 is stored, so a
    database leak does not hand out live sessions. Logout deletes the row."""

    __tablename__ = "user_session"

    id: str = Field(primary_key=True, max_length=64)  # sha256 hex of the token
    user_id: int = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)

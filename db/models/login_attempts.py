"""Sign-in attempts, counted per account and per client for login throttling.

In the database (not in a process's memory) so every web process and a restart see the same
counts. The key is the SHA-256 of ``account:<username>`` or ``client:<address>``: the table
never holds what someone typed into the username field (sometimes their password) nor
addresses in clear. Rows older than the throttling window are pruned as logins go by.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from db.models._base import UTCDateTime


class LoginAttempt(SQLModel, table=True):
    """One attempt against one key. A failed attempt stays until it ages out of the window;
    a successful one is deleted (with the account's earlier failures)."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_key_at", "key", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64)  # sha256 hex, see services.login_throttle
    at: datetime = Field(sa_type=UTCDateTime, index=True)
